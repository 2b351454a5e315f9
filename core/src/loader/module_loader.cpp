#include "loader/module_loader.hpp"

#include <dlfcn.h>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

namespace villagebot::loader {

void LibraryCloser::operator()(void* handle) const noexcept {
  if (handle != nullptr) dlclose(handle);
}

namespace {

std::string last_dlerror() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown dynamic loader error";
}

LibraryHandle open_library(const std::string& what, const std::string& file) {
  if (!std::filesystem::exists(file))
    throw StartupError(what + ": library not found at " + file + " (check [plugins] dir, or build it)");
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw StartupError(what + ": cannot load " + file + ": " + last_dlerror());
  return LibraryHandle(handle);
}

template <class Descriptor>
const Descriptor* find_descriptor(const std::string& what, const std::string& file, void* library, const char* symbol) {
  dlerror();
  void* entry = dlsym(library, symbol);
  if (entry == nullptr)
    throw StartupError(what + ": " + file + " is not a villagebot module (no " + symbol +
                       " entry point: " + last_dlerror() + ")");
  using Entry = const Descriptor* (*)();
  const Descriptor* d = reinterpret_cast<Entry>(entry)();
  if (d == nullptr || d->abi_key == nullptr) throw StartupError(what + ": " + file + " returned no descriptor");
  // Compared before anything else in the library is called.
  if (std::string_view(d->abi_key) != VILLAGEBOT_ABI_KEY)
    throw StartupError(what + ": " + file + " was built against a different villagebot SDK (ABI key " + d->abi_key +
                       ", this server has " + VILLAGEBOT_ABI_KEY + "): rebuild it against this version");
  return d;
}

}  // namespace

std::string plugin_file(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / ("villagebot_plugin_" + name + ".so")).string();
}

std::string adapter_file(const std::string& dir, const std::string& type) {
  std::string t = type;
  for (char& c : t)
    if (c == '-') c = '_';
  return (std::filesystem::path(dir) / ("villagebot_adapter_" + t + ".so")).string();
}

std::vector<LoadedPlugin> load_plugins(const std::string& dir, const std::vector<std::string>& names) {
  struct Candidate {
    LoadedPlugin plugin;
    const PluginDescriptor* descriptor = nullptr;
  };
  std::map<std::string, Candidate> candidates;
  for (const auto& name : names) {
    const std::string what = "plugin '" + name + "'";
    Candidate c;
    c.plugin.file = plugin_file(dir, name);
    c.plugin.library = open_library(what, c.plugin.file);
    c.descriptor =
        find_descriptor<PluginDescriptor>(what, c.plugin.file, c.plugin.library.get(), "villagebot_plugin_v1");
    if (c.descriptor->name == nullptr || name != c.descriptor->name)
      throw StartupError(what + ": " + c.plugin.file + " calls itself '" +
                         (c.descriptor->name != nullptr ? c.descriptor->name : "") + "'");
    c.plugin.name = name;
    c.plugin.version = c.descriptor->version != nullptr ? c.descriptor->version : "";
    for (const char* const* d = c.descriptor->dependencies; d != nullptr && *d != nullptr; ++d)
      c.plugin.dependencies.emplace_back(*d);
    candidates.emplace(name, std::move(c));
  }
  for (const auto& [name, c] : candidates)
    for (const auto& dep : c.plugin.dependencies)
      if (!candidates.contains(dep))
        throw StartupError("plugin '" + name + "' needs plugin '" + dep +
                           "', which is not enabled (add it to [plugins] enabled)");

  // Depth-first topological order; a back edge is a cycle, reported as a path.
  std::vector<std::string> order;
  std::map<std::string, int> state;  // 0 new, 1 visiting, 2 done
  std::vector<std::string> stack;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    if (state[n] == 2) return;
    if (state[n] == 1) {
      std::string cycle;
      bool in = false;
      for (const auto& s : stack) {
        if (s == n) in = true;
        if (in) cycle += s + " -> ";
      }
      throw StartupError("plugins depend on each other in a cycle: " + cycle + n);
    }
    state[n] = 1;
    stack.push_back(n);
    for (const auto& dep : candidates.at(n).plugin.dependencies) visit(dep);
    stack.pop_back();
    state[n] = 2;
    order.push_back(n);
  };
  for (const auto& name : names) visit(name);

  std::vector<LoadedPlugin> loaded;
  for (const auto& name : order) {
    auto& c = candidates.at(name);
    std::array<char, 512> error{};
    Plugin* p = c.descriptor->create(error.data(), error.size());
    if (p == nullptr)
      throw StartupError("plugin '" + name +
                         "': creating it failed: " + (error[0] != '\0' ? error.data() : "no reason given"));
    c.plugin.instance = std::unique_ptr<Plugin, PluginDeleter>(p, PluginDeleter{c.descriptor->destroy});
    loaded.push_back(std::move(c.plugin));
  }
  return loaded;
}

LoadedAdapter load_adapter(const std::string& dir, const std::string& type) {
  const std::string what = "adapter type '" + type + "'";
  LoadedAdapter a;
  a.file = adapter_file(dir, type);
  a.library = open_library(what, a.file);
  const auto* d = find_descriptor<AdapterDescriptor>(what, a.file, a.library.get(), "villagebot_adapter_v1");
  if (d->type == nullptr || type != d->type)
    throw StartupError(what + ": " + a.file + " implements '" + (d->type != nullptr ? d->type : "") + "'");
  a.type = type;
  a.version = d->version != nullptr ? d->version : "";
  std::array<char, 512> error{};
  Adapter* instance = d->create(error.data(), error.size());
  if (instance == nullptr)
    throw StartupError(what + ": creating it failed: " + (error[0] != '\0' ? error.data() : "no reason given"));
  a.instance = std::unique_ptr<Adapter, AdapterDeleter>(instance, AdapterDeleter{d->destroy});
  return a;
}

}  // namespace villagebot::loader

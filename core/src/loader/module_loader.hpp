#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "villagebot/abi.hpp"

namespace villagebot::loader {

// A start-up refusal: the message names the library and the reason.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LibraryCloser {
  void operator()(void* handle) const noexcept;
};
using LibraryHandle = std::unique_ptr<void, LibraryCloser>;

struct PluginDeleter {
  void (*destroy)(Plugin*) noexcept = nullptr;
  void operator()(Plugin* p) const noexcept {
    if (p != nullptr && destroy != nullptr) destroy(p);
  }
};
struct AdapterDeleter {
  void (*destroy)(Adapter*) noexcept = nullptr;
  void operator()(Adapter* a) const noexcept {
    if (a != nullptr && destroy != nullptr) destroy(a);
  }
};

// Member order matters: the library is declared first so that it is closed
// last, after the object created from it is destroyed.
struct LoadedPlugin {
  LibraryHandle library;
  std::string name;
  std::string version;
  std::string file;
  std::vector<std::string> dependencies;
  std::unique_ptr<Plugin, PluginDeleter> instance;
};

struct LoadedAdapter {
  LibraryHandle library;
  std::string type;
  std::string version;
  std::string file;
  std::unique_ptr<Adapter, AdapterDeleter> instance;
};

std::string plugin_file(const std::string& dir, const std::string& name);
std::string adapter_file(const std::string& dir, const std::string& type);

// Loads the named plugins, checks each ABI key before anything else, resolves
// dependencies (missing or cyclic ones are refused) and creates the instances
// in dependency order. Throws StartupError.
std::vector<LoadedPlugin> load_plugins(const std::string& dir, const std::vector<std::string>& names);
// Loads and creates one adapter instance of the given type.
LoadedAdapter load_adapter(const std::string& dir, const std::string& type);

}  // namespace villagebot::loader

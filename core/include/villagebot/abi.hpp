#pragma once
#include <cstddef>
#include <cstring>
#include <exception>

#include "villagebot/abi_key.hpp"  // generated: VILLAGEBOT_ABI_KEY
#include "villagebot/adapter.hpp"
#include "villagebot/plugin.hpp"

// The entry points of plugin and adapter libraries. Each library exports one
// extern "C" function returning a plain descriptor. The loader compares
// abi_key (a hash of these headers, the compiler and the build type) before it
// calls anything else, so a library built against another SDK is refused
// instead of crashing. No exception crosses the boundary: create() catches.

namespace villagebot {

struct PluginDescriptor {
  const char* abi_key;
  const char* name;
  const char* version;
  const char* const* dependencies;  // nullptr-terminated plugin names
  // Returns nullptr and writes a message into `error` on failure.
  Plugin* (*create)(char* error, std::size_t error_size) noexcept;
  void (*destroy)(Plugin*) noexcept;
};

struct AdapterDescriptor {
  const char* abi_key;
  const char* type;  // the `type` of an [[adapters]] entry
  const char* version;
  Adapter* (*create)(char* error, std::size_t error_size) noexcept;
  void (*destroy)(Adapter*) noexcept;
};

namespace detail {
inline void copy_error(char* out, std::size_t size, const char* message) noexcept {
  if (out == nullptr || size == 0) return;
  std::strncpy(out, message, size - 1);
  out[size - 1] = '\0';
}
template <class T, class Base>
Base* create_guarded(char* error, std::size_t size) noexcept {
  try {
    return new T();
  } catch (const std::exception& e) {
    copy_error(error, size, e.what());
  } catch (...) {
    copy_error(error, size, "unknown exception");
  }
  return nullptr;
}
}  // namespace detail

}  // namespace villagebot

#define VILLAGEBOT_EXPORT extern "C" __attribute__((visibility("default")))

// VILLAGEBOT_PLUGIN(MyPlugin, "name", "1.0.0", "dependency", ...)
#define VILLAGEBOT_PLUGIN(TYPE, NAME, VERSION, ...)                                    \
  namespace {                                                                          \
  const char* const villagebot_dependencies_[] = {__VA_ARGS__ __VA_OPT__(, ) nullptr}; \
  void villagebot_destroy_(::villagebot::Plugin* p) noexcept {                         \
    delete p;                                                                          \
  }                                                                                    \
  const ::villagebot::PluginDescriptor villagebot_descriptor_{                         \
      VILLAGEBOT_ABI_KEY,                                                              \
      NAME,                                                                            \
      VERSION,                                                                         \
      villagebot_dependencies_,                                                        \
      &::villagebot::detail::create_guarded<TYPE, ::villagebot::Plugin>,               \
      &villagebot_destroy_};                                                           \
  }                                                                                    \
  VILLAGEBOT_EXPORT const ::villagebot::PluginDescriptor* villagebot_plugin_v1() {     \
    return &villagebot_descriptor_;                                                    \
  }

// VILLAGEBOT_ADAPTER(MyAdapter, "type", "1.0.0")
#define VILLAGEBOT_ADAPTER(TYPE, TYPE_NAME, VERSION)                                                              \
  namespace {                                                                                                     \
  void villagebot_destroy_(::villagebot::Adapter* a) noexcept {                                                   \
    delete a;                                                                                                     \
  }                                                                                                               \
  const ::villagebot::AdapterDescriptor villagebot_descriptor_{                                                   \
      VILLAGEBOT_ABI_KEY, TYPE_NAME, VERSION, &::villagebot::detail::create_guarded<TYPE, ::villagebot::Adapter>, \
      &villagebot_destroy_};                                                                                      \
  }                                                                                                               \
  VILLAGEBOT_EXPORT const ::villagebot::AdapterDescriptor* villagebot_adapter_v1() {                              \
    return &villagebot_descriptor_;                                                                               \
  }

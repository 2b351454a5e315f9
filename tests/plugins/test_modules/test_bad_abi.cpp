// Built against "another SDK": its descriptor carries a foreign ABI key.
#include "villagebot/abi.hpp"

namespace {
class Never final : public villagebot::Plugin {
 public:
  void start(villagebot::PluginContext&) override {}
};
const char* const kNoDeps[] = {nullptr};
void destroy(villagebot::Plugin* p) noexcept {
  delete p;
}
const villagebot::PluginDescriptor kDescriptor{"0000000000000000deadbeef",
                                               "test_bad_abi",
                                               "1.0.0",
                                               kNoDeps,
                                               &villagebot::detail::create_guarded<Never, villagebot::Plugin>,
                                               &destroy};
}  // namespace

VILLAGEBOT_EXPORT const villagebot::PluginDescriptor* villagebot_plugin_v1() {
  return &kDescriptor;
}

#include "villagebot/abi.hpp"

namespace {
class NeedsMissing final : public villagebot::Plugin {
 public:
  void start(villagebot::PluginContext&) override {}
};
}  // namespace

VILLAGEBOT_PLUGIN(NeedsMissing, "test_needs_missing", "1.0.0", "no_such_plugin")

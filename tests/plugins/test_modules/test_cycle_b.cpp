#include "villagebot/abi.hpp"

namespace {
class CycleB final : public villagebot::Plugin {
 public:
  void start(villagebot::PluginContext&) override {}
};
}  // namespace

VILLAGEBOT_PLUGIN(CycleB, "test_cycle_b", "1.0.0", "test_cycle_a")

#include "villagebot/abi.hpp"

namespace {
class CycleA final : public villagebot::Plugin {
 public:
  void start(villagebot::PluginContext&) override {}
};
}  // namespace

VILLAGEBOT_PLUGIN(CycleA, "test_cycle_a", "1.0.0", "test_cycle_b")

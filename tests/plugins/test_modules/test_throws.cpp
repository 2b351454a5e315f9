#include <stdexcept>

#include "villagebot/abi.hpp"

namespace {
class Throws final : public villagebot::Plugin {
 public:
  Throws() { throw std::runtime_error("the answer is not 42"); }
  void start(villagebot::PluginContext&) override {}
};
}  // namespace

VILLAGEBOT_PLUGIN(Throws, "test_throws", "1.0.0")

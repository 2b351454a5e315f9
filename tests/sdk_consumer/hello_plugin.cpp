#include <villagebot/abi.hpp>

namespace {

class Hello final : public villagebot::Plugin {
 public:
  void start(villagebot::PluginContext& ctx) override {
    command_ = ctx.commands().add({"hello.greet",
                                   {"你好插件", "hello"},
                                   {},
                                   {},
                                   {"你好插件 — 外部插件的问候", "hello — a greeting from an external plugin"},
                                   [village = ctx.village().name](const villagebot::CommandRequest& req) {
                                     return villagebot::Replies{
                                         {"来自外部插件的问候，" + req.sender.name + "（" + village + "）"}};
                                   }});
  }
  void stop() override { command_.reset(); }

 private:
  villagebot::Registration command_;
};

}  // namespace

VILLAGEBOT_PLUGIN(Hello, "hello", "0.1.0")

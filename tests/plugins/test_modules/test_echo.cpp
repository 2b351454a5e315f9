// A plugin for the tests and the plugin author's guide: every SDK service in
// a few lines.
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "villagebot/abi.hpp"

namespace {

using namespace villagebot;

struct Echoed {
  static constexpr std::string_view kTopic = "test_echo.echoed";
  std::string text;
  std::int64_t person_id = 0;
  NLOHMANN_DEFINE_TYPE_INTRUSIVE(Echoed, text, person_id)
};

class EchoPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    greeting_ = config.string_or("greeting", "你好");
    slow_ms_ = config.integer_or("slow_ms", 3000, 0, 60000);
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("test_echo",
                          {{1, "CREATE TABLE test_echo_log (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"}});
    auto& storage = ctx.storage();
    auto& events = ctx.events();
    regs_.push_back(ctx.commands().add({"test_echo.echo",
                                        {"echo", "回声"},
                                        {},
                                        {},
                                        {"回声 <文字> — 原样返回", "echo <text> — repeats it"},
                                        [&storage, &events](const CommandRequest& req) {
                                          storage.write([&](Session& s) {
                                            s.execute("INSERT INTO test_echo_log(text) VALUES(?)", {req.rest});
                                          });
                                          events.emit(Echoed{req.rest, req.sender.id});
                                          return Replies{Reply{req.rest}};
                                        }}));
    regs_.push_back(ctx.commands().add({"test_echo.boom",
                                        {"boom"},
                                        {},
                                        {},
                                        {"boom — 测试：处理出错", "boom — test: the handler throws"},
                                        [](const CommandRequest&) -> Replies { throw std::runtime_error("boom"); }}));
    regs_.push_back(ctx.commands().add({"test_echo.slow",
                                        {"slow"},
                                        {},
                                        {},
                                        {"slow — 测试：处理超时", "slow — test: the handler is too slow"},
                                        [this](const CommandRequest&) {
                                          std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms_));
                                          return Replies{Reply{"finally"}};
                                        }}));
    regs_.push_back(ctx.commands().add({"test_echo.secret",
                                        {"secret", "机密"},
                                        {},
                                        {std::string(role::kCadre)},
                                        {"机密 — 仅村干部", "secret — cadres only"},
                                        [](const CommandRequest&) { return Replies{Reply{"top secret"}}; }}));
    regs_.push_back(
        ctx.commands().add({"test_echo.count",
                            {},
                            {"^count\\s+\\d+$"},
                            {},
                            {"count <n> — 测试：正则命令", "count <n> — test: a pattern command"},
                            [](const CommandRequest& req) { return Replies{Reply{"counted " + req.rest}}; }}));
    auto& commands = ctx.commands();
    regs_.push_back(ctx.commands().add({"test_echo.ask",
                                        {"ask", "问我"},
                                        {},
                                        {},
                                        {"问我 — 测试：追问", "ask — test: a follow-up question"},
                                        [&commands](const CommandRequest& req) {
                                          commands.ask(req.sender.id, std::chrono::seconds(60),
                                                       [](const CommandRequest& answer) -> std::optional<Replies> {
                                                         if (answer.text == "1" || answer.text == "2")
                                                           return Replies{Reply{"你选了 " + answer.text}};
                                                         return std::nullopt;
                                                       });
                                          return Replies{Reply{"喜欢哪个？回复 1 或 2"}};
                                        }}));
    auto& messenger = ctx.messenger();
    regs_.push_back(ctx.commands().add({"test_echo.greet",
                                        {"greet"},
                                        {},
                                        {},
                                        {"greet — 测试：另发一条消息", "greet — test: a separate message"},
                                        [this, &messenger](const CommandRequest& req) {
                                          messenger.send_to_person(req.sender.id, greeting_);
                                          return Replies{Reply{"sent"}};
                                        }}));
    regs_.push_back(events.on<Echoed>([this](const Echoed& e) {
      std::lock_guard lock(mutex_);
      echoed_.push_back(e.text);
    }));
    RouteSpec ping;
    ping.method = "GET";
    ping.path = "ping";
    ping.summary = "Test plugin: how many echoes it has seen";
    ping.handler = [this](const HttpRequest& req, const Responder& respond) {
      std::lock_guard lock(mutex_);
      respond(HttpResponse::json(200, {{"pong", true}, {"echoed", echoed_.size()}, {"principal", req.principal}}));
    };
    regs_.push_back(ctx.routes().add(std::move(ping)));
  }

  void stop() override { regs_.clear(); }

  [[nodiscard]] nlohmann::json health() const override { return {{"state", "running"}, {"greeting", greeting_}}; }

 private:
  std::string greeting_;
  std::int64_t slow_ms_ = 3000;
  std::vector<Registration> regs_;
  std::mutex mutex_;
  std::vector<std::string> echoed_;
};

}  // namespace

VILLAGEBOT_PLUGIN(EchoPlugin, "test_echo", "1.0.0")

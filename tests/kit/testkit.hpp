#pragma once
// villagebot test kit (like NoneBug or Errbot's testbot):
//
//   villagebot::testkit::TestServer server({.plugins = {"points"}});
//   auto replies = server.send("13800000001", "积分");
//   EXPECT_THAT(replies[0], HasSubstr("本户积分"));
//
// Starts a real runtime (real SQLite file in a temp folder, real plugin .so
// files, real HTTP on 127.0.0.1 with port 0) seeded with a small village.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/runtime.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/http_client.hpp"
#include "villagebot/message.hpp"

namespace villagebot::testkit {

// A small village: household H001 (13800000001 villager, 13800000002 cadre for
// 一组), H002 (13800000003 evaluator, lang en), H003 (13800000004 commander,
// emergency_team, wecom id wx-004), 13800000009 admin.
extern const char* const kSmallVillageCsv;

struct Options {
  std::vector<std::string> plugins;
  std::string secret;        // generic webhook secret ("" = unsigned)
  std::string server_toml;   // extra keys of [server] (header_timeout_ms = ...)
  std::string adapter_toml;  // extra keys of the generic [[adapters]] entry (reply_url = ...)
  std::string extra_toml;    // appended to the generated config
  std::string people_csv = kSmallVillageCsv;
  bool http = true;
  int handler_timeout_ms = 2000;
  int rate_limit_messages = 1000;
  std::map<std::string, std::string> plugin_sections;  // name -> body of [plugins.<name>]
  // The scheduler's and the delivery engine's clock (a test moves it, then poke_scheduler()).
  std::function<std::chrono::system_clock::time_point()> now;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string error;
};

class TestServer {
 public:
  explicit TestServer(Options options = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Through the pipeline as a message on the generic adapter; the reply texts.
  std::vector<std::string> send(const std::string& sender, const std::string& text, std::string message_id = {});
  SubmitResult submit(InboundMessage message);

  // Real HTTP to this server.
  HttpResult request(const std::string& method, const std::string& path, const std::string& body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {});
  // A signed POST /hooks/generic with the configured secret.
  HttpResult post_webhook(const std::string& body, std::int64_t timestamp = 0);

  // Runs the scheduler's due jobs now (after a test moved its clock).
  void poke_scheduler();
  // Stops and starts again on the same database (a restart).
  void restart();
  runtime::Runtime& runtime() { return *runtime_; }
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path db_path() const { return dir_ / "villagebot.db"; }
  [[nodiscard]] std::filesystem::path config_path() const { return dir_ / "villagebot.toml"; }
  // Count rows of a query's single integer result (for assertions on the log).
  std::int64_t count(const std::string& sql);

 private:
  void boot();
  Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<HttpClient> client_;
};

// Polls until `done` holds; the limit only guards against a hang.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A clock a test moves (Options::now = [&clock] { return clock.now(); }), starting on
// 2026-11-30 10:00 Beijing time: a weekday morning, outside any quiet hours.
class ManualClock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> ms_{1'796'004'000'000};
};

// The admin and plugin APIs with a token of a role (acting for a person, when given).
struct ApiReply {
  int status = 0;
  nlohmann::json body;
  std::string raw;  // the body as received, and the transport error if any
};
class ApiClient {
 public:
  ApiClient(TestServer& server, const std::string& role, std::optional<std::int64_t> person = {});
  ApiReply call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr);
  // For raw requests (malformed bodies) through TestServer::request.
  [[nodiscard]] const std::string& token() const { return token_; }

 private:
  TestServer& server_;
  std::string token_;
};

// A fresh temporary folder, removed by the caller.
std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace villagebot::testkit

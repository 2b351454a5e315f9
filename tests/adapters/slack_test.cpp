// The Slack adapter against a local HTTPS server impersonating slack.com and hooks.slack.com:
// the Events API is verified with the signing secret (a wrong signature or a request older than
// five minutes gets 401 and changes nothing), url_verification echoes the challenge, a DM of 积分
// from a mapped user is answered with chat.postMessage to them, a channel message mentioning the
// bot is answered through the channel's incoming webhook, the bot's own posts are ignored, and
// 429 is retried after Retry-After.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat_crypto.hpp"
#include "fake_http.hpp"
#include "platform_fixture.hpp"
#include "runtime/runtime.hpp"
#include "testkit.hpp"
#include "tls.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

constexpr const char* kSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";

constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色\n"
    "H001,王大山,王大山,13800000001,一组,村民\n"
    "H002,李四,李四,13800000003,二组,管理员\n";

class Slack : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest& r) {
      std::lock_guard lock(mutex_);
      if (!answers_.empty()) {
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      if (r.target.starts_with("/services/")) return FakeResponse{200, "ok", "text/plain"};
      return FakeResponse{200, R"({"ok":true,"ts":"1732838400.000100"})"};
    });
    testkit::Options so;
    so.people_csv = kVillage;
    so.plugins = {"points"};
    so.extra_toml = "[[adapters]]\nid = \"slack\"\ntype = \"slack\"\napi_base = \"" + api_->url("/api") +
                    "\"\nbot_token = \"xoxb-test\"\nsigning_secret = \"" + kSigningSecret +
                    "\"\n\n[[adapters.groups]]\nchat_id = \"C111\"\nname = \"yizu\"\norg_unit = \"一组\"\n"
                    "webhook_url = \"" +
                    api_->url("/services/T1/B1/secret") + "\"\n\n" + client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
    // 王大山's Slack id, through the admin API.
    testkit::ApiClient admin(*server_, "admin");
    const auto id = server_->runtime().directory().find_by_phone("13800000001")->id;
    auto r =
        admin.call("PUT", "/api/v1/persons/" + std::to_string(id) + "/identities/slack", {{"external_id", "U001"}});
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  testkit::HttpResult event(const json& body, std::int64_t age_s = 0, bool good = true) {
    const std::string ts = std::to_string(static_cast<std::int64_t>(std::time(nullptr)) - age_s);
    const std::string raw = body.dump();
    std::string sig = adapters::slack_signature(good ? kSigningSecret : "wrong", ts, raw);
    return server_->request(
        "POST", "/hooks/slack/events", raw,
        {{"Content-Type", "application/json"}, {"X-Slack-Request-Timestamp", ts}, {"X-Slack-Signature", sig}});
  }
  static json message(const std::string& id, const std::string& user, const std::string& channel,
                      const std::string& type, const std::string& text) {
    return {{"type", "event_callback"},
            {"event_id", id},
            {"event",
             {{"type", "message"},
              {"user", user},
              {"text", text},
              {"channel", channel},
              {"channel_type", type},
              {"ts", "1732838400.000200"}}}};
  }
  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
};

TEST_F(Slack, SignedEventsAreAnsweredAndUnsignedOrStaleOnesChangeNothing) {
  auto r = event({{"type", "url_verification"}, {"challenge", "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  EXPECT_EQ(event(message("Ev1", "U001", "D001", "im", "积分"), 0, false).status, 401) << "wrong secret";
  EXPECT_EQ(event(message("Ev2", "U001", "D001", "im", "积分"), 400).status, 401) << "older than five minutes";
  EXPECT_EQ(server_->request("POST", "/hooks/slack/events", message("Ev3", "U001", "D001", "im", "积分").dump()).status,
            401)
      << "no signature";
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);

  // A DM: answered with chat.postMessage to the person, with the bot token.
  r = event(message("Ev4", "U001", "D001", "im", "积分"));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return to("/api/chat.postMessage").size() == 1; }));
  const auto dm = to("/api/chat.postMessage")[0];
  EXPECT_EQ(dm.headers.at("authorization"), "Bearer xoxb-test");
  EXPECT_THAT(dm.headers.at("content-type"), HasSubstr("application/json"));
  const json dm_body = json::parse(dm.body);
  EXPECT_EQ(dm_body["channel"], "U001");
  EXPECT_THAT(dm_body["text"].get<std::string>(), HasSubstr("积分"));

  // In the group's channel, mentioning the bot: answered through the channel's incoming webhook.
  EXPECT_EQ(event(message("Ev5", "U001", "C111", "channel", "<@UBOT> 积分")).status, 200);
  ASSERT_TRUE(eventually([&] { return to("/services/T1/B1/secret").size() == 1; }));
  EXPECT_THAT(json::parse(to("/services/T1/B1/secret")[0].body)["text"].get<std::string>(), HasSubstr("积分"));
  // Slack retries an event it thinks was slow: answered once. The bot's own posts are ignored.
  EXPECT_EQ(event(message("Ev5", "U001", "C111", "channel", "<@UBOT> 积分")).status, 200);
  json own = message("Ev6", "UBOT", "C111", "channel", "您家当前积分 0 分");
  own["event"]["bot_id"] = "B999";
  EXPECT_EQ(event(own).status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(to("/services/T1/B1/secret").size(), 1u);
  EXPECT_EQ(to("/api/chat.postMessage").size(), 1u);
  EXPECT_EQ(server_->request("POST", "/hooks/slack/events", "[]").status, 401);
}

TEST_F(Slack, RateLimitsAreRetriedAfterRetryAfterAndAuthErrorsFail) {
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{429, R"({"ok":false,"error":"ratelimited"})", "application/json", {{"Retry-After", "1"}}}};
  }
  OutboundMessage m;
  m.adapter_id = "slack";
  m.address = "U001";
  m.text = "明天停水。";
  const auto started = std::chrono::steady_clock::now();
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'slack' AND status = 'sent'") == 1;
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms);
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{200, R"({"ok":false,"error":"invalid_auth"})"}};
  }
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'slack' AND status = 'failed' AND "
               "last_error LIKE '%invalid_auth%'") == 1;
  }));
}

}  // namespace
}  // namespace villagebot

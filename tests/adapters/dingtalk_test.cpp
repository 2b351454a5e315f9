// The DingTalk adapter against a local HTTPS server impersonating oapi.dingtalk.com: a group post
// goes through the group's custom robot with a fresh timestamp and its signature; 130101 (over 20
// a minute) is retried, 310000 fails with the reason; the outgoing robot's callback with a valid
// sign carrying 积分 from a mapped user is answered through its sessionWebhook, while a wrong or
// stale sign gets 401 and changes nothing.
#include <chrono>
#include <cstdlib>
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

constexpr const char* kRobotSecret = "SECrobot-secret";
constexpr const char* kAppSecret = "app-secret-for-callbacks";

constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,钉钉\n"
    "H001,王大山,王大山,13800000001,一组,村民,dt-001\n"
    "H002,李四,李四,13800000003,二组,村民,\n";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string query_param(const std::string& target, const std::string& name) {
  const auto at = target.find(name + "=");
  if (at == std::string::npos) return {};
  const auto end = target.find('&', at);
  return target.substr(at + name.size() + 1, end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
}

class Dingtalk : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest&) {
      std::lock_guard lock(mutex_);
      if (!codes_.empty()) {
        const int c = codes_.front();
        codes_.erase(codes_.begin());
        return FakeResponse{200,
                            json{{"errcode", c}, {"errmsg", c == 130101 ? "send too fast" : "sign not match"}}.dump()};
      }
      return FakeResponse{200, R"({"errcode":0,"errmsg":"ok"})"};
    });
    testkit::Options so;
    so.people_csv = kVillage;
    so.plugins = {"points"};
    so.extra_toml = "[[adapters]]\nid = \"ding\"\ntype = \"dingtalk\"\napi_base = \"" + api_->url("") +
                    "\"\napp_secret = \"" + kAppSecret +
                    "\"\nthrottle_retry_s = 1\n\n[[adapters.robots]]\nchat_id = \"yizu\"\nname = \"一组群\"\n"
                    "org_unit = \"一组\"\naccess_token = \"robot-token\"\nsecret = \"" +
                    kRobotSecret + "\"\n\n" + client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }
  testkit::HttpResult callback(const json& body, std::int64_t ts, const std::string& secret = kAppSecret) {
    const std::string t = std::to_string(ts);
    return server_->request(
        "POST", "/hooks/ding/callback", body.dump(),
        {{"Content-Type", "application/json"}, {"timestamp", t}, {"sign", adapters::dingtalk_sign(secret, t)}});
  }
  json message(const std::string& id, const std::string& type, const std::string& text) const {
    return {{"msgtype", "text"},
            {"text", {{"content", text}}},
            {"msgId", id},
            {"conversationType", type},
            {"conversationId", "cidGroup1"},
            {"senderStaffId", "dt-001"},
            {"senderNick", "王大山"},
            {"sessionWebhook", api_->url("/robot/sendBySession?session=s-" + id)},
            {"sessionWebhookExpiredTime", now_ms() + 90 * 60 * 1000}};
  }

  std::mutex mutex_;
  std::vector<int> codes_;
};

TEST_F(Dingtalk, AGroupPostIsSignedAndThrottlingIsRetried) {
  {
    std::lock_guard lock(mutex_);
    codes_ = {130101};
  }
  Broadcast b;
  b.text = "一组：今晚七点院坝会。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::group_first;
  DeliveryPlan plan;
  server_->runtime().messenger().broadcast(b, &plan);
  EXPECT_EQ(plan.group_posts, 1);
  ASSERT_TRUE(eventually([&] { return to("/robot/send").size() == 2; }));
  for (const auto& r : to("/robot/send")) {
    EXPECT_EQ(query_param(r.target, "access_token"), "robot-token");
    const std::string ts = query_param(r.target, "timestamp");
    ASSERT_FALSE(ts.empty()) << r.target;
    EXPECT_LT(std::llabs(now_ms() - std::stoll(ts)), 60'000) << "a fresh timestamp";
    EXPECT_EQ(query_param(r.target, "sign"), adapters::url_encode(adapters::dingtalk_sign(kRobotSecret, ts)));
    const json body = json::parse(r.body);
    EXPECT_EQ(body["msgtype"], "text");
    EXPECT_EQ(body["text"]["content"], "一组：今晚七点院坝会。");
  }
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'ding' AND status = 'sent'") == 1;
  }));
  {
    std::lock_guard lock(mutex_);
    codes_ = {310000};
  }
  OutboundMessage m;
  m.adapter_id = "ding";
  m.channel = ChannelKind::group;
  m.address = "yizu";
  m.text = "x";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'ding' AND status = 'failed' AND "
               "last_error LIKE '%310000%'") == 1;
  }));
}

TEST_F(Dingtalk, AGroupPostCanMentionThePeopleItIsForByPhone) {
  Broadcast b;
  b.text = "请交回问卷。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::group_first;
  b.mention_in_groups = true;
  server_->runtime().messenger().broadcast(b);
  ASSERT_TRUE(eventually([&] { return to("/robot/send").size() == 1; }));
  const json body = json::parse(to("/robot/send")[0].body);
  EXPECT_EQ(body["at"]["atMobiles"], json({"13800000001"})) << body;
  EXPECT_EQ(body["at"]["isAtAll"], false);
  EXPECT_EQ(body["text"]["content"], "请交回问卷。 @13800000001") << "DingTalk shows an @ named in the text";
}

TEST_F(Dingtalk, ASignedCallbackIsAnsweredThroughItsSessionAndABadSignChangesNothing) {
  auto r = callback(message("m1", "2", "@村小助手 积分"), now_ms());
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return to("/robot/sendBySession").size() == 1; }));
  const auto reply = to("/robot/sendBySession")[0];
  EXPECT_EQ(reply.target, "/robot/sendBySession?session=s-m1");
  EXPECT_THAT(json::parse(reply.body)["text"]["content"].get<std::string>(), HasSubstr("积分"));

  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  EXPECT_EQ(callback(message("m2", "1", "积分"), now_ms(), "wrong-secret").status, 401);
  EXPECT_EQ(callback(message("m3", "1", "积分"), now_ms() - 2 * 3600 * 1000).status, 401) << "two hours old";
  EXPECT_EQ(server_->request("POST", "/hooks/ding/callback", message("m4", "1", "积分").dump()).status, 401)
      << "no sign";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_EQ(to("/robot/sendBySession").size(), 1u);
  // A private conversation: answered through its own session.
  EXPECT_EQ(callback(message("m5", "1", "积分"), now_ms()).status, 200);
  ASSERT_TRUE(eventually([&] { return to("/robot/sendBySession?session=s-m5").size() == 1; }));
}

}  // namespace
}  // namespace villagebot

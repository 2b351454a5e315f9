// The WeCom adapter against a local HTTPS server impersonating qyapi.weixin.qq.com (a CA made at
// test time, trusted through [http_client] ca_file): group posts go through the group's robot
// in WeCom's wire format; 45009 (throttled) is retried, 93000 fails with WeCom's reason; private
// messages use a cached access token, fetched again when WeCom says it expired; the callback
// verifies its URL, and a correctly signed, encrypted 积分 from a mapped user is answered through
// message/send to that user, while a wrongly signed one gets 401 and changes nothing.
#include <atomic>
#include <chrono>
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
#include "runtime/job_scheduler.hpp"
#include "runtime/runtime.hpp"
#include "testkit.hpp"
#include "tls.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

constexpr const char* kAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr const char* kCorp = "ww0123456789abcdef";
constexpr const char* kToken = "QDG6eK";

// 王大山 (wx-001) in 一组, 李四 in 二组 without WeCom, 村干部 王小红.
constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,企业微信\n"
    "H001,王大山,王大山,13800000001,一组,村民,wx-001\n"
    "H001,王大山,王小红,13800000002,一组,村干部,wx-002\n"
    "H002,李四,李四,13800000003,二组,村民,\n";

// What WeCom's API answers, decided per test; every request is recorded by the server.
struct FakeWecom {
  std::mutex mutex;
  std::vector<int> robot_errcodes;  // answers to webhook/send, in order; then 0
  std::vector<int> send_errcodes;   // answers to message/send, in order; then 0
  std::atomic<int> tokens{0};

  FakeResponse answer(const ReceivedRequest& r) {
    std::lock_guard lock(mutex);
    auto next = [](std::vector<int>& codes) {
      if (codes.empty()) return 0;
      const int c = codes.front();
      codes.erase(codes.begin());
      return c;
    };
    if (r.target.starts_with("/cgi-bin/gettoken")) {
      const int n = ++tokens;
      return {
          200,
          json{{"errcode", 0}, {"errmsg", "ok"}, {"access_token", "TOKEN-" + std::to_string(n)}, {"expires_in", 7200}}
              .dump()};
    }
    int code = 0;
    if (r.target.starts_with("/cgi-bin/webhook/send")) code = next(robot_errcodes);
    if (r.target.starts_with("/cgi-bin/message/send")) code = next(send_errcodes);
    const char* msg = code == 0 ? "ok" : code == 45009 ? "api freq out of limit" : "invalid webhook url";
    return {200, json{{"errcode", code}, {"errmsg", msg}, {"msgid", "msg-" + std::to_string(r.body.size())}}.dump()};
  }
};

class Wecom : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest& r) { return wecom_.answer(r); });
    testkit::Options so;
    so.people_csv = kVillage;
    so.plugins = {"points"};
    so.extra_toml = std::string("[[adapters]]\nid = \"wecom\"\ntype = \"wecom\"\napi_base = \"") + api_->url("") +
                    "\"\ncorp_id = \"" + kCorp + "\"\nagent_id = 1000002\nsecret = \"app-secret\"\ntoken = \"" +
                    kToken + "\"\nencoding_aes_key = \"" + kAesKey +
                    "\"\nthrottle_retry_s = 1\n\n[[adapters.robots]]\nchat_id = \"yizu\"\nname = \"一组村民群\"\n"
                    "org_unit = \"一组\"\nkey = \"robot-key-1\"\n\n[[adapters.robots]]\nchat_id = \"notices\"\n"
                    "name = \"村务公开群\"\nkey = \"robot-key-2\"\nmarkdown = true\n\n" +
                    client_toml();
    adjust(so);
    server_ = std::make_unique<testkit::TestServer>(so);
  }
  virtual void adjust(testkit::Options&) {}

  // A callback as WeCom sends it: the XML encrypted for the corp, signed over the ciphertext.
  testkit::HttpResult callback(const std::string& inner_xml, bool good_signature = true) {
    const auto encrypted = adapters::wecom_encrypt(kAesKey, inner_xml, kCorp, "0123456789abcdef").value();
    const std::string ts = "1732838400", nonce = "1234567";
    std::string signature = adapters::wecom_signature(kToken, ts, nonce, encrypted);
    if (!good_signature) signature[0] = signature[0] == 'a' ? 'b' : 'a';
    const std::string body = "<xml><ToUserName><![CDATA[" + std::string(kCorp) +
                             "]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[" + encrypted +
                             "]]></Encrypt></xml>";
    return server_->request("POST",
                            "/hooks/wecom/callback?msg_signature=" + signature + "&timestamp=" + ts + "&nonce=" + nonce,
                            body, {{"Content-Type", "text/xml"}});
  }

  FakeWecom wecom_;
};

TEST_F(Wecom, AGroupPostGoesThroughItsRobotAndThrottlingIsRetried) {
  wecom_.robot_errcodes = {45009};  // the first post is throttled
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_group_chats WHERE adapter_id = 'wecom' AND chat_id = 'yizu' AND "
                           "org_unit_id IS NOT NULL"),
            1)
      << "the robot's group chat is registered for 一组";
  Broadcast b;
  b.text = "明天上午九点在村委会开会。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::group_first;
  DeliveryPlan plan;
  server_->runtime().messenger().broadcast(b, &plan);
  EXPECT_EQ(plan.group_posts, 1);
  EXPECT_EQ(plan.covered_by_groups, 2) << "王大山 and 王小红 are in 一组's chat";
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/webhook/send").size() == 2; }));
  const auto posts = to("/cgi-bin/webhook/send");
  EXPECT_EQ(posts[0].target, "/cgi-bin/webhook/send?key=robot-key-1");
  EXPECT_EQ(posts[0].headers.at("content-type"), "application/json");
  const json body = json::parse(posts[1].body);
  EXPECT_EQ(body["msgtype"], "text");
  EXPECT_EQ(body["text"]["content"], "明天上午九点在村委会开会。");
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'wecom' AND status = 'sent'") == 1;
  }));
  EXPECT_EQ(server_->count("SELECT attempts FROM core_outbox WHERE adapter_id = 'wecom'"), 2);
}

TEST_F(Wecom, APermanentErrorFailsWithWecomsReason) {
  wecom_.robot_errcodes = {93000};
  OutboundMessage m;
  m.adapter_id = "wecom";
  m.channel = ChannelKind::group;
  m.address = "yizu";
  m.text = "测试";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'wecom' AND status = 'failed' AND "
               "last_error LIKE '%93000%invalid webhook url%'") == 1;
  }));
  EXPECT_EQ(to("/cgi-bin/webhook/send").size(), 1u) << "not retried";
  // A group nobody configured a robot for: failed at once, nothing sent.
  m.address = "unknown-group";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE status = 'failed' AND last_error LIKE '%no WeCom "
               "robot%'") == 1;
  }));
}

TEST_F(Wecom, PrivateMessagesUseACachedTokenFetchedAgainWhenExpired) {
  auto& messenger = server_->runtime().messenger();
  // Reaching 王大山: his WeCom id, through the application (the generic adapter would need a phone route).
  OutboundMessage m;
  m.adapter_id = "wecom";
  m.address = "wx-001";
  m.text = "您家本月积分 +5。";
  messenger.send(m);
  m.text = "第二条";
  messenger.send(m);
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/message/send").size() == 2; }));
  EXPECT_EQ(wecom_.tokens.load(), 1) << "one token for both";
  const auto sent = to("/cgi-bin/message/send");
  EXPECT_EQ(sent[0].target, "/cgi-bin/message/send?access_token=TOKEN-1");
  const json body = json::parse(sent[0].body);
  EXPECT_EQ(body["touser"], "wx-001");
  EXPECT_EQ(body["agentid"], 1000002);
  EXPECT_EQ(body["msgtype"], "text");
  EXPECT_EQ(body["enable_duplicate_check"], 1);
  // WeCom says the token expired (42001): a new one, and the message goes.
  wecom_.send_errcodes = {42001};
  m.text = "第三条";
  messenger.send(m);
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/message/send").size() == 4; }));
  EXPECT_EQ(wecom_.tokens.load(), 2);
  EXPECT_EQ(to("/cgi-bin/message/send")[3].target, "/cgi-bin/message/send?access_token=TOKEN-2");
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'wecom' AND status = 'sent'") == 3;
  }));
  // The secret never appears in the outbox or the log tables.
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE last_error LIKE '%app-secret%'"), 0);
}

TEST_F(Wecom, TheCallbackVerifiesItsUrlAndAnswersASignedMessageThroughTheApi) {
  // URL verification (GET), with WeCom's echostr encrypted for the corp.
  const auto echo = adapters::wecom_encrypt(kAesKey, "1616140317555161061", kCorp, "fedcba9876543210").value();
  const std::string ts = "1732838400", nonce = "99";
  const auto sig = adapters::wecom_signature(kToken, ts, nonce, echo);
  auto r = server_->request("GET", "/hooks/wecom/callback?msg_signature=" + sig + "&timestamp=" + ts +
                                       "&nonce=" + nonce + "&echostr=" + adapters::url_encode(echo));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "1616140317555161061");
  r = server_->request("GET", "/hooks/wecom/callback?msg_signature=" + std::string(40, '0') + "&timestamp=" + ts +
                                  "&nonce=" + nonce + "&echostr=" + adapters::url_encode(echo));
  EXPECT_EQ(r.status, 401);

  // 积分 from 王大山 (wx-001), correctly signed: answered privately through message/send.
  const std::string text_message =
      "<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName><FromUserName><![CDATA[wx-001]]></"
      "FromUserName><CreateTime>1732838400</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]>"
      "</Content><MsgId>7001</MsgId><AgentID>1000002</AgentID></xml>";
  r = callback(text_message);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/message/send").size() == 1; }));
  const json reply = json::parse(to("/cgi-bin/message/send")[0].body);
  EXPECT_EQ(reply["touser"], "wx-001");
  EXPECT_THAT(reply["text"]["content"].get<std::string>(), HasSubstr("积分"));
  // WeCom repeats a callback it thinks was slow: answered once.
  EXPECT_EQ(callback(text_message).status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(to("/cgi-bin/message/send").size(), 1u);

  // A wrong signature: 401, nothing stored, nothing sent.
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  const std::string forged =
      "<xml><FromUserName><![CDATA[wx-002]]></FromUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]>"
      "</Content><MsgId>7002</MsgId></xml>";
  EXPECT_EQ(callback(forged, false).status, 401);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  // Garbage and events: 400, and an event is acknowledged without a message.
  EXPECT_EQ(server_->request("POST", "/hooks/wecom/callback?msg_signature=x", "not xml").status, 400);
  EXPECT_EQ(callback("<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event></xml>").status,
            200);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_EQ(to("/cgi-bin/message/send").size(), 1u);
}

TEST_F(Wecom, AMarkdownRobotPostsMarkdown) {
  OutboundMessage m;
  m.adapter_id = "wecom";
  m.channel = ChannelKind::group;
  m.address = "notices";
  m.text = "**村务公开**\n> 本月收支已公布";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/webhook/send?key=robot-key-2").size() == 1; }));
  const json body = json::parse(to("/cgi-bin/webhook/send?key=robot-key-2")[0].body);
  EXPECT_EQ(body["msgtype"], "markdown");
  EXPECT_EQ(body["markdown"]["content"], "**村务公开**\n> 本月收支已公布");
}

TEST_F(Wecom, AGroupPostCanMentionThePeopleItIsForByPhone) {
  Broadcast b;
  b.text = "请一组各户今晚前交回问卷。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::group_first;
  b.mention_in_groups = true;
  server_->runtime().messenger().broadcast(b);
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/webhook/send").size() == 1; }));
  const json body = json::parse(to("/cgi-bin/webhook/send")[0].body);
  EXPECT_EQ(body["text"]["mentioned_mobile_list"], json({"13800000001", "13800000002"})) << body;
}

// 一户十联: 李四's household (二组) is linked to 王大山's, whose head is 中心户长 in 一组's chat. When
// 李四 has not confirmed a notice, the reminder also asks 王大山 in the group, @-mentioning him.
class WecomFollowUp : public Wecom {
 protected:
  void adjust(testkit::Options& o) override {
    o.plugins = {"announcements"};
    o.now = [this] { return clock_.now(); };
    o.people_csv =
        "户号,户主,姓名,手机,村民小组,角色,企业微信,中心户\n"
        "H001,王大山,王大山,13800000001,一组,中心户长,wx-001,\n"
        "H002,李四,李四,13800000003,二组,村民,,H001\n";
    o.plugin_sections = {{"announcements", "reminder_after_hours = 1\n"}};
  }
  testkit::ManualClock clock_;
};

TEST_F(WecomFollowUp, TheReminderAsksTheCentralHouseholdHeadInTheGroupWithAnAtMention) {
  testkit::ApiClient admin(*server_, "admin");
  const auto lisi = server_->runtime().directory().find_by_phone("13800000003")->id;
  auto r = admin.call(
      "POST", "/api/v1/announcements/notices",
      {{"title", "停水"}, {"body", "明天上午停水。"}, {"audience", {{"persons", {lisi}}}}, {"policy", "personal_all"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  clock_.advance(61min);
  server_->poke_scheduler();
  ASSERT_TRUE(eventually([&] { return to("/cgi-bin/webhook/send").size() == 1; }));
  const json body = json::parse(to("/cgi-bin/webhook/send")[0].body);
  EXPECT_THAT(body["text"]["content"].get<std::string>(), HasSubstr("未读提醒"));
  EXPECT_THAT(body["text"]["content"].get<std::string>(), HasSubstr("停水"));
  EXPECT_EQ(body["text"]["mentioned_mobile_list"], json({"13800000001"})) << body;
  // Once: the reminder job again sends nothing more.
  server_->runtime().scheduler().schedule_at("announcements.remind", clock_.now(),
                                             json{{"notice_id", r.body["notice"]["id"]}}, Scheduler::Missed::fire_late);
  server_->poke_scheduler();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(to("/cgi-bin/webhook/send").size(), 1u);
}

}  // namespace
}  // namespace villagebot

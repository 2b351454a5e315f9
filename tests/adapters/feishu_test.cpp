// The Feishu adapter against a local HTTPS server impersonating open.feishu.cn: the encrypted
// url_verification is answered with its challenge; an encrypted, signed im.message.receive_v1
// carrying 积分 from a mapped user (open_id) is answered through the messaging API with a tenant
// access token (cached; fetched again when Feishu says it expired); a wrong signature or token
// gets 401 and changes nothing; a group's custom bot posts are signed.
#include <atomic>
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

constexpr const char* kEncryptKey = "test key";
constexpr const char* kVerification = "verif-token";
constexpr const char* kBotSecret = "bot-secret";

constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,飞书\n"
    "H001,王大山,王大山,13800000001,一组,村民,ou_001\n"
    "H002,李四,李四,13800000003,二组,村民,\n";

class Feishu : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest& r) {
      std::lock_guard lock(mutex_);
      if (r.target.starts_with("/open-apis/auth/v3/tenant_access_token/internal")) {
        const int n = ++tokens_;
        return FakeResponse{
            200, json{{"code", 0}, {"msg", "ok"}, {"tenant_access_token", "t-" + std::to_string(n)}, {"expire", 7200}}
                     .dump()};
      }
      if (!codes_.empty()) {
        const int c = codes_.front();
        codes_.erase(codes_.begin());
        return FakeResponse{200, json{{"code", c}, {"msg", "token expired"}}.dump()};
      }
      return FakeResponse{200, R"({"code":0,"msg":"success","data":{"message_id":"om_1"}})"};
    });
    testkit::Options so;
    so.people_csv = kVillage;
    so.plugins = {"points"};
    so.extra_toml = "[[adapters]]\nid = \"feishu\"\ntype = \"feishu\"\napi_base = \"" + api_->url("") +
                    "\"\napp_id = \"cli_test\"\napp_secret = \"app-secret\"\nverification_token = \"" + kVerification +
                    "\"\nencrypt_key = \"" + kEncryptKey +
                    "\"\n\n[[adapters.robots]]\nchat_id = \"oc_yizu\"\nname = \"一组群\"\norg_unit = \"一组\"\n"
                    "webhook_url = \"" +
                    api_->url("/open-apis/bot/v2/hook/abc") + "\"\nsecret = \"" + kBotSecret + "\"\n\n" + client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }
  // An event as Feishu sends it: encrypted with the encrypt key; signed unless told otherwise.
  testkit::HttpResult post(const json& event, bool sign = true, bool good = true) {
    const std::string body =
        json{{"encrypt", adapters::feishu_encrypt(kEncryptKey, event.dump(), "0123456789abcdef").value()}}.dump();
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (sign) {
      const std::string ts = std::to_string(static_cast<std::int64_t>(std::time(nullptr))), nonce = "n-1";
      headers.emplace_back("X-Lark-Request-Timestamp", ts);
      headers.emplace_back("X-Lark-Request-Nonce", nonce);
      headers.emplace_back("X-Lark-Signature",
                           adapters::feishu_event_signature(ts, nonce, good ? kEncryptKey : "other key", body));
    }
    return server_->request("POST", "/hooks/feishu/events", body, headers);
  }
  static json message(const std::string& id, const std::string& open_id, const std::string& chat_type,
                      const std::string& text, const std::string& token = kVerification) {
    return {{"schema", "2.0"},
            {"header", {{"event_id", "ev-" + id}, {"event_type", "im.message.receive_v1"}, {"token", token}}},
            {"event",
             {{"sender", {{"sender_id", {{"open_id", open_id}, {"user_id", "u1"}}}, {"sender_type", "user"}}},
              {"message",
               {{"message_id", "om_" + id},
                {"chat_id", "oc_yizu"},
                {"chat_type", chat_type},
                {"message_type", "text"},
                {"content", json{{"text", text}}.dump()}}}}}};
  }

  std::mutex mutex_;
  std::vector<int> codes_;
  int tokens_ = 0;
};

TEST_F(Feishu, EncryptedSignedEventsAreAnsweredAndForgedOnesChangeNothing) {
  auto r = post({{"challenge", "ajls384kdjx98XX"}, {"token", kVerification}, {"type", "url_verification"}}, false);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["challenge"], "ajls384kdjx98XX");
  EXPECT_EQ(post({{"challenge", "x"}, {"token", "wrong"}, {"type", "url_verification"}}, false).status, 401);

  r = post(message("1", "ou_001", "p2p", "积分"));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return to("/open-apis/im/v1/messages").size() == 1; }));
  const auto sent = to("/open-apis/im/v1/messages")[0];
  EXPECT_EQ(sent.target, "/open-apis/im/v1/messages?receive_id_type=open_id");
  EXPECT_EQ(sent.headers.at("authorization"), "Bearer t-1");
  const json body = json::parse(sent.body);
  EXPECT_EQ(body["receive_id"], "ou_001");
  EXPECT_EQ(body["msg_type"], "text");
  EXPECT_THAT(json::parse(body["content"].get<std::string>())["text"].get<std::string>(), HasSubstr("积分"));

  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  EXPECT_EQ(post(message("2", "ou_001", "p2p", "积分"), true, false).status, 401) << "wrong signature";
  EXPECT_EQ(post(message("3", "ou_001", "p2p", "积分"), false).status, 401) << "an unsigned message";
  EXPECT_EQ(post(message("4", "ou_001", "p2p", "积分", "wrong")).status, 401) << "wrong verification token";
  EXPECT_EQ(server_->request("POST", "/hooks/feishu/events", R"({"schema":"2.0"})").status, 401) << "not encrypted";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);

  // In the group, mentioning the bot: answered in the group through its custom bot, signed.
  EXPECT_EQ(post(message("5", "ou_001", "group", "@_user_1 积分")).status, 200);
  ASSERT_TRUE(eventually([&] { return to("/open-apis/bot/v2/hook/abc").size() == 1; }));
  const json bot = json::parse(to("/open-apis/bot/v2/hook/abc")[0].body);
  EXPECT_EQ(bot["msg_type"], "text");
  EXPECT_THAT(bot["content"]["text"].get<std::string>(), HasSubstr("积分"));
  EXPECT_EQ(bot["sign"], adapters::feishu_bot_sign(kBotSecret, bot["timestamp"].get<std::string>()));
}

TEST_F(Feishu, ThrottlingIsRetriedAndASignatureRefusalFailsWithTheReason) {
  {
    std::lock_guard lock(mutex_);
    codes_ = {9499};
  }
  OutboundMessage m;
  m.adapter_id = "feishu";
  m.channel = ChannelKind::group;
  m.address = "oc_yizu";
  m.text = "周六大扫除。";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'feishu' AND status = 'sent'") == 1;
  }));
  EXPECT_EQ(to("/open-apis/bot/v2/hook/abc").size(), 2u);
  {
    std::lock_guard lock(mutex_);
    codes_ = {19021};
  }
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'feishu' AND status = 'failed' AND "
               "last_error LIKE '%19021%'") == 1;
  }));
  EXPECT_EQ(to("/open-apis/bot/v2/hook/abc").size(), 3u) << "not retried";
}

TEST_F(Feishu, TheTenantTokenIsCachedAndFetchedAgainWhenExpired) {
  OutboundMessage m;
  m.adapter_id = "feishu";
  m.address = "ou_001";
  m.text = "一";
  server_->runtime().messenger().send(m);
  m.text = "二";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] { return to("/open-apis/im/v1/messages").size() == 2; }));
  EXPECT_EQ(to("/open-apis/auth/v3/tenant_access_token/internal").size(), 1u);
  {
    std::lock_guard lock(mutex_);
    codes_ = {99991663};
  }
  m.text = "三";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] { return to("/open-apis/im/v1/messages").size() == 4; }));
  EXPECT_EQ(to("/open-apis/auth/v3/tenant_access_token/internal").size(), 2u);
  EXPECT_EQ(to("/open-apis/im/v1/messages")[3].headers.at("authorization"), "Bearer t-2");
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'feishu' AND status = 'sent'") == 3;
  }));
}

}  // namespace
}  // namespace villagebot

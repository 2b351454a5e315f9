// The Telegram adapter against a local HTTPS server impersonating api.telegram.org: a webhook
// update with the right secret token carrying 积分 from a mapped user is answered through
// sendMessage to the same chat (private or group); a wrong or missing secret gets 401 and
// changes nothing; 429 with retry_after is retried, "blocked by the user" fails with the reason;
// a group post goes to the group configured for 一组.
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

constexpr const char* kSecret = "hook-Secret_42";
constexpr const char* kBotToken = "123456:ABC-test";

constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,telegram\n"
    "H001,王大山,王大山,13800000001,一组,村民,5551\n"
    "H002,李四,李四,13800000003,二组,村民,5553\n";

class Telegram : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest&) {
      std::lock_guard lock(mutex_);
      if (!answers_.empty()) {
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      return FakeResponse{200, R"({"ok":true,"result":{"message_id":)" + std::to_string(++sent_) + "}}"};
    });
    testkit::Options so;
    so.people_csv = kVillage;
    so.plugins = {"points"};
    so.extra_toml = std::string("[[adapters]]\nid = \"tg\"\ntype = \"telegram\"\napi_base = \"") + api_->url("") +
                    "\"\nbot_token = \"" + kBotToken + "\"\nsecret_token = \"" + kSecret +
                    "\"\n\n[[adapters.groups]]\nchat_id = \"-1001\"\nname = \"一组群\"\norg_unit = \"一组\"\n\n"
                    "" +
                    client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }

  testkit::HttpResult update(const json& u, const std::string& secret = kSecret) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (!secret.empty()) headers.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret);
    return server_->request("POST", "/hooks/tg/webhook", u.dump(), headers);
  }
  static json text_update(int id, std::int64_t from, std::int64_t chat, const std::string& type,
                          const std::string& text) {
    return {{"update_id", id},
            {"message",
             {{"message_id", id},
              {"from", {{"id", from}, {"is_bot", false}, {"first_name", "王"}}},
              {"chat", {{"id", chat}, {"type", type}}},
              {"date", 1732838400},
              {"text", text}}}};
  }
  std::vector<json> sent_bodies() {
    std::vector<json> out;
    for (const auto& r : api_->wait_for(0, 0ms))
      if (r.target == std::string("/bot") + kBotToken + "/sendMessage") out.push_back(json::parse(r.body));
    return out;
  }

  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
  int sent_ = 0;
};

TEST_F(Telegram, ASignedUpdateIsAnsweredInTheSameChatAndAWrongSecretChangesNothing) {
  auto r = update(text_update(1, 5551, 5551, "private", "积分"));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return sent_bodies().size() == 1; }));
  auto sent = sent_bodies();
  EXPECT_EQ(sent[0]["chat_id"], "5551");
  EXPECT_THAT(sent[0]["text"].get<std::string>(), HasSubstr("积分"));
  const auto requests = api_->wait_for(1);
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/json");

  // In a group: "/积分@VillageBot" from the same person, answered in the group.
  r = update(text_update(2, 5551, -1001, "supergroup", "/积分@VillageBot"));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return sent_bodies().size() == 2; }));
  sent = sent_bodies();
  EXPECT_EQ(sent[1]["chat_id"], "-1001");
  EXPECT_THAT(sent[1]["text"].get<std::string>(), HasSubstr("积分"));
  // Telegram delivers an update again when unsure: answered once.
  EXPECT_EQ(update(text_update(2, 5551, -1001, "supergroup", "/积分@VillageBot")).status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sent_bodies().size(), 2u);

  // Wrong or missing secret: 401, nothing stored or sent.
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  EXPECT_EQ(update(text_update(3, 5553, 5553, "private", "积分"), "wrong").status, 401);
  EXPECT_EQ(update(text_update(4, 5553, 5553, "private", "积分"), "").status, 401);
  // Malformed and non-text updates.
  EXPECT_EQ(
      server_->request("POST", "/hooks/tg/webhook", "{not json", {{"X-Telegram-Bot-Api-Secret-Token", kSecret}}).status,
      400);
  EXPECT_EQ(update({{"update_id", 5}, {"message", {{"message_id", 5}, {"sticker", json::object()}}}}).status, 200);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_EQ(sent_bodies().size(), 2u);
}

TEST_F(Telegram, TooManyRequestsIsRetriedAfterRetryAfterAndABlockedUserFails) {
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1",)"
                                  R"("parameters":{"retry_after":1}})"}};
  }
  OutboundMessage m;
  m.adapter_id = "tg";
  m.address = "5551";
  m.text = "明天停水。";
  const auto started = std::chrono::steady_clock::now();
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'tg' AND status = 'sent'") == 1;
  }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms) << "retry_after honoured";
  EXPECT_EQ(sent_bodies().size(), 2u);
  {
    std::lock_guard lock(mutex_);
    answers_ = {
        FakeResponse{403, R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})"}};
  }
  m.address = "5553";
  server_->runtime().messenger().send(m);
  ASSERT_TRUE(eventually([&] {
    return server_->count(
               "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'tg' AND status = 'failed' AND "
               "last_error LIKE '%blocked by the user%'") == 1;
  }));
  EXPECT_EQ(sent_bodies().size(), 3u) << "a permanent refusal is not retried";
}

TEST_F(Telegram, AGroupPostGoesToTheGroupConfiguredForItsUnit) {
  Broadcast b;
  b.text = "一组：周六上午清扫河道。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::group_first;
  DeliveryPlan plan;
  server_->runtime().messenger().broadcast(b, &plan);
  EXPECT_EQ(plan.group_posts, 1);
  ASSERT_TRUE(eventually([&] {
    for (const auto& s : sent_bodies())
      if (s["chat_id"] == "-1001") return true;
    return false;
  }));
}

}  // namespace
}  // namespace villagebot

// The emergency plugin's acceptance points (issue 7) as the commander and the team
// notice them: a 60-member alert overtakes every queued notice; every answer is
// tracked and the latest counts; after the first step only those who have not
// answered get the re-send (person by person); escalation stops at N confirmations
// and the commander is told; 点名 and 解除 in chat.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testkit::eventually;
using testkit::MockGateway;
using testkit::TestServer;
using Api = testkit::ApiClient;
using Clock = testkit::ManualClock;

constexpr const char* kHeader = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n";

// A commander (13700000000) and `team` emergency team members (13700000001 ...), then
// `villagers` others (13600000000 ...), one household each.
std::string village(int team, int villagers) {
  std::string csv = kHeader;
  csv += "C000,指挥长,李指挥,13700000000,一组,指挥长,,,,,,,\n";
  for (int i = 1; i <= team; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "T%03d,队员%d,队员%d,%lld,一组,应急队员,,,,,,,\n", i, i, i, 13700000000LL + i);
    csv += line;
  }
  for (int i = 0; i < villagers; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "V%04d,村民%d,村民%d,%lld,二组,村民,,,,,,,\n", i, i, i, 13600000000LL + i);
    csv += line;
  }
  return csv;
}

std::string member_phone(int i) {
  return std::to_string(13700000000LL + i);
}

// ---------------------------------------------------------------------------

TEST(EmergencyAcceptance, SixtyMemberAlertOvertakesEveryQueuedNotice) {
  MockGateway gw;
  gw.set_latency(20ms);  // the notices drain slowly and stay queued
  testkit::Options o;
  o.plugins = {"emergency"};
  o.people_csv = village(60, 400);
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nconcurrency = 4\nreply_url = \"" +
                 gw.url("/sms") + "\"\n";
  o.plugin_sections = {{"emergency", "responses_needed = 10\n"}};
  TestServer server(o);
  Api admin(server, "admin");

  auto r = admin.call(
      "POST", "/api/v1/broadcasts",
      {{"text", "【通知】本月垃圾清运时间调整。"}, {"audience", {{"roles", {"villager"}}}}, {"policy", "sms_all"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_TRUE(gw.wait_for_accepted(20));
  r = admin.call("POST", "/api/v1/emergency/alerts",
                 {{"kind", "防汛"}, {"text", "河水上涨，请立即到村委会集合"}, {"meeting_point", "村委会"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto t0 = std::chrono::steady_clock::now();  // the alert is accepted (durable, queued)
  EXPECT_EQ(r.body["delivery"]["plan"]["sms"], 60) << r.raw;

  std::set<std::string> alerted;
  ASSERT_TRUE(eventually([&] {
    alerted.clear();
    for (const auto& m : gw.messages())
      if (m.text.find("河水上涨") != std::string::npos) alerted.insert(m.recipient);
    return alerted.size() == 60;
  })) << alerted.size();
  // Between the alert's acceptance and its last SMS, at most the notices already in flight
  // (the SMS adapter's concurrency) reached the gateway: no queued notice went first.
  std::chrono::steady_clock::time_point last_alert{};
  for (const auto& m : gw.messages())
    if (m.text.find("河水上涨") != std::string::npos) last_alert = std::max(last_alert, m.received);
  int notices_in_between = 0;
  for (const auto& m : gw.messages())
    if (m.text.find("垃圾清运") != std::string::npos && m.received > t0 && m.received < last_alert)
      ++notices_in_between;
  EXPECT_LE(notices_in_between, 4);
  for (int i = 1; i <= 60; ++i) EXPECT_TRUE(alerted.contains("+86" + member_phone(i))) << i;
  for (const auto& m : gw.messages())
    if (m.text.find("河水上涨") != std::string::npos) {
      EXPECT_THAT(m.text, HasSubstr("回复 1 到岗，2 无法到岗"));
      EXPECT_THAT(m.text, HasSubstr("集合点：村委会"));
    }
  const auto queued = server.count("SELECT COUNT(*) FROM core_outbox WHERE status = 'queued'");
  EXPECT_GT(queued, 100) << "the notices were still queued when the alert had gone out";
}

// ---------------------------------------------------------------------------

TEST(EmergencyAcceptance, OnlyNonRespondersAreReSentAndEscalationStopsAtN) {
  MockGateway gw;
  Clock clock;
  testkit::Options o;
  o.plugins = {"emergency"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = village(6, 0);
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") +
                 "\"\n\n[[plugins.emergency.escalation]]\nafter_minutes = 3\naction = \"resend\"\n\n"
                 "[[plugins.emergency.escalation]]\nafter_minutes = 10\naction = \"notify_commander\"\n";
  o.plugin_sections = {{"emergency", "responses_needed = 3\nrepeat = 1\n"}};
  TestServer server(o);

  // The commander triggers it in chat.
  auto replies = server.send("13700000000", "应急 防汛：河水上涨，带好救生衣 集合点 村委会");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], HasSubstr("已发出第 1 号警报"));
  EXPECT_THAT(replies[0], HasSubstr("6 人"));
  ASSERT_TRUE(gw.wait_for_accepted(6));
  auto sms_to = [&](int i) { return gw.accepted_for("+86" + member_phone(i)); };

  // Answers: 1 and 2 are coming, 3 first cannot, then can (the latest counts).
  EXPECT_THAT(server.send(member_phone(1), "1").at(0), HasSubstr("已记录您到岗"));
  EXPECT_THAT(server.send(member_phone(1), "1").at(0), HasSubstr("集合点：村委会"));
  EXPECT_THAT(server.send(member_phone(2), "到").at(0), HasSubstr("到岗"));
  EXPECT_THAT(server.send(member_phone(3), "2").at(0), HasSubstr("无法到岗"));
  auto roll = server.send("13700000000", "点名").at(0);
  EXPECT_THAT(roll, HasSubstr("到岗 2/3 人"));
  EXPECT_THAT(roll, HasSubstr("无法到岗 1 人：队员3"));
  EXPECT_THAT(roll, HasSubstr("未回复 3 人"));

  // A minute before the first step: nothing more.
  clock.advance(3min - 1min);
  server.poke_scheduler();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(gw.accepted(), 6u);
  // The first step: the re-send goes to 4, 5 and 6 only.
  clock.advance(1min + 1s);
  server.poke_scheduler();
  ASSERT_TRUE(eventually([&] { return gw.accepted() >= 9; })) << gw.accepted();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 9u);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(sms_to(i), 1u) << "answered: no re-send for member " << i;
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(sms_to(i), 2u) << "no answer: re-sent to member " << i;
  for (const auto& m : gw.messages())
    if (m.recipient == "+86" + member_phone(4) && m.text.find("再次通知") != std::string::npos) {
      EXPECT_THAT(m.text, HasSubstr("河水上涨"));
    }

  // Member 3 changes his mind: the third one coming makes N; the commander is told.
  EXPECT_THAT(server.send(member_phone(3), "收到").at(0), HasSubstr("到岗"));
  ASSERT_TRUE(eventually([&] {
    for (const auto& m : gw.messages())
      if (m.recipient == "+8613700000000" && m.text.find("达到所需") != std::string::npos) return true;
    return false;
  }));
  roll = server.send("13700000000", "点名").at(0);
  EXPECT_THAT(roll, HasSubstr("到岗 3/3 人"));
  EXPECT_THAT(roll, HasSubstr("无法到岗 0 人"));
  const auto after_enough = gw.accepted();
  // Escalation stopped: the commander step and the whole second cycle never come.
  for (int k = 0; k < 4; ++k) {
    clock.advance(10min);
    server.poke_scheduler();
  }
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(gw.accepted(), after_enough);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_steps"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_timeline WHERE event = 'enough'"), 1);

  // 解除: everyone alerted hears it; the commander's answer names the alert.
  EXPECT_THAT(server.send("13700000000", "解除").at(0), HasSubstr("已解除"));
  ASSERT_TRUE(eventually([&] { return sms_to(6) == 3u; }));
  EXPECT_THAT(server.send(member_phone(5), "1").at(0), HasSubstr("不再计入"));
  EXPECT_THAT(server.send("13700000000", "点名").at(0), HasSubstr("没有进行中"));
}

// Without answers the chain runs every step of every cycle, once each, and stops.
TEST(EmergencyAcceptance, TheChainRunsEachStepOnceAndRepeatsKTimes) {
  MockGateway gw;
  Clock clock;
  testkit::Options o;
  o.plugins = {"emergency"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = village(2, 0);
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") +
                 "\"\n\n[[plugins.emergency.escalation]]\nafter_minutes = 3\naction = \"resend\"\n\n"
                 "[[plugins.emergency.escalation]]\nafter_minutes = 5\naction = \"notify_commander\"\n";
  o.plugin_sections = {{"emergency", "responses_needed = 2\nrepeat = 1\n"}};
  TestServer server(o);
  server.send("13700000000", "应急 山火 集合点 林场");
  ASSERT_TRUE(gw.wait_for_accepted(2));
  for (int minute = 1; minute <= 30; ++minute) {
    clock.advance(1min);
    server.poke_scheduler();
    std::this_thread::sleep_for(60ms);
  }
  ASSERT_TRUE(eventually([&] { return server.count("SELECT COUNT(*) FROM em_steps") == 4; }))
      << server.count("SELECT COUNT(*) FROM em_steps");
  std::this_thread::sleep_for(300ms);
  // Alert + 2 re-sends to each member; the commander twice.
  EXPECT_EQ(gw.accepted_for("+8613700000001"), 3u);
  EXPECT_EQ(gw.accepted_for("+8613700000002"), 3u);
  EXPECT_EQ(gw.accepted_for("+8613700000000"), 2u);
  for (const auto& m : gw.messages())
    if (m.recipient == "+8613700000000") {
      EXPECT_THAT(m.text, HasSubstr("未回复 2 人"));
    }
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_steps WHERE cycle = 1"), 2);
}

}  // namespace
}  // namespace villagebot

// The announcements plugin's acceptance points (issue 6) as users notice them:
// a notice to 一组 on the demo directory reaches each covering group chat once
// and by SMS exactly those without a chat account; the reminder goes once, at
// its time, only to those who have not acknowledged; 未读 lists a central
// household head's linked households that have not acknowledged; a cadre
// cannot address people outside their units, in chat or through the API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
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

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::stringstream s(line);
  while (std::getline(s, cell, sep)) out.push_back(cell);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

// ---------------------------------------------------------------------------
// A notice to 一组, group-first, on the demo directory: one post in each group
// chat that covers part of 一组 (none in 二组's), and an SMS to exactly the
// members of 一组 who have no WeCom account (the chat platform configured).

TEST(AnnouncementsAcceptance, GroupFirstNoticeToYiZuOnTheDemoDirectory) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.people_csv = read_file(std::string(VILLAGEBOT_SOURCE_DIR) + "/config/demo/people.csv");
  // The generic webhook stands in for a WeCom bridge: people are known by their WeCom ids.
  o.adapter_toml = "identity = \"wecom\"\nreply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml =
      "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  TestServer server(o);
  Api admin(server, "admin");

  // What the demo directory says: members of 一组 (either 院落) with and without a WeCom id.
  std::set<std::string> sms_expected;
  int with_wecom = 0;
  std::stringstream csv(o.people_csv);
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    const auto c = split(line, ',');
    ASSERT_GE(c.size(), 7u) << line;
    if (!c[4].starts_with("一组")) continue;
    if (!c[6].empty())
      ++with_wecom;
    else if (!c[3].empty())
      sms_expected.insert("+86" + c[3]);
  }
  ASSERT_GT(with_wecom, 0);
  ASSERT_GT(sms_expected.size(), 0u);

  auto unit = [&](const std::string& path) {
    return server.count("SELECT id FROM core_org_units WHERE path = '" + path + "'");
  };
  for (const auto& [chat, path] : std::vector<std::pair<std::string, std::string>>{
           {"grp-dongyuan", "一组/东院"}, {"grp-xiyuan", "一组/西院"}, {"grp-erzu", "二组"}}) {
    auto r = admin.call("POST", "/api/v1/group-chats",
                        {{"adapter_id", "generic"}, {"chat_id", chat}, {"name", chat}, {"org_unit_id", unit(path)}});
    ASSERT_EQ(r.status, 201) << r.raw;
  }

  const json body = {{"title", "一组开会"},
                     {"body", "今晚7点在一组文化广场开院坝会，商量修路的事。"},
                     {"audience", {{"org_units", {unit("一组")}}}},
                     {"policy", "group_first"}};
  auto dry = admin.call("POST", "/api/v1/announcements/notices?dry_run=true", body);
  ASSERT_EQ(dry.status, 200) << dry.raw;
  EXPECT_EQ(dry.body["plan"]["group_posts"], 2) << dry.raw;
  EXPECT_EQ(dry.body["plan"]["covered_by_groups"], with_wecom) << dry.raw;
  EXPECT_EQ(dry.body["plan"]["sms"], static_cast<std::int64_t>(sms_expected.size())) << dry.raw;
  EXPECT_EQ(dry.body["plan"]["personal_chats"], 0) << dry.raw;

  auto r = admin.call("POST", "/api/v1/announcements/notices", body);
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::size_t total = 2 + sms_expected.size();
  ASSERT_TRUE(gw.wait_for_accepted(total)) << gw.accepted() << " of " << total;
  std::this_thread::sleep_for(300ms);  // nothing more comes
  EXPECT_EQ(gw.accepted(), total);
  EXPECT_EQ(gw.accepted_for("grp-dongyuan"), 1u);
  EXPECT_EQ(gw.accepted_for("grp-xiyuan"), 1u);
  EXPECT_EQ(gw.accepted_for("grp-erzu"), 0u);
  std::set<std::string> sms_got;
  for (const auto& m : gw.messages()) {
    EXPECT_THAT(m.text, HasSubstr("商量修路的事"));
    if (m.target == "/sms") {
      EXPECT_TRUE(sms_got.insert(m.recipient).second) << "twice: " << m.recipient;
    } else {
      EXPECT_EQ(m.target, "/chat");
    }
  }
  EXPECT_EQ(sms_got, sms_expected);

  // The detail counts every person of 一组 once: by group or by SMS.
  const auto id = r.body["notice"]["id"].get<std::int64_t>();
  auto d = admin.call("GET", "/api/v1/announcements/notices/" + std::to_string(id));
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["delivery"]["via"]["group"], with_wecom) << d.raw;
  EXPECT_EQ(d.body["delivery"]["via"]["sms"], static_cast<std::int64_t>(sms_expected.size())) << d.raw;
}

// ---------------------------------------------------------------------------
// The reminder: once, at the configured time (the test's clock), by SMS, only
// to those who have not acknowledged; not again after a restart.

TEST(AnnouncementsAcceptance, ReminderGoesOnceAtItsTimeOnlyToThoseWhoHaveNotAcknowledged) {
  MockGateway gw;
  Clock clock;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.now = [&clock] { return clock.now(); };
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml =
      "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 2\n"}};
  TestServer server(o);
  Api admin(server, "admin");

  auto r = admin.call(
      "POST", "/api/v1/announcements/notices",
      {{"body", "明天上午停水，请提前储水。"}, {"audience", {{"everyone", true}}}, {"policy", "personal_all"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = std::to_string(r.body["notice"]["id"].get<std::int64_t>());
  ASSERT_TRUE(gw.wait_for_accepted(5));
  EXPECT_EQ(gw.accepted(), 5u);

  // Two acknowledge.
  EXPECT_THAT(server.send("13800000001", "收到").at(0), HasSubstr("已确认收到"));
  EXPECT_THAT(server.send("13800000004", "1").at(0), HasSubstr("已确认收到"));

  auto sms_count = [&] {
    std::size_t n = 0;
    for (const auto& m : gw.messages()) n += m.target == "/sms" ? 1 : 0;
    return n;
  };
  // A minute before its time: nothing.
  clock.advance(2h - 1min);
  server.poke_scheduler();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sms_count(), 0u);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices WHERE reminded_at_ms IS NOT NULL"), 0);

  clock.advance(2min);
  server.poke_scheduler();
  ASSERT_TRUE(eventually([&] { return sms_count() >= 3; })) << sms_count();
  std::this_thread::sleep_for(300ms);
  std::set<std::string> reminded;
  for (const auto& m : gw.messages())
    if (m.target == "/sms") {
      reminded.insert(m.recipient);
      EXPECT_THAT(m.text, HasSubstr("提醒"));
    }
  EXPECT_EQ(reminded, (std::set<std::string>{"+8613800000002", "+8613800000003", "+8613800000009"}));
  EXPECT_EQ(sms_count(), 3u);

  // 收到 to the reminder acknowledges the notice itself.
  EXPECT_THAT(server.send("13800000002", "收到").at(0), HasSubstr("已确认收到"));
  auto d = admin.call("GET", "/api/v1/announcements/notices/" + id);
  EXPECT_EQ(d.body["delivery"]["acknowledged"], 3) << d.raw;
  EXPECT_EQ(d.body["notice"]["reminded_persons"], 3) << d.raw;

  // Not again: later, after a restart, and with the clock far ahead.
  server.restart();
  clock.advance(48h);
  server.poke_scheduler();
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(sms_count(), 3u);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts WHERE kind = 'reminder'"), 1);
}

// ---------------------------------------------------------------------------
// 未读: a central household head sees exactly his linked households that have not
// acknowledged the latest notice.

TEST(AnnouncementsAcceptance, UnreadListsExactlyTheLinkedHouseholdsThatHaveNotAcknowledged) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  // H001's head is the central household head; H002, H003 and H005 are linked to H001, H004 is not.
  o.people_csv =
      "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"
      "H001,王大山,王大山,13800000001,一组,中心户长,,,,,,,\n"
      "H001,王大山,王小红,13800000002,一组,村干部,,,,,,,\n"
      "H002,李四,李四,13800000003,一组,村民,,,,,,H001,\n"
      "H002,李四,李小四,13800000005,一组,村民,,,,,,H001,\n"
      "H003,赵五,赵五,13800000004,一组,村民,,,,,,H001,\n"
      "H005,孙六,孙六,13800000006,一组,村民,,,,,,H001,\n"
      "H004,钱七,钱七,13800000009,二组,管理员,,,,,,,\n";
  TestServer server(o);
  Api admin(server, "admin");

  EXPECT_THAT(server.send("13800000001", "未读").at(0), HasSubstr("没有"));  // no notice yet
  auto r = admin.call("POST", "/api/v1/announcements/notices",
                      {{"body", "周六上午全村大扫除。"}, {"audience", {{"everyone", true}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_TRUE(gw.wait_for_accepted(7));
  server.send("13800000005", "收到");  // one member of H002 is enough for the household
  server.send("13800000009", "收到");  // H004 is not linked
  server.send("13800000001", "收到");  // his own household does not count

  const auto text = server.send("13800000001", "未读").at(0);
  EXPECT_THAT(text, HasSubstr("H003"));
  EXPECT_THAT(text, HasSubstr("H005"));
  EXPECT_THAT(text, HasSubstr("13800000004"));  // he calls them
  EXPECT_THAT(text, Not(HasSubstr("H002")));
  EXPECT_THAT(text, Not(HasSubstr("H004")));
  EXPECT_THAT(text, Not(HasSubstr("H001")));
  EXPECT_THAT(text, HasSubstr("3 户中有 2 户未确认"));

  server.send("13800000004", "收到");
  server.send("13800000006", "收到");
  EXPECT_THAT(server.send("13800000001", "未读").at(0), HasSubstr("都已确认"));
  // A villager may not use it.
  EXPECT_THAT(server.send("13800000003", "未读").at(0), Not(HasSubstr("H00")));
}

// ---------------------------------------------------------------------------
// Scope: the cadre for 一组 notifies 一组 (after 确认) but not 二组 or the whole
// village — refused in chat, 403 through the API, and nothing is sent.

TEST(AnnouncementsAcceptance, CadreCannotAddressPeopleOutsideTheirUnits) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  TestServer server(o);
  const auto cadre = server.count("SELECT id FROM core_persons WHERE phone = '+8613800000002'");
  const auto erzu = server.count("SELECT id FROM core_org_units WHERE path = '二组'");
  const auto yizu = server.count("SELECT id FROM core_org_units WHERE path = '一组'");
  ASSERT_GT(cadre, 0);

  // Chat: another unit is refused at once.
  auto replies = server.send("13800000002", "通知 二组 明天开会");
  EXPECT_THAT(replies.at(0), HasSubstr("不在您负责的范围"));
  EXPECT_THAT(server.send("13800000002", "通知 全村 明天开会").at(0), HasSubstr("不在您负责的范围"));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);

  // Their own: the 确认 step shows the audience and the channels first; nothing is sent before it.
  replies = server.send("13800000002", "通知 明天上午9点一组开会");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], HasSubstr("共 2 人"));
  EXPECT_THAT(replies[0], HasSubstr("短信 0 条"));
  EXPECT_THAT(replies[0], HasSubstr("回复「确认」"));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw.accepted(), 0u);
  replies = server.send("13800000002", "确认");
  EXPECT_THAT(replies.at(0), HasSubstr("已发送第 1 号通知"));
  ASSERT_TRUE(gw.wait_for_accepted(2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw.accepted(), 2u);
  EXPECT_EQ(gw.accepted_for("+8613800000001"), 1u);
  EXPECT_EQ(gw.accepted_for("+8613800000002"), 1u);
  // A second 确认 sends nothing more (the question was answered).
  server.send("13800000002", "确认");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gw.accepted(), 2u);
  // 取消 drops a prepared notice.
  server.send("13800000002", "通知 周五停电");
  EXPECT_THAT(server.send("13800000002", "取消").at(0), HasSubstr("没有发送"));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 1);
  // A villager cannot use 通知 at all.
  server.send("13800000001", "通知 大家好");
  EXPECT_THAT(server.send("13800000001", "确认").at(0), Not(HasSubstr("已发送")));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 1);

  // API: a token acting for the cadre.
  Api api(server, "cadre", cadre);
  auto r = api.call("POST", "/api/v1/announcements/notices",
                    {{"body", "二组明天修路"}, {"audience", {{"org_units", {erzu}}}}});
  EXPECT_EQ(r.status, 403) << r.raw;
  r = api.call("POST", "/api/v1/announcements/notices", {{"body", "全村大会"}, {"audience", {{"everyone", true}}}});
  EXPECT_EQ(r.status, 403) << r.raw;
  r = api.call("POST", "/api/v1/announcements/notices?dry_run=true",
               {{"body", "二组明天修路"}, {"audience", {{"org_units", {erzu}}}}});
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 1);
  r = api.call("POST", "/api/v1/announcements/notices",
               {{"body", "一组明天修路"}, {"audience", {{"org_units", {yizu}}}}});
  EXPECT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices"), 2);
  // A notice outside their units cannot be cancelled by them either.
  Api admin(server, "admin");
  r = admin.call("POST", "/api/v1/announcements/notices",
                 {{"body", "二组通知"}, {"audience", {{"org_units", {erzu}}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  r = api.call("DELETE", "/api/v1/announcements/notices/" + std::to_string(r.body["notice"]["id"].get<std::int64_t>()));
  EXPECT_EQ(r.status, 403) << r.raw;
}

// ---------------------------------------------------------------------------
// Villagers: 最新通知 shows the last three addressed to them, newest first;
// 收到 acknowledges the latest notice that asks for it, not a later 红榜.

TEST(AnnouncementsAcceptance, LatestNoticesAndAcknowledgingTheOneThatAsks) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  TestServer server(o);
  Api admin(server, "admin");
  EXPECT_THAT(server.send("13800000001", "最新通知").at(0), HasSubstr("没有"));
  const auto erzu = server.count("SELECT id FROM core_org_units WHERE path = '二组'");
  for (const char* body : {"第一条：修路", "第二条：打扫", "第三条：开会", "第四条：停水"})
    ASSERT_EQ(admin.call("POST", "/api/v1/announcements/notices", {{"body", body}, {"audience", {{"everyone", true}}}})
                  .status,
              201);
  // Not for 13800000001.
  ASSERT_EQ(admin
                .call("POST", "/api/v1/announcements/notices",
                      {{"body", "第五条：只发二组"}, {"audience", {{"org_units", {erzu}}}}})
                .status,
            201);
  // A notice that does not ask for 收到.
  ASSERT_EQ(
      admin
          .call(
              "POST", "/api/v1/announcements/notices",
              {{"body", "第六条：红榜"}, {"category", "红榜"}, {"ask_ack", false}, {"audience", {{"everyone", true}}}})
          .status,
      201);
  const auto text = server.send("13800000001", "最新通知").at(0);
  EXPECT_THAT(text, HasSubstr("第六条"));
  EXPECT_THAT(text, HasSubstr("第四条"));
  EXPECT_THAT(text, HasSubstr("第三条"));
  EXPECT_THAT(text, Not(HasSubstr("第二条")));
  EXPECT_THAT(text, Not(HasSubstr("第五条")));
  EXPECT_LT(text.find("第六条"), text.find("第四条"));

  EXPECT_THAT(server.send("13800000001", "收到").at(0), HasSubstr("第四条"));
  const auto acked = server.count(
      "SELECT n.id FROM ann_notices n JOIN core_broadcast_recipients r ON r.broadcast_id = n.broadcast_id "
      "JOIN core_persons p ON p.id = r.person_id WHERE p.phone = '+8613800000001' AND r.acked_at_ms IS NOT NULL");
  EXPECT_EQ(acked, 4);
  EXPECT_THAT(server.send("13800000001", "最新通知").at(0), HasSubstr("已确认"));
}

}  // namespace
}  // namespace villagebot

namespace villagebot {
namespace {

// A crash after a notice was stored and before its broadcast was written leaves it
// "sending": the next start sends it, once (its broadcast key), and never again.
TEST(AnnouncementsAcceptance, ANoticeACrashLeftUnsentIsSentOnceAtTheNextStart) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  TestServer server(o);
  server.runtime().storage().write_sync([](Session& s) {
    s.execute(
        "INSERT INTO ann_notices (title, body, category, audience, policy, status, source, created_at_ms) "
        "VALUES ('停电', '周五停电', '通知', '{\"everyone\":true}', 'personal_all', 'sending', 'api', 1)");
  });
  EXPECT_EQ(gw.accepted(), 0u);
  server.restart();
  ASSERT_TRUE(gw.wait_for_accepted(5));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM ann_notices WHERE status = 'sent' AND broadcast_id IS NOT NULL"), 1);
  server.restart();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(gw.accepted(), 5u);
  EXPECT_TRUE(gw.duplicates().empty());
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 1);
}

}  // namespace
}  // namespace villagebot

namespace villagebot {
namespace {

// What a cadre writes is what villagers read: punctuation, times and line breaks survive
// the chat (normalisation only helps to find the command); a message that merely starts
// with 1 is not a 收到; a cadre cannot read who received a notice outside their units.
TEST(AnnouncementsAcceptance, ChatNoticesKeepTheirPunctuationAndOnlyABare1Acknowledges) {
  MockGateway gw;
  testkit::Options o;
  o.plugins = {"announcements"};
  o.adapter_toml = "reply_url = \"" + gw.url("/send") + "\"\n";
  o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
  TestServer server(o);
  const std::string body = "开会时间：20:30，地点：村委会。\n请带上身份证";
  auto replies = server.send("13800000002", "通知：" + body);
  ASSERT_THAT(replies.at(0), HasSubstr(body));
  server.send("13800000002", "确认");
  ASSERT_TRUE(gw.wait_for_accepted(2));
  for (const auto& m : gw.messages()) EXPECT_THAT(m.text, HasSubstr(body));

  EXPECT_THAT(server.send("13800000001", "1号田水渠坏了").at(0), Not(HasSubstr("已确认")));
  const auto acked = [&] {
    return server.count("SELECT COUNT(*) FROM core_broadcast_recipients WHERE acked_at_ms IS NOT NULL");
  };
  EXPECT_EQ(acked(), 0);
  EXPECT_THAT(server.send("13800000001", "1").at(0), HasSubstr("已确认收到"));
  EXPECT_EQ(acked(), 1);

  // The admin's village-wide notice: the 一组 cadre's token may not list its recipients.
  Api admin(server, "admin");
  auto r =
      admin.call("POST", "/api/v1/announcements/notices", {{"body", "全村通知"}, {"audience", {{"everyone", true}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = std::to_string(r.body["notice"]["id"].get<std::int64_t>());
  Api cadre(server, "cadre", server.count("SELECT id FROM core_persons WHERE phone = '+8613800000002'"));
  EXPECT_EQ(cadre.call("GET", "/api/v1/announcements/notices/" + id + "/recipients").status, 403);
  EXPECT_EQ(cadre.call("GET", "/api/v1/announcements/notices/" + id + "/acknowledgements.csv").status, 403);
  EXPECT_EQ(cadre.call("GET", "/api/v1/announcements/notices/1/recipients").status, 200);  // her own, in 一组
}

}  // namespace
}  // namespace villagebot

// The emergency plugin's API and its crash safety, as the commander and the team
// notice them:
//   - kill -9 of the real `villagebot serve` between two escalation steps: after the
//     restart the next step runs once, nobody gets a re-send twice, the answers given
//     before the kill still count and answers after it are recorded;
//   - a drill: every message that leaves the server is marked 【演练】, and the
//     statistics leave it out unless asked;
//   - stand-down: everyone alerted is told once; later answers are thanked, not counted;
//     a second stand-down is refused;
//   - a villager outside the team: 2 is politely refused, 收到 stays the core's;
//   - the timeline for the after-action review (JSON and the Excel CSV);
//   - bad requests are refused and store nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http_client.hpp"
#include "mock_gateway.hpp"
#include "process.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testkit::ApiReply;
using testkit::eventually;
using testkit::MockGateway;
using testkit::TestServer;
using Api = testkit::ApiClient;
using Clock = testkit::ManualClock;  // 2026-11-30 10:00 Beijing time

constexpr const char* kCommanderPhone = "13900000099";
constexpr const char* kCommanderName = "周指挥";
constexpr const char* kVillagerPhone = "13900000060";
constexpr const char* kHeadPhone = "13900000050";  // 中心户长 of every member's household
constexpr const char* kNames[10] = {"赵刚", "钱明", "孙亮", "李强", "吴勇", "郑伟", "王磊", "冯军", "陈杰", "褚涛"};

// Member i (1-based): 139000000ii.
std::string member_phone(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "139000000%02d", i);
  return buf;
}
std::string e164(const std::string& phone) {
  return "+86" + phone;
}

// A central household head (Z001), a commander, `members` emergency team members in
// 一组 (households T001 ... linked to Z001) and a villager who is not on the team.
std::string village_csv(int members) {
  std::string csv = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n";
  csv += std::string("Z001,孙中心,孙中心,") + kHeadPhone + ",一组,中心户长,,,,,,,\n";
  csv += std::string("C001,") + kCommanderName + "," + kCommanderName + "," + kCommanderPhone + ",二组,指挥长,,,,,,,\n";
  for (int i = 1; i <= members; ++i) {
    char code[16];
    std::snprintf(code, sizeof code, "T%03d", i);
    const std::string name = kNames[i - 1];
    csv += std::string(code) + "," + name + "," + name + "," + member_phone(i) + ",一组,应急队员,,,,,,Z001,\n";
  }
  csv += std::string("V001,何村民,何村民,") + kVillagerPhone + ",一组,村民,,,,,,,\n";
  return csv;
}

// The in-process server: chat replies to the gateway's /chat, SMS to /sms.
testkit::Options options(const MockGateway& gw, Clock& clock, const std::string& emergency_toml,
                         const std::string& escalation_toml = {}) {
  testkit::Options o;
  o.plugins = {"emergency"};
  o.now = [&clock] { return clock.now(); };
  o.people_csv = village_csv(4);
  o.adapter_toml = "reply_url = \"" + gw.url("/chat") + "\"\n";
  o.extra_toml = "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") +
                 "\"\n\n" + escalation_toml;
  o.plugin_sections = {{"emergency", emergency_toml}};
  return o;
}

std::int64_t person_id(TestServer& server, const std::string& phone) {
  return server.count("SELECT id FROM core_persons WHERE phone = '" + e164(phone) + "'");
}

std::vector<std::string> texts_to(const MockGateway& gw, const std::string& recipient) {
  std::vector<std::string> out;
  for (const auto& m : gw.messages())
    if (m.recipient == recipient) out.push_back(m.text);
  return out;
}

std::size_t count_containing(const std::vector<std::string>& texts, const std::string& needle) {
  return static_cast<std::size_t>(std::count_if(
      texts.begin(), texts.end(), [&](const std::string& t) { return t.find(needle) != std::string::npos; }));
}

std::int64_t alert_id_of(const ApiReply& r) {
  return r.body.is_object() && r.body.contains("alert") ? r.body["alert"].value("id", std::int64_t{0}) : 0;
}

// ===========================================================================
// 1. kill -9 of the real binary between the re-send and the commander's report.

using testkit::Child;
using testkit::run;
using testkit::RunResult;

constexpr int kCrashMembers = 10;

std::string crash_config(const fs::path& db, const MockGateway& gw) {
  std::string t = "[village]\nname = \"测试村\"\n\n";
  t += "[server]\nlisten = \"127.0.0.1:0\"\nthreads = 2\nshutdown_grace_ms = 5000\n\n";
  t += "[storage]\npath = \"" + db.string() + "\"\n\n";
  t += "[pipeline]\nrate_limit_messages = 0\n\n";
  t += "[plugins]\ndir = \"" VILLAGEBOT_MODULE_DIR "\"\nenabled = [\"emergency\"]\n\n";
  t += "[plugins.emergency]\nresponses_needed = 10\n\n";
  t += "[[plugins.emergency.escalation]]\nafter_seconds = 2\naction = \"resend\"\n\n";
  t += "[[plugins.emergency.escalation]]\nafter_seconds = 5\naction = \"notify_commander\"\n\n";
  t += "[[adapters]]\nid = \"generic\"\ntype = \"generic-webhook\"\nreply_url = \"" + gw.url("/chat") + "\"\n\n";
  t += "[[adapters]]\nid = \"sms\"\ntype = \"generic-webhook\"\nsms = true\nreply_url = \"" + gw.url("/sms") + "\"\n";
  return t;
}

// A village on disk: config, people imported with the CLI, a commander's token from the CLI.
struct CrashVillage {
  fs::path dir = testkit::make_temp_dir("villagebot-emergency-crash");
  fs::path config = dir / "villagebot.toml";
  fs::path db = dir / "villagebot.db";
  std::string token;

  explicit CrashVillage(const MockGateway& gw) {
    std::ofstream(config) << crash_config(db, gw);
    std::string csv = "户号,户主,姓名,手机,村民小组,角色\n";
    csv += std::string("C001,") + kCommanderName + "," + kCommanderName + "," + kCommanderPhone + ",一组,指挥长\n";
    for (int i = 1; i <= kCrashMembers; ++i) {
      char code[8];
      std::snprintf(code, sizeof code, "T%03d", i);
      csv += std::string(code) + "," + kNames[i - 1] + "," + kNames[i - 1] + "," + member_phone(i) + ",一组,应急队员\n";
    }
    std::ofstream(dir / "people.csv") << csv;
    const auto imported =
        run({VILLAGEBOT_EXE, "import", "people", (dir / "people.csv").string(), "--config", config.string()});
    if (imported.exit_code != 0) throw std::runtime_error("import failed: " + imported.out + imported.err);
    const auto created = run({VILLAGEBOT_EXE, "token", "create", "--name", "commander", "--role", "commander",
                              "--person", kCommanderPhone, "--config", config.string()});
    if (created.exit_code != 0) throw std::runtime_error("token create failed: " + created.out + created.err);
    token = created.out.substr(0, created.out.find('\n'));
  }
  ~CrashVillage() {
    std::error_code ec;
    if (std::getenv("VILLAGEBOT_TEST_KEEP") == nullptr) fs::remove_all(dir, ec);
  }
  CrashVillage(const CrashVillage&) = delete;
  CrashVillage& operator=(const CrashVillage&) = delete;

  // The sqlite3 tool beside the running server (-cmd .timeout: the server takes short write locks).
  [[nodiscard]] std::string sql(const std::string& query) const {
    const auto r = run({"sqlite3", "-cmd", ".timeout 10000", db.string(), query});
    if (r.exit_code != 0) ADD_FAILURE() << "sqlite3: " << r.err;
    return r.out;
  }
  [[nodiscard]] std::int64_t count(const std::string& query) const {
    const auto out = sql(query);
    return out.empty() ? -1 : std::stoll(out);
  }
};

// `villagebot serve`: the API with the commander's token, and the generic webhook.
class Serve {
 public:
  explicit Serve(const CrashVillage& v)
      : village_(v), child_({VILLAGEBOT_EXE, "serve", "--config", v.config.string()}) {
    port_ = testkit::port_from_line(child_.wait_for_line("listening on", 60s));
    if (port_ <= 0) {
      const auto r = child_.wait(100ms);
      throw std::runtime_error("villagebot serve did not start: " + r.out + r.err);
    }
  }
  ApiReply api(const std::string& method, const std::string& path, const json& body = nullptr) {
    return call(method, path, body.is_null() ? std::string() : body.dump(),
                {{"Authorization", "Bearer " + village_.token}, {"Content-Type", "application/json"}});
  }
  // A member's message through POST /hooks/generic; the reply texts.
  std::vector<std::string> hook(const std::string& message_id, const std::string& sender, const std::string& text) {
    const auto r =
        call("POST", "/hooks/generic", json{{"message_id", message_id}, {"sender", sender}, {"text", text}}.dump(),
             {{"Content-Type", "application/json"}});
    std::vector<std::string> out;
    EXPECT_EQ(r.status, 200) << r.raw;
    if (r.body.is_object() && r.body.contains("replies"))
      for (const auto& reply : r.body["replies"]) out.push_back(reply.value("text", ""));
    return out;
  }
  // Reads what the server printed (so that its pipes never fill); false once it has exited.
  bool alive() { return child_.wait(1ms).exit_code == -2; }
  void kill9() {
    child_.signal(SIGKILL);
    const auto r = child_.wait(30s);
    if (r.signal != SIGKILL) ADD_FAILURE() << "the server did not die of SIGKILL: exit " << r.exit_code << r.err;
  }
  RunResult terminate() {
    child_.signal(SIGTERM);
    return child_.wait(60s);
  }

 private:
  ApiReply call(const std::string& method, const std::string& path, const std::string& body,
                std::vector<std::pair<std::string, std::string>> headers) {
    ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    req.body = body;
    req.headers = std::move(headers);
    req.timeout = 30s;
    const auto r = client_.request(req);
    return {r.status, json::parse(r.body, nullptr, false), r.body + r.error};
  }
  const CrashVillage& village_;
  Child child_;
  http::BeastHttpClient client_;
  int port_ = 0;
};

TEST(EmergencyCrash, KillDashNineBetweenStepsResumesTheChainWithoutRepeatingAndKeepsTheAnswers) {
  MockGateway gw;
  CrashVillage v(gw);
  const std::string commander = e164(kCommanderPhone);
  auto resends = [&] {
    std::size_t n = 0;
    for (const auto& m : gw.messages())
      if (m.target == "/sms" && m.text.find("再次通知") != std::string::npos) ++n;
    return n;
  };
  std::int64_t id = 0;
  {
    Serve server(v);
    const auto r = server.api("POST", "/api/v1/emergency/alerts",
                              {{"kind", "防汛"}, {"text", "河水上涨，请带好救生衣"}, {"meeting_point", "村委会"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    id = alert_id_of(r);
    ASSERT_GT(id, 0) << r.raw;
    // Two members answer through the generic webhook before the first step (2 s).
    EXPECT_THAT(server.hook("m-1", member_phone(1), "1").at(0), HasSubstr("到岗"));
    EXPECT_THAT(server.hook("m-2", member_phone(2), "1").at(0), HasSubstr("到岗"));
    // Step 0 ran: the other eight got the re-send, and the outbox knows they were sent.
    ASSERT_TRUE(eventually(
        [&] {
          EXPECT_TRUE(server.alive());
          return resends() >= 8;
        },
        20s))
        << resends() << " re-sends at the gateway";
    ASSERT_TRUE(eventually(
        [&] { return v.count("SELECT COUNT(*) FROM core_outbox WHERE status IN ('queued', 'sending')") == 0; }));
    ASSERT_EQ(gw.accepted_for(commander), 0u)
        << "the kill must come between the re-send (2 s) and the commander's report (5 s)";
    server.kill9();
  }
  EXPECT_EQ(resends(), 8u);

  Serve server(v);
  // The commander's report (step 1) comes once, and it counts the answers given before the kill.
  ASSERT_TRUE(eventually(
      [&] {
        EXPECT_TRUE(server.alive());
        return count_containing(texts_to(gw, commander), "未回复") >= 1;
      },
      30s))
      << "the commander's report never came after the restart";
  // Every job of the chain has run (the restart's own and the one left from before the kill).
  ASSERT_TRUE(eventually(
      [&] {
        return v.count("SELECT COUNT(*) FROM core_jobs WHERE kind = 'emergency.step' AND status = 'pending'") == 0 &&
               v.count("SELECT COUNT(*) FROM core_outbox WHERE status IN ('queued', 'sending')") == 0;
      },
      20s));
  std::this_thread::sleep_for(1500ms);  // longer than a scheduler wake-up: nothing more comes

  const auto to_commander = texts_to(gw, commander);
  ASSERT_EQ(to_commander.size(), 1u) << "the commander's report, exactly once";
  EXPECT_THAT(to_commander[0], HasSubstr("到岗 2/10 人"));
  EXPECT_THAT(to_commander[0], HasSubstr("未回复 8 人"));
  for (int i = 1; i <= kCrashMembers; ++i) {
    const auto texts = texts_to(gw, e164(member_phone(i)));
    EXPECT_EQ(count_containing(texts, "河水上涨"), texts.size()) << "member " << i;
    if (i <= 2) {
      EXPECT_EQ(texts.size(), 1u) << "member " << i << " answered: the alert only";
      EXPECT_EQ(count_containing(texts, "再次通知"), 0u) << "member " << i;
    } else {
      EXPECT_EQ(texts.size(), 2u) << "member " << i << ": the alert and one re-send";
      EXPECT_EQ(count_containing(texts, "再次通知"), 1u) << "member " << i;
    }
  }
  for (const auto& [recipient, n] : gw.duplicates())
    if (recipient != commander && n > 2) ADD_FAILURE() << recipient << " got " << n << " messages";

  // Each step once in the database and in the timeline.
  EXPECT_EQ(v.sql("SELECT cycle || ':' || step || ':' || action FROM em_steps WHERE alert_id = " + std::to_string(id) +
                  " ORDER BY cycle, step"),
            "0:0:resend\n0:1:notify_commander\n");
  const auto timeline = server.api("GET", "/api/v1/emergency/alerts/" + std::to_string(id) + "/timeline");
  ASSERT_EQ(timeline.status, 200) << timeline.raw;
  std::map<std::string, int> events;
  for (const auto& e : timeline.body["items"]) ++events[e.value("event", "")];
  EXPECT_EQ(events["resend"], 1) << timeline.raw;
  EXPECT_EQ(events["notify_commander"], 1) << timeline.raw;
  EXPECT_EQ(events["coming"], 2) << timeline.raw;
  EXPECT_EQ(events["triggered"], 1) << timeline.raw;

  // The answers survived the kill.
  auto roll = server.api("GET", "/api/v1/emergency/alerts/" + std::to_string(id) + "/rollcall");
  ASSERT_EQ(roll.status, 200) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["coming"], 2) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["no_answer"], 8) << roll.raw;
  std::set<std::string> coming;
  for (const auto& p : roll.body["coming"]) coming.insert(p.value("name", ""));
  EXPECT_EQ(coming, (std::set<std::string>{kNames[0], kNames[1]}));

  // An answer after the restart is recorded.
  EXPECT_THAT(server.hook("m-3", member_phone(3), "2").at(0), HasSubstr("无法到岗"));
  roll = server.api("GET", "/api/v1/emergency/alerts/" + std::to_string(id) + "/rollcall");
  ASSERT_EQ(roll.status, 200) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["coming"], 2) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["cannot"], 1) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["no_answer"], 7) << roll.raw;
  ASSERT_EQ(roll.body["cannot"].size(), 1u) << roll.raw;
  EXPECT_EQ(roll.body["cannot"][0]["name"], kNames[2]) << roll.raw;

  const auto stopped = server.terminate();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

// ===========================================================================
// 2. A drill: every message is marked 【演练】 (alert, group post, re-send, the
// leaders' and the commander's reports, stand-down); statistics leave it out.

TEST(EmergencyApi, ADrillMarksEveryMessageAndStaysOutOfTheStatistics) {
  MockGateway gw;
  Clock clock;
  TestServer server(options(gw, clock, "responses_needed = 3\n",
                            "[[plugins.emergency.escalation]]\nafter_minutes = 3\naction = \"resend\"\n\n"
                            "[[plugins.emergency.escalation]]\nafter_minutes = 6\naction = \"notify_leaders\"\n\n"
                            "[[plugins.emergency.escalation]]\nafter_minutes = 10\naction = \"notify_commander\"\n"));
  Api admin(server, "admin");
  const auto yizu = server.count("SELECT id FROM core_org_units WHERE path = '一组'");
  auto chat =
      admin.call("POST", "/api/v1/group-chats",
                 {{"adapter_id", "generic"}, {"chat_id", "grp-yizu"}, {"name", "一组群"}, {"org_unit_id", yizu}});
  ASSERT_EQ(chat.status, 201) << chat.raw;
  Api commander(server, "commander", person_id(server, kCommanderPhone));

  auto r =
      commander.call("POST", "/api/v1/emergency/alerts",
                     {{"kind", "防汛"}, {"text", "河堤巡查，带好手电"}, {"meeting_point", "村委会"}, {"drill", true}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["alert"]["drill"], true) << r.raw;
  const auto id = std::to_string(alert_id_of(r));
  ASSERT_TRUE(gw.wait_for_accepted(5)) << gw.accepted();  // one group post, four SMS
  EXPECT_EQ(gw.accepted_for("grp-yizu"), 1u);
  EXPECT_THAT(server.send(member_phone(1), "1").at(0), HasSubstr("到岗"));

  auto step = [&](std::chrono::milliseconds to, std::size_t expect_total) {
    clock.advance(to);
    server.poke_scheduler();
    return eventually([&] { return gw.accepted() >= expect_total; });
  };
  EXPECT_TRUE(step(3min + 1s, 8)) << gw.accepted();  // re-send to members 2 to 4
  EXPECT_TRUE(step(3min, 9)) << gw.accepted();       // the central household head
  EXPECT_TRUE(step(4min, 10)) << gw.accepted();      // the commander
  ASSERT_EQ(commander.call("POST", "/api/v1/emergency/alerts/" + id + "/stand-down").status, 200);
  ASSERT_TRUE(eventually([&] { return gw.accepted() >= 15; })) << gw.accepted();
  std::this_thread::sleep_for(300ms);

  const auto all = gw.messages();
  EXPECT_EQ(all.size(), 15u);
  for (const auto& m : all) EXPECT_THAT(m.text, StartsWith("【演练】")) << "to " << m.recipient << " via " << m.target;
  EXPECT_EQ(count_containing(texts_to(gw, e164(member_phone(2))), "再次通知"), 1u);
  EXPECT_EQ(count_containing(texts_to(gw, e164(kHeadPhone)), "请马上联系"), 1u);
  EXPECT_EQ(count_containing(texts_to(gw, e164(kCommanderPhone)), "未回复"), 1u);
  EXPECT_EQ(count_containing(texts_to(gw, "grp-yizu"), "解除"), 1u);
  EXPECT_TRUE(texts_to(gw, e164(kVillagerPhone)).empty());

  auto stats = commander.call("GET", "/api/v1/emergency/stats");
  ASSERT_EQ(stats.status, 200) << stats.raw;
  EXPECT_EQ(stats.body["alerts"], 0) << stats.raw;
  EXPECT_EQ(stats.body["members_alerted"], 0) << stats.raw;
  stats = commander.call("GET", "/api/v1/emergency/stats?include_drills=true");
  ASSERT_EQ(stats.status, 200) << stats.raw;
  EXPECT_EQ(stats.body["alerts"], 1) << stats.raw;
  EXPECT_EQ(stats.body["members_alerted"], 4) << stats.raw;
  EXPECT_EQ(stats.body["coming"], 1) << stats.raw;
}

// ===========================================================================
// 3. Stand-down: everyone alerted hears it once; a later answer is thanked, not
// counted; a second stand-down is refused.

TEST(EmergencyApi, StandDownTellsEveryMemberOnceAndLaterAnswersAreNotCounted) {
  MockGateway gw;
  Clock clock;
  TestServer server(options(gw, clock, "responses_needed = 3\n"));
  Api commander(server, "commander", person_id(server, kCommanderPhone));
  auto r =
      commander.call("POST", "/api/v1/emergency/alerts", {{"kind", "地质灾害"}, {"text", "后山滑坡，请到学校集合"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = std::to_string(alert_id_of(r));
  ASSERT_TRUE(gw.wait_for_accepted(4)) << gw.accepted();
  EXPECT_THAT(server.send(member_phone(1), "1").at(0), HasSubstr("到岗"));

  auto down = commander.call("POST", "/api/v1/emergency/alerts/" + id + "/stand-down");
  ASSERT_EQ(down.status, 200) << down.raw;
  EXPECT_EQ(down.body["status"], "stood_down") << down.raw;
  auto told = [&](int i) { return count_containing(texts_to(gw, e164(member_phone(i))), "解除"); };
  ASSERT_TRUE(eventually([&] { return told(1) + told(2) + told(3) + told(4) >= 4; }));
  std::this_thread::sleep_for(300ms);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(told(i), 1u) << "member " << i;
    EXPECT_EQ(texts_to(gw, e164(member_phone(i))).size(), 2u) << "member " << i << ": the alert and the stand-down";
  }
  EXPECT_TRUE(texts_to(gw, e164(kVillagerPhone)).empty());
  EXPECT_TRUE(texts_to(gw, e164(kCommanderPhone)).empty());
  EXPECT_EQ(gw.accepted(), 8u);

  // A late answer: thanked, said not to count, and the roll call stays as it was.
  EXPECT_THAT(server.send(member_phone(2), "1").at(0), HasSubstr("不再计入"));
  auto roll = commander.call("GET", "/api/v1/emergency/alerts/" + id + "/rollcall");
  ASSERT_EQ(roll.status, 200) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["coming"], 1) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["no_answer"], 3) << roll.raw;
  EXPECT_EQ(roll.body["alert"]["status"], "stood_down") << roll.raw;

  auto again = commander.call("POST", "/api/v1/emergency/alerts/" + id + "/stand-down");
  EXPECT_EQ(again.status, 409) << again.raw;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.accepted(), 8u) << "a refused stand-down sends nothing";
  EXPECT_EQ(commander.call("POST", "/api/v1/emergency/alerts/999/stand-down").status, 404);
}

// ===========================================================================
// 4. A villager who was not alerted: 2 is refused politely while an alert runs;
// 收到 is the core's acknowledgement, not an answer to the alert.

TEST(EmergencyApi, AVillagerNotAlertedIsRefusedPolitelyAndHisShouDaoStaysTheCores) {
  MockGateway gw;
  Clock clock;
  TestServer server(options(gw, clock, "responses_needed = 3\n"));
  const auto villager = person_id(server, kVillagerPhone);
  ASSERT_GT(villager, 0);
  // No alert yet: 2 is not about an emergency.
  EXPECT_THAT(server.send(kVillagerPhone, "2").at(0), Not(HasSubstr("不在本次应急动员名单")));

  Api commander(server, "commander", person_id(server, kCommanderPhone));
  auto r = commander.call("POST", "/api/v1/emergency/alerts", {{"text", "山林起火，请带好灭火工具"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = std::to_string(alert_id_of(r));
  ASSERT_TRUE(gw.wait_for_accepted(4)) << gw.accepted();

  EXPECT_THAT(server.send(kVillagerPhone, "2").at(0), HasSubstr("不在本次应急动员名单"));
  const auto shou_dao = server.send(kVillagerPhone, "收到");
  ASSERT_EQ(shou_dao.size(), 1u);
  EXPECT_THAT(shou_dao[0], Not(HasSubstr("应急")));
  EXPECT_THAT(shou_dao[0], HasSubstr("近期没有需要您确认的通知"));  // the core's 收到: nothing asked him
  // A member's 收到 is an answer to the alert.
  EXPECT_THAT(server.send(member_phone(1), "收到").at(0), HasSubstr("已记录您到岗"));

  auto roll = commander.call("GET", "/api/v1/emergency/alerts/" + id + "/rollcall");
  ASSERT_EQ(roll.status, 200) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["coming"], 1) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["cannot"], 0) << roll.raw;
  EXPECT_EQ(roll.body["counts"]["no_answer"], 3) << roll.raw;
  auto timeline = commander.call("GET", "/api/v1/emergency/alerts/" + id + "/timeline");
  ASSERT_EQ(timeline.status, 200) << timeline.raw;
  for (const auto& e : timeline.body["items"])
    EXPECT_NE(e["person_id"], villager) << "the villager is not in the alert's timeline: " << e.dump();
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(texts_to(gw, e164(kVillagerPhone)).empty());
}

// ===========================================================================
// 5. The timeline: triggered, sent, delivered per member, answers, in time order;
// the CSV opens in Excel (BOM) with Chinese headers and local times.

TEST(EmergencyApi, TimelineListsTheEventsInTimeOrderAndTheCsvOpensInExcel) {
  MockGateway gw;
  Clock clock;
  TestServer server(options(gw, clock, "responses_needed = 3\n"));
  const auto commander_id = person_id(server, kCommanderPhone);
  const auto first = person_id(server, member_phone(1));
  const auto second = person_id(server, member_phone(2));
  Api commander(server, "commander", commander_id);
  auto r = commander.call("POST", "/api/v1/emergency/alerts", {{"kind", "防汛"}, {"text", "水库泄洪，低处人员撤离"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = std::to_string(alert_id_of(r));
  ASSERT_TRUE(gw.wait_for_accepted(4)) << gw.accepted();

  auto timeline = [&] { return commander.call("GET", "/api/v1/emergency/alerts/" + id + "/timeline"); };
  auto count_event = [](const ApiReply& t, const std::string& event) {
    int n = 0;
    for (const auto& e : t.body["items"]) n += e["event"] == event ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return count_event(timeline(), "delivery_sent") == 4; })) << timeline().raw;

  clock.advance(1min);
  EXPECT_THAT(server.send(member_phone(1), "1").at(0), HasSubstr("到岗"));
  clock.advance(1min);
  EXPECT_THAT(server.send(member_phone(2), "2").at(0), HasSubstr("无法到岗"));

  const auto t = timeline();
  ASSERT_EQ(t.status, 200) << t.raw;
  const auto& items = t.body["items"];
  std::map<std::string, std::size_t> at;  // first position of each event
  std::set<std::int64_t> delivered;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string event = items[i]["event"];
    at.emplace(event, i);
    if (i > 0) {
      EXPECT_LE(items[i - 1]["at_ms"].get<std::int64_t>(), items[i]["at_ms"].get<std::int64_t>()) << t.raw;
    }
    if (event == "delivery_sent") delivered.insert(items[i]["person_id"].get<std::int64_t>());
  }
  for (const char* event : {"triggered", "sent", "coming", "cannot"}) ASSERT_TRUE(at.contains(event)) << event << t.raw;
  EXPECT_LT(at["triggered"], at["sent"]);
  EXPECT_LT(at["sent"], at["delivery_sent"]);
  EXPECT_LT(at["delivery_sent"], at["coming"]);
  EXPECT_LT(at["coming"], at["cannot"]);
  EXPECT_EQ(items[at["triggered"]]["person_id"], commander_id) << t.raw;
  EXPECT_EQ(items[at["coming"]]["person_id"], first) << t.raw;
  EXPECT_EQ(items[at["cannot"]]["person_id"], second) << t.raw;
  EXPECT_EQ(items[at["cannot"]]["at_ms"].get<std::int64_t>() - items[at["triggered"]]["at_ms"].get<std::int64_t>(),
            120000)
      << t.raw;
  EXPECT_EQ(delivered, (std::set<std::int64_t>{first, second, person_id(server, member_phone(3)),
                                               person_id(server, member_phone(4))}));
  EXPECT_EQ(count_event(t, "coming"), 1);
  EXPECT_EQ(count_event(t, "cannot"), 1);

  const auto csv = server.request(
      "GET", "/api/v1/emergency/alerts/" + id + "/timeline.csv", {},
      {{"Authorization", "Bearer " + server.runtime().tokens().create("t-csv", "commander", commander_id)}});
  ASSERT_EQ(csv.status, 200) << csv.body << csv.error;
  EXPECT_THAT(csv.body, StartsWith("\xEF\xBB\xBF时间,事件,姓名,手机,说明\r\n"));
  // Beijing time; the commander sees phones in full (with Excel's ' before a leading +, the
  // formula guard every CSV export here uses).
  EXPECT_THAT(csv.body, HasSubstr("\r\n2026-11-30 10:00:00,triggered," + std::string(kCommanderName) + ",'" +
                                  e164(kCommanderPhone) + ","));
  EXPECT_THAT(csv.body, HasSubstr("\r\n2026-11-30 10:01:00,coming," + std::string(kNames[0]) + ",'" +
                                  e164(member_phone(1)) + ","));
  EXPECT_THAT(csv.body, HasSubstr("\r\n2026-11-30 10:02:00,cannot," + std::string(kNames[1]) + ",'" +
                                  e164(member_phone(2)) + ","));
  EXPECT_LT(csv.body.find(",triggered,"), csv.body.find(",coming,"));
  EXPECT_LT(csv.body.find(",coming,"), csv.body.find(",cannot,"));
}

// ===========================================================================
// 6. Bad requests: 400 for a body that is not JSON, 422 for what cannot be an alert,
// 403 for a villager; none of them stores or sends anything.

TEST(EmergencyApi, BadAlertRequestsAreRefusedAndStoreNothing) {
  MockGateway gw;
  Clock clock;
  TestServer server(options(gw, clock, "responses_needed = 3\n"));
  Api commander(server, "commander", person_id(server, kCommanderPhone));
  const std::string path = "/api/v1/emergency/alerts";
  const std::string token = server.runtime().tokens().create("raw", "commander", person_id(server, kCommanderPhone));
  auto post_raw = [&](const std::string& body) {
    return server
        .request("POST", path, body, {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}})
        .status;
  };

  EXPECT_EQ(post_raw("{\"text\": \"河水上涨"), 400);
  EXPECT_EQ(post_raw("[\"河水上涨\"]"), 400);
  for (const json& body :
       {json{{"text", "河水上涨"}, {"colour", "red"}}, json{{"text", "   "}}, json::object(),
        json{{"text", "河水上涨"}, {"team", "民兵"}}, json{{"text", "河水上涨"}, {"responses_needed", 0}},
        json{{"text", "河水上涨"}, {"drill", "yes"}}, json{{"text", 5}}}) {
    const auto r = commander.call("POST", path, body);
    EXPECT_EQ(r.status, 422) << body.dump() << " → " << r.raw;
  }
  Api villager(server, "villager", person_id(server, kVillagerPhone));
  auto r = villager.call("POST", path, {{"text", "河水上涨"}});
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(
      server.request("POST", path, json{{"text", "河水上涨"}}.dump(), {{"Content-Type", "application/json"}}).status,
      401);

  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_alerts"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_members"), 0);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcasts"), 0);
  EXPECT_EQ(gw.accepted(), 0u);
  auto list = commander.call("GET", path);
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["total"], 0) << list.raw;
  EXPECT_EQ(commander.call("GET", path + "/1").status, 404);

  // The same endpoint takes a good request: the refusals were about the input.
  r = commander.call("POST", path, {{"text", "河水上涨"}, {"responses_needed", 2}});
  EXPECT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM em_alerts"), 1);
  ASSERT_TRUE(gw.wait_for_accepted(4)) << gw.accepted();
}

}  // namespace
}  // namespace villagebot

// The real points module loaded by the server: villagers' 积分 commands through the
// pipeline and the generic webhook over HTTP, and `villagebot points verify` against
// a database file edited with the sqlite3 command line.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "points_service.hpp"
#include "process.hpp"
#include "runtime/tokens.hpp"
#include "testkit.hpp"

namespace villagebot::points {
namespace {

using testkit::TestServer;

std::int64_t household_id(TestServer& server, const std::string& code) {
  return server.count("SELECT id FROM core_households WHERE code = '" + code + "'");
}

// H001 30 (two entries), H002 30, H003 20; H004 nothing.
class PointsPlugin : public ::testing::Test {
 protected:
  PointsPlugin() : server_(options()), ledger_(server_.runtime().storage()) {
    post("H001", 20, "打扫文化广场", "k1");
    post("H001", 10, "参加护林岗", "k2");
    post("H002", 30, "调解邻里纠纷", "k3");
    post("H003", 25, "修缮村道", "k4");
    post("H003", -5, "乱堆柴草", "k5");
  }
  static testkit::Options options() {
    testkit::Options o;
    o.plugins = {"points"};
    return o;
  }
  Entry post(const std::string& code, std::int64_t points, const std::string& reason, const std::string& key) {
    Posting p;
    p.household_id = household_id(server_, code);
    p.points = points;
    p.reason = reason;
    p.source = "test";
    p.idempotency_key = key;
    return ledger_.post(p);
  }
  std::string reply(const std::string& phone, const std::string& text) {
    const auto r = server_.send(phone, text);
    std::string all;
    for (const auto& t : r) all += t + "\n";
    return all;
  }
  TestServer server_;
  Ledger ledger_;
};

TEST_F(PointsPlugin, BalanceRankAndThisMonthOfTheSendersOwnHousehold) {
  const auto h1 = reply("13800000001", "积分");
  EXPECT_NE(h1.find("王大山户（H001） 积分：30 分"), std::string::npos) << h1;
  EXPECT_NE(h1.find("第 1 名"), std::string::npos) << h1;  // tied with H002
  EXPECT_NE(h1.find("本月变化：+30 分"), std::string::npos) << h1;
  // Another member of the same household sees the same household.
  EXPECT_EQ(reply("13800000002", "查积分"), h1);
  // H003: 20 points, behind two households tied at 30: rank 3.
  const auto h3 = reply("13800000004", "jf");
  EXPECT_NE(h3.find("积分：20 分"), std::string::npos) << h3;
  EXPECT_NE(h3.find("第 3 名"), std::string::npos) << h3;
  // English speaker (李四, H002).
  const auto en = reply("13800000003", "points");
  EXPECT_NE(en.find("30 points"), std::string::npos) << en;
  EXPECT_NE(en.find("Rank in the village: 1"), std::string::npos) << en;
  // No entries yet: 0 points, ranked after every household with points.
  const auto h4 = reply("13800000009", "积分");
  EXPECT_NE(h4.find("积分：0 分"), std::string::npos) << h4;
  EXPECT_NE(h4.find("第 4 名"), std::string::npos) << h4;
}

TEST_F(PointsPlugin, DetailsShowOnlyTheSendersHousehold) {
  const auto mine = reply("13800000001", "积分明细");
  EXPECT_NE(mine.find("+20 打扫文化广场"), std::string::npos) << mine;
  EXPECT_NE(mine.find("+10 参加护林岗"), std::string::npos) << mine;
  EXPECT_LT(mine.find("参加护林岗"), mine.find("打扫文化广场")) << "newest first";
  for (const char* other : {"调解邻里纠纷", "修缮村道", "乱堆柴草"})
    EXPECT_EQ(mine.find(other), std::string::npos) << "another household's entry leaked: " << other;
  const auto h3 = reply("13800000004", "mx");
  EXPECT_NE(h3.find("-5 乱堆柴草"), std::string::npos) << h3;
  EXPECT_EQ(h3.find("打扫文化广场"), std::string::npos) << h3;
  // A reversal shows as such and the balance follows.
  const auto e = ledger_.reverse(1, "村干部", "");
  EXPECT_EQ(e.points, -20);
  EXPECT_NE(reply("13800000001", "积分明细").find("-20 冲正第 1 条：打扫文化广场（冲正）"), std::string::npos);
  EXPECT_NE(reply("13800000001", "积分").find("积分：10 分"), std::string::npos);
}

TEST_F(PointsPlugin, RedListRanksTiesEqually) {
  const auto top = reply("13800000009", "红榜");
  EXPECT_NE(top.find("【红榜】"), std::string::npos) << top;
  EXPECT_NE(top.find("1. 王大山户（H001） 30 分"), std::string::npos) << top;
  EXPECT_NE(top.find("1. 李四户（H002） 30 分"), std::string::npos) << top;
  EXPECT_NE(top.find("3. 赵五户（H003） 20 分"), std::string::npos) << top;
  EXPECT_EQ(top.find("H004"), std::string::npos) << "no points, not on the red list: " << top;
}

TEST_F(PointsPlugin, UnregisteredPhoneGetsWeiDengJiOverHttp) {
  const auto r = server_.post_webhook(R"({"message_id":"u-1","sender":"13912345678","text":"积分"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = nlohmann::json::parse(r.body);
  const std::string text = body["replies"][0]["text"];
  EXPECT_NE(text.find("未登记"), std::string::npos) << text;
  for (const char* leak : {"30", "H001", "王大山"}) EXPECT_EQ(text.find(leak), std::string::npos) << text;
  // A registered villager over the same route gets the balance.
  const auto ok = server_.post_webhook(R"({"message_id":"u-2","sender":"13800000001","text":"积分"})");
  ASSERT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("30 分"), std::string::npos) << ok.body;
}

TEST_F(PointsPlugin, VerifyCommandLineDetectsARowEditedWithSqlite3) {
  const std::string config = server_.config_path().string();
  auto ok = testkit::run({VILLAGEBOT_EXE, "points", "verify", "--config", config});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK: 积分台账 5 条记录"), std::string::npos) << ok.out;
  const auto head = testkit::run({VILLAGEBOT_EXE, "points", "head", "--config", config});
  EXPECT_EQ(head.exit_code, 0);
  EXPECT_EQ(head.out.substr(0, 64), ledger_.verify().head_hash);

  // Someone with the database file and the sqlite3 tool: drops the guard and
  // turns H003's deduction into an award.
  // -cmd .timeout: the running server takes short write locks (the outbox poll).
  const auto edit = testkit::run({"sqlite3", "-cmd", ".timeout 10000", server_.db_path().string(),
                                  "DROP TRIGGER points_entries_no_update; "
                                  "UPDATE points_entries SET points = 5 WHERE id = 5;"});
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  auto bad = testkit::run({VILLAGEBOT_EXE, "points", "verify", "--config", config});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("FAILED"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("first broken entry: 5"), std::string::npos) << bad.out;
}

TEST_F(PointsPlugin, VerifyCommandLineRefusesUsageErrors) {
  const auto r = testkit::run({VILLAGEBOT_EXE, "points", "frobnicate", "--config", server_.config_path().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: villagebot points verify"), std::string::npos) << r.err;
  const auto no_config = testkit::run({VILLAGEBOT_EXE, "points", "verify"});
  EXPECT_EQ(no_config.exit_code, 2);
  EXPECT_NE(no_config.err.find("no config file"), std::string::npos) << no_config.err;
}

}  // namespace
}  // namespace villagebot::points

namespace villagebot::points {
namespace {

class PointsApi : public PointsPlugin {
 protected:
  testkit::HttpResult call(const std::string& token, const std::string& method, const std::string& path,
                           const std::string& body = {}) {
    return server_.request(method, "/api/v1/points/" + path, body,
                           {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  std::int64_t person(const std::string& phone) {
    return server_.count("SELECT id FROM core_persons WHERE phone LIKE '%" + phone + "'");
  }
};

TEST_F(PointsApi, ReadsForSupervisorsProposalsAndDecisionsByRole) {
  auto& tokens = server_.runtime().tokens();
  const auto supervisor = tokens.create("sup", "supervisor", std::nullopt);
  const auto villager = tokens.create("vil", "villager", std::nullopt);
  const auto cadre = tokens.create("cad", "cadre", person("13800000002"));
  const auto evaluator = tokens.create("eva", "evaluator", person("13800000003"));
  const auto faceless = tokens.create("eva2", "evaluator", std::nullopt);

  auto b = call(supervisor, "GET", "balances/H001");
  ASSERT_EQ(b.status, 200) << b.body;
  const auto bj = nlohmann::json::parse(b.body);
  EXPECT_EQ(bj["balance"], 30);
  EXPECT_EQ(bj["rank"], 1);
  EXPECT_EQ(call(supervisor, "GET", "balances/H999").status, 404);

  const auto v = nlohmann::json::parse(call(supervisor, "GET", "verify").body);
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["entries"], 5);
  const auto l = nlohmann::json::parse(call(supervisor, "GET", "ledger?household=H001").body);
  ASSERT_EQ(l["items"].size(), 2U);
  EXPECT_EQ(l["items"][1]["prev_hash"], l["items"][0]["hash"]) << "entries 1 and 2 are both H001's";
  EXPECT_EQ(l["items"][0]["reason"], "打扫文化广场");

  const std::string proposal = R"({"household":"H003","points":7,"reason":"抢修水渠"})";
  EXPECT_EQ(call(villager, "POST", "proposals", proposal).status, 403);
  EXPECT_EQ(call(cadre, "POST", "proposals", R"({"household":"H003"})").status, 400);
  const auto created = call(cadre, "POST", "proposals", proposal);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = nlohmann::json::parse(created.body)["id"].get<std::int64_t>();
  const std::string path = "proposals/" + std::to_string(id) + "/decision";
  EXPECT_EQ(call(cadre, "POST", path, R"({"approve":true})").status, 403) << "a cadre does not decide";
  EXPECT_EQ(call(faceless, "POST", path, R"({"approve":true})").status, 403) << "a decider must be a person";
  const auto decided = call(evaluator, "POST", path, R"({"approve":true,"note":"属实"})");
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(nlohmann::json::parse(decided.body)["status"], "approved");
  EXPECT_EQ(call(evaluator, "POST", path, R"({"approve":false})").status, 409);
  EXPECT_EQ(nlohmann::json::parse(call(supervisor, "GET", "balances/H003").body)["balance"], 27);

  const auto csv = call(supervisor, "GET", "export/eligibility.csv?threshold=27");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body, "\xEF\xBB\xBF户号,户主,积分\r\nH001,王大山,30\r\nH002,李四,30\r\nH003,赵五,27\r\n");

  const auto redemptions = call(supervisor, "GET", "store/redemptions?status=reserved");
  EXPECT_EQ(redemptions.status, 200);
  EXPECT_EQ(call(supervisor, "GET", "store/redemptions?status=lost").status, 400);
  const auto ledger_csv = call(supervisor, "GET", "export/ledger.csv");
  ASSERT_EQ(ledger_csv.status, 200);
  EXPECT_EQ(ledger_csv.body.rfind("\xEF\xBB\xBF序号,户号,户主,分值,原因", 0), 0U) << ledger_csv.body;
  EXPECT_NE(ledger_csv.body.find("\r\n1,H001,王大山,20,打扫文化广场,"), std::string::npos) << ledger_csv.body;
  EXPECT_NE(ledger_csv.body.find(l["items"][0]["hash"].get<std::string>()), std::string::npos);

  EXPECT_EQ(call(cadre, "POST", "checkpoint").status, 403);
  const auto cp = call(supervisor, "POST", "checkpoint");
  ASSERT_EQ(cp.status, 200) << cp.body;
  const auto cpj = nlohmann::json::parse(cp.body);
  EXPECT_EQ(cpj["head_hash"], nlohmann::json::parse(call(supervisor, "GET", "verify").body)["head_hash"]);
  EXPECT_NE(cpj["text"].get<std::string>().find("链头哈希：" + cpj["head_hash"].get<std::string>()), std::string::npos);

  const auto openapi = server_.request("GET", "/api/v1/openapi.json");
  for (const char* p : {"/api/v1/points/verify", "/api/v1/points/proposals/{id}/decision", "/api/v1/points/store/items",
                        "/api/v1/points/export/eligibility.csv"})
    EXPECT_NE(openapi.body.find(p), std::string::npos) << p;
}

}  // namespace
}  // namespace villagebot::points

namespace villagebot::points {
namespace {

TEST_F(PointsPlugin, MonthlyRedListIsOneStoredCronJobAndItsTextRanksTheMonth) {
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_jobs WHERE kind = 'points.red_list' AND status = 'pending' AND "
                          "cron = '0 9 1 * *'"),
            1);
  server_.restart();
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_jobs WHERE kind = 'points.red_list' AND status = 'pending'"), 1)
      << "a restart keeps the one job";
  const auto token = server_.runtime().tokens().create("sup", "supervisor");
  const auto r =
      server_.request("GET", "/api/v1/points/red-list?month=current", {}, {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string text = nlohmann::json::parse(r.body)["text"];
  EXPECT_NE(text.find("【红榜】"), std::string::npos) << text;
  EXPECT_NE(text.find("1. 王大山户（H001） +30 分"), std::string::npos) << text;
  EXPECT_NE(text.find("1. 李四户（H002） +30 分"), std::string::npos) << text;
  EXPECT_NE(text.find("3. 赵五户（H003） +20 分"), std::string::npos) << text;
  // The previous month had nothing.
  const auto prev = server_.request("GET", "/api/v1/points/red-list", {}, {{"Authorization", "Bearer " + token}});
  EXPECT_NE(nlohmann::json::parse(prev.body)["text"].get<std::string>().find("暂无"), std::string::npos);
}

}  // namespace
}  // namespace villagebot::points

// Polls (issue 8, part 2) as voters and cadres notice them: announced as a notice; a bare
// number answers the open poll; one vote per household holds under 100 concurrent votes from
// one household; the latest vote counts; results and turnout by group are right; at the
// deadline the results are published, and later votes are refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
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

// 一组: H1 (three people), H2 (two); 二组: H3 (one); the cadre's household H9 is in 三组,
// outside the poll's audience (一组 and 二组).
constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色\n"
    "H1,赵一,赵一,13500000011,一组,村民\n"
    "H1,赵一,赵二,13500000012,一组,村民\n"
    "H1,赵一,赵三,13500000013,一组,村民\n"
    "H2,钱一,钱一,13500000021,一组,村民\n"
    "H2,钱一,钱二,13500000022,一组,村民\n"
    "H3,孙一,孙一,13500000031,二组,村民\n"
    "H9,李书记,李书记,13500000091,三组,村干部\n";

class Polls : public ::testing::Test {
 protected:
  Polls() {
    testkit::Options o;
    o.plugins = {"opinions", "announcements"};
    o.now = [this] { return clock_.now(); };
    o.people_csv = kVillage;
    o.adapter_toml = "reply_url = \"" + gw_.url("/send") + "\"\n";
    o.plugin_sections = {{"announcements", "reminder_after_hours = 0\n"}};
    server_ = std::make_unique<TestServer>(o);
  }
  std::int64_t unit(const std::string& path) {
    return server_->count("SELECT id FROM core_org_units WHERE path = '" + path + "'");
  }
  json create(bool per_household = true) {
    Api cadre(*server_, "cadre");
    const auto deadline =
        std::chrono::duration_cast<std::chrono::milliseconds>((clock_.now() + 24h).time_since_epoch()).count();
    auto r = cadre.call("POST", "/api/v1/opinions/polls",
                        {{"question", "村道硬化方案选哪个？"},
                         {"options", {"水泥路", "柏油路", "暂缓"}},
                         {"audience", {{"org_units", {unit("一组"), unit("二组")}}}},
                         {"per_household", per_household},
                         {"deadline", deadline}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }
  json results(const std::string& code) {
    Api cadre(*server_, "cadre");
    auto r = cadre.call("GET", "/api/v1/opinions/polls/" + code + "/results");
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

  MockGateway gw_;
  Clock clock_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(Polls, OneVotePerHouseholdUnderConcurrencyAndTurnoutByGroup) {
  const json created = create();
  const std::string code = created["code"];
  EXPECT_EQ(code, "P1");
  // Announced to the six voters (not to the cadre in 三组).
  ASSERT_TRUE(gw_.wait_for_accepted(6));
  for (const auto& m : gw_.messages()) EXPECT_THAT(m.text, HasSubstr("村道硬化方案"));
  EXPECT_EQ(gw_.accepted_for("+8613500000091"), 0u);

  // 100 votes at once from the three members of H1, options 1 and 2 mixed.
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        server_->send("1350000001" + std::to_string(1 + (t + i) % 3),
                      "投票 " + code + " " + std::to_string(1 + (i % 2)));
    });
  for (auto& th : threads) th.join();
  json r = results(code);
  EXPECT_EQ(r["voters"], 1) << r.dump();
  EXPECT_EQ(r["options"][0]["votes"].get<int>() + r["options"][1]["votes"].get<int>(), 1) << r.dump();
  // The latest vote of the household counts.
  EXPECT_THAT(server_->send("13500000011", "3").at(0), HasSubstr("暂缓"));
  r = results(code);
  EXPECT_EQ(r["options"][2]["votes"], 1) << r.dump();
  EXPECT_EQ(r["voters"], 1) << r.dump();
  // H2 by a bare number, H3 by the command; the cadre outside the audience is refused.
  EXPECT_THAT(server_->send("13500000022", "1").at(0), HasSubstr("水泥路"));
  EXPECT_THAT(server_->send("13500000031", "投票 p1 1").at(0), HasSubstr("已投票"));
  EXPECT_THAT(server_->send("13500000091", "投票 P1 1").at(0), HasSubstr("不在"));
  EXPECT_THAT(server_->send("13500000022", "投票 P1 7").at(0), HasSubstr("1 到 3"));
  r = results(code);
  EXPECT_EQ(r["options"][0]["votes"], 2) << r.dump();
  EXPECT_EQ(r["options"][1]["votes"], 0) << r.dump();
  EXPECT_EQ(r["options"][2]["votes"], 1) << r.dump();
  EXPECT_EQ(r["voters"], 3);
  EXPECT_EQ(r["eligible"], 3);
  for (const auto& u : r["by_unit"]) {
    if (u["unit"] == "一组") {
      EXPECT_EQ(u["eligible"], 2) << r.dump();
      EXPECT_EQ(u["voted"], 2) << r.dump();
    } else {
      EXPECT_EQ(u["unit"], "二组") << r.dump();
      EXPECT_EQ(u["eligible"], 1) << r.dump();
      EXPECT_EQ(u["voted"], 1) << r.dump();
    }
  }
  EXPECT_EQ(r["by_unit"].size(), 2u) << r.dump();
}

TEST_F(Polls, ResultsArePublishedAtTheDeadlineAndLaterVotesRefused) {
  const std::string code = create(false)["code"];
  ASSERT_TRUE(gw_.wait_for_accepted(6));
  server_->send("13500000011", "2");
  server_->send("13500000012", "2");
  server_->send("13500000031", "1");
  clock_.advance(24h + 1s);
  server_->poke_scheduler();
  ASSERT_TRUE(eventually([&] {
    for (const auto& m : gw_.messages())
      if (m.text.find("投票结果") != std::string::npos) return true;
    return false;
  }));
  std::this_thread::sleep_for(300ms);
  int published = 0;
  for (const auto& m : gw_.messages())
    if (m.text.find("投票结果") != std::string::npos) {
      ++published;
      EXPECT_THAT(m.text, HasSubstr("柏油路：2 票"));
      EXPECT_THAT(m.text, HasSubstr("水泥路：1 票"));
      EXPECT_THAT(m.text, HasSubstr("共 3 人参加"));  // per person: 3 of 6
      EXPECT_THAT(m.text, HasSubstr("50%"));
    }
  EXPECT_EQ(published, 6);
  const json r = results(code);
  EXPECT_EQ(r["closed"], true);
  EXPECT_THAT(server_->send("13500000021", "投票 P1 1").at(0), HasSubstr("已截止"));
  // A bare number after the close is no longer a vote.
  EXPECT_THAT(server_->send("13500000021", "1").at(0), Not(HasSubstr("已投票")));
  Api cadre(*server_, "cadre");
  EXPECT_EQ(cadre.call("POST", "/api/v1/opinions/polls/P1/close").status, 409);
  auto csv = cadre.call("GET", "/api/v1/opinions/polls/P1/results.csv");
  EXPECT_THAT(csv.raw, HasSubstr("2,柏油路,2\r\n"));
}

TEST_F(Polls, BadPollsAreRefused) {
  Api cadre(*server_, "cadre");
  const auto later =
      std::chrono::duration_cast<std::chrono::milliseconds>((clock_.now() + 1h).time_since_epoch()).count();
  const json audience = {{"everyone", true}};
  EXPECT_EQ(cadre
                .call("POST", "/api/v1/opinions/polls",
                      {{"question", "?"}, {"options", {"只有一个"}}, {"audience", audience}, {"deadline", later}})
                .status,
            422);
  EXPECT_EQ(cadre
                .call("POST", "/api/v1/opinions/polls",
                      {{"question", "q"}, {"options", {"a", "b"}}, {"audience", audience}, {"deadline", 1}})
                .status,
            422);
  EXPECT_EQ(cadre
                .call("POST", "/api/v1/opinions/polls",
                      {{"question", "q"}, {"options", {"a", "b"}}, {"audience", json::object()}, {"deadline", later}})
                .status,
            422);
  EXPECT_EQ(cadre.call("POST", "/api/v1/opinions/polls", "[]").status, 400);
  Api villager(*server_, "villager");
  EXPECT_EQ(villager
                .call("POST", "/api/v1/opinions/polls",
                      {{"question", "q"}, {"options", {"a", "b"}}, {"audience", audience}, {"deadline", later}})
                .status,
            403);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM op_polls"), 0);
  EXPECT_THAT(server_->send("13500000011", "投票 P9 1").at(0), HasSubstr("没有投票"));
}

// A cadre starts a poll in chat; a named poll shows who voted what, an anonymous one never does.
TEST_F(Polls, ACadreStartsAPollInChatAndOnlyNamedPollsListTheVoters) {
  auto replies = server_->send("13500000091", "发起投票 文化广场晚上几点关灯？ | 21点 | 22点");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], HasSubstr("已发起投票 P1"));
  EXPECT_THAT(replies[0], HasSubstr("共 4 户"));  // the cadre answers for no unit: the whole village, per household
  ASSERT_TRUE(gw_.wait_for_accepted(7));
  EXPECT_THAT(server_->send("13500000012", "2").at(0), HasSubstr("22点"));
  EXPECT_THAT(server_->send("13500000091", "发起投票 只有问题").at(0), HasSubstr("用法"));

  Api cadre(*server_, "cadre");
  auto r = cadre.call("GET", "/api/v1/opinions/polls/P1/votes");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["items"].size(), 1u) << r.raw;
  EXPECT_EQ(r.body["items"][0]["name"], "赵二");
  EXPECT_EQ(r.body["items"][0]["option"], 2);

  const auto deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>((clock_.now() + 2h).time_since_epoch()).count();
  r = cadre.call("POST", "/api/v1/opinions/polls",
                 {{"question", "匿名评议：村务公开是否及时？"},
                  {"options", {"及时", "不及时"}},
                  {"audience", {{"everyone", true}}},
                  {"anonymous", true},
                  {"deadline", deadline}});
  ASSERT_EQ(r.status, 201) << r.raw;
  server_->send("13500000012", "投票 P2 2");
  EXPECT_EQ(cadre.call("GET", "/api/v1/opinions/polls/P2/votes").status, 403);
  r = cadre.call("GET", "/api/v1/opinions/polls/P2/results");
  EXPECT_EQ(r.body["options"][1]["votes"], 1) << r.raw;
  EXPECT_THAT(r.raw, Not(HasSubstr("赵二")));
}

// 四议两公开: no stage can be skipped; the representatives' resolution may be a poll of them;
// both disclosures reach the village as notices of their category.
TEST_F(Polls, AProposalCannotSkipAStageAndBothDisclosuresAreNotices) {
  Api cadre(*server_, "cadre");
  auto r = cadre.call("POST", "/api/v1/opinions/proposals",
                      {{"title", "村道硬化"}, {"description", "硬化一组到二组的村道"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string base = "/api/v1/opinions/proposals/" + std::to_string(r.body["id"].get<std::int64_t>());
  EXPECT_EQ(cadre.call("POST", base + "/stages/1", {{"passed", true}}).status, 409);
  EXPECT_EQ(cadre.call("POST", base + "/disclosures/4", {{"body", "通过"}}).status, 409);
  for (int stage = 0; stage <= 2; ++stage)
    ASSERT_EQ(
        cadre.call("POST", base + "/stages/" + std::to_string(stage), {{"passed", true}, {"note", "同意"}}).status,
        200);
  EXPECT_EQ(cadre.call("POST", base + "/stages/2", {{"passed", true}}).status, 409);  // once

  // The representatives (here: 一组 and 二组's households) vote; the resolution is the poll's.
  const auto deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>((clock_.now() + 2h).time_since_epoch()).count();
  r = cadre.call("POST", "/api/v1/opinions/polls",
                 {{"question", "村道硬化方案是否通过？"},
                  {"options", {"同意", "不同意", "弃权"}},
                  {"audience", {{"org_units", {unit("一组"), unit("二组")}}}},
                  {"deadline", deadline}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string poll = r.body["code"];
  server_->send("13500000011", "投票 " + poll + " 1");
  server_->send("13500000021", "投票 " + poll + " 1");
  server_->send("13500000031", "投票 " + poll + " 2");
  EXPECT_EQ(cadre.call("POST", base + "/stages/3", {{"poll", poll}}).status, 409);  // still open
  ASSERT_EQ(cadre.call("POST", "/api/v1/opinions/polls/" + poll + "/close").status, 200);
  r = cadre.call("POST", base + "/stages/3", {{"poll", poll}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["stages"][3]["decision"], "passed") << r.raw;
  EXPECT_EQ(r.body["stages"][3]["poll"], poll) << r.raw;

  EXPECT_EQ(cadre.call("POST", base + "/disclosures/5", {{"body", "已完工"}}).status, 409);
  const auto before = gw_.accepted();
  ASSERT_EQ(
      cadre.call("POST", base + "/disclosures/4", {{"body", "村民代表会议 2 票同意、1 票反对，决定硬化村道"}}).status,
      200);
  ASSERT_EQ(cadre.call("POST", base + "/disclosures/5", {{"body", "村道已于本月完工，验收合格，花费 12 万元"}}).status,
            200);
  auto count_with = [&](const std::string& needle) {
    int n = 0;
    for (const auto& m : gw_.messages()) n += m.text.find(needle) != std::string::npos ? 1 : 0;
    return n;
  };
  // Everyone in the village (7 people) gets each disclosure, once.
  ASSERT_TRUE(eventually([&] { return count_with("【决议公开】") >= 7 && count_with("【实施结果公开】") >= 7; }))
      << gw_.accepted() - before;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count_with("【决议公开】"), 7);
  EXPECT_EQ(count_with("【实施结果公开】"), 7);
  r = cadre.call("GET", base);
  EXPECT_EQ(r.body["status"], "completed") << r.raw;
  EXPECT_EQ(r.body["stages"].size(), 6u) << r.raw;
  EXPECT_EQ(cadre.call("POST", base + "/disclosures/5", {{"body", "again"}}).status, 409);

  // A rejected proposal stops there.
  r = cadre.call("POST", "/api/v1/opinions/proposals", {{"title", "卖村集体林地"}});
  const std::string other = "/api/v1/opinions/proposals/" + std::to_string(r.body["id"].get<std::int64_t>());
  ASSERT_EQ(cadre.call("POST", other + "/stages/0", {{"passed", false}, {"note", "不符合规定"}}).status, 200);
  EXPECT_EQ(cadre.call("POST", other + "/stages/1", {{"passed", true}}).status, 409);
  EXPECT_EQ(cadre.call("GET", other).body["status"], "rejected");
}

}  // namespace
}  // namespace villagebot

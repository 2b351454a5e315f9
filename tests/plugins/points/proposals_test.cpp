// Proposals (加分/扣分 → 审核) through the real module: never approved by their
// proposer, the rules catalogue and its monthly caps, the outcome told to the
// proposer and the household, and awards from other plugins by rule.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "points_service.hpp"
#include "proposals.hpp"
#include "testkit.hpp"

namespace villagebot::points {
namespace {

using testkit::TestServer;

// 周六 is both cadre and evaluator; 吴七 an evaluator; 郑八 a cadre; 钱九 a villager.
const char* const kVillage =
    "户号,户主,姓名,手机,村民小组,角色\n"
    "H001,王大山,王大山,13800000001,一组,村民\n"
    "H001,王大山,王小红,13800000002,一组,村民\n"
    "H002,李四,李四,13800000003,二组,村民\n"
    "H010,周六,周六,13800000011,一组,村干部;评议员\n"
    "H011,吴七,吴七,13800000012,二组,评议员\n"
    "H012,郑八,郑八,13800000013,二组,村干部\n"
    "H013,钱九,钱九,13800000014,三组,村民\n";

const char* const kRules =
    "[[plugins.points.rules]]\ncode = \"A01\"\ndescription = \"打扫公共区域\"\npoints = 5\nmonthly_cap = 1\n"
    "[[plugins.points.rules]]\ncode = \"D01\"\ndescription = \"乱堆乱放\"\npoints = -3\n"
    "[[plugins.points.rules]]\ncode = \"V01\"\ndescription = \"志愿服务一班\"\npoints = 2\nmonthly_cap = 2\n"
    "auto_approve = true\n";

testkit::Options village() {
  testkit::Options o;
  o.plugins = {"points"};
  o.people_csv = kVillage;
  o.plugin_sections["points"] = std::string("leaderboard_size = 10\n") + kRules;
  return o;
}

class PointsProposals : public ::testing::Test {
 protected:
  PointsProposals() : server_(village()) {}
  std::string say(const std::string& phone, const std::string& text) {
    std::string all;
    for (const auto& t : server_.send(phone, text)) all += t + "\n";
    return all;
  }
  std::int64_t balance_of(const std::string& code) {
    return server_.count(
        "SELECT COALESCE((SELECT balance FROM points_balances b JOIN core_households h ON h.id = b.household_id "
        "WHERE h.code = '" +
        code + "'), 0)");
  }
  // Messages queued for a person whose text contains `needle`.
  std::int64_t told(const std::string& phone, const std::string& needle) {
    return server_.count(
        "SELECT COUNT(*) FROM core_outbox o JOIN core_persons p ON p.id = o.person_id WHERE p.phone "
        "LIKE '%" +
        phone + "' AND o.text LIKE '%" + needle + "%'");
  }
  TestServer server_;
};

TEST_F(PointsProposals, NeverApprovedByTheProposerAndToldToProposerAndHousehold) {
  const auto proposed = say("13800000011", "加分 H001 5 打扫文化广场");
  EXPECT_NE(proposed.find("已提交第 1 号积分申请：王大山户（H001） +5 分，原因：打扫文化广场"), std::string::npos)
      << proposed;
  EXPECT_EQ(told("13800000012", "【积分待审核】第 1 号"), 1) << "the other evaluator is asked";
  EXPECT_EQ(told("13800000011", "【积分待审核】"), 0) << "not the proposer";

  const auto own = say("13800000011", "审核 1 通过");
  EXPECT_NE(own.find("不能审核自己提交的申请"), std::string::npos) << own;
  EXPECT_EQ(balance_of("H001"), 0);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_entries"), 0);

  const auto ok = say("13800000012", "审核 1 通过");
  EXPECT_NE(ok.find("第 1 号申请已通过：王大山户（H001） +5 分，现有积分 5 分"), std::string::npos) << ok;
  EXPECT_EQ(balance_of("H001"), 5);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_entries WHERE approver = '吴七' AND proposer = '周六' AND "
                          "source = 'proposal:1'"),
            1);
  EXPECT_EQ(told("13800000011", "第 1 号积分申请（王大山户（H001））已通过"), 1);
  EXPECT_EQ(told("13800000001", "您户的积分申请已通过：+5 分"), 1);
  EXPECT_EQ(told("13800000002", "您户的积分申请已通过：+5 分"), 1);
  EXPECT_EQ(told("13800000003", "积分申请"), 0) << "another household is not told";

  EXPECT_NE(say("13800000012", "审核 1 驳回").find("已经通过"), std::string::npos);
  EXPECT_EQ(balance_of("H001"), 5) << "decided once";
  EXPECT_NE(say("13800000001", "积分").find("积分：5 分"), std::string::npos);
}

TEST_F(PointsProposals, RejectionChangesNothingAndCarriesItsNote) {
  say("13800000013", "扣分 13800000003 3 乱倒垃圾");  // by phone: 李四's household
  const auto r = say("13800000012", "审核 1 驳回 证据不足");
  EXPECT_NE(r.find("第 1 号申请已驳回：李四户（H002） -3 分"), std::string::npos) << r;
  EXPECT_EQ(balance_of("H002"), 0);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_entries"), 0);
  EXPECT_EQ(told("13800000003", "说明：证据不足"), 1);
  EXPECT_EQ(told("13800000013", "未通过"), 1);
}

TEST_F(PointsProposals, RulesGivePointsAndReasonAndTheirMonthlyCapHolds) {
  const auto p = say("13800000013", "加分 H002 A01");
  EXPECT_NE(p.find("+5 分，原因：打扫公共区域"), std::string::npos) << p;
  EXPECT_NE(say("13800000012", "审核 1 通过").find("已通过"), std::string::npos);
  say("13800000013", "加分 H002 A01 又扫了一次");
  const auto capped = say("13800000012", "审核 2 通过");
  EXPECT_NE(capped.find("已达上限 1 次"), std::string::npos) << capped;
  EXPECT_EQ(balance_of("H002"), 5);
  // A deduction rule needs 扣分, an award rule 加分.
  EXPECT_NE(say("13800000013", "扣分 H002 A01").find("是加分项"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分 H002 D01").find("是扣分项"), std::string::npos);
  EXPECT_NE(say("13800000013", "扣分 H002 D01").find("-3 分，原因：乱堆乱放"), std::string::npos);
}

TEST_F(PointsProposals, OnlyCadresAndEvaluatorsProposeAndOnlyEvaluatorsDecide) {
  const auto villager = say("13800000014", "加分 H013 100 我自己");
  EXPECT_NE(villager.find("不在您的权限范围内"), std::string::npos) << villager;
  say("13800000013", "加分 H001 2 帮忙");
  EXPECT_NE(say("13800000013", "审核 1 通过").find("不在您的权限范围内"), std::string::npos) << "a cadre only";
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_proposals WHERE status = 'pending'"), 1);
  const auto list = say("13800000012", "待审核");
  EXPECT_NE(list.find("#1 王大山户（H001） +2 帮忙（郑八）"), std::string::npos) << list;
}

TEST_F(PointsProposals, BadProposalsAreExplainedAndStoreNothing) {
  EXPECT_NE(say("13800000013", "加分 H999 5 x").find("没有户号或手机为「H999」的户"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分 H001 0 x").find("1 到 1000"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分 H001 5000 x").find("1 到 1000"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分 H001 5").find("请写明加减分原因"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分 H001 五 x").find("分值（1–1000）或积分细则编号"), std::string::npos);
  EXPECT_NE(say("13800000013", "加分").find("用法"), std::string::npos);
  EXPECT_NE(say("13800000012", "审核 99 通过").find("没有第 99 号申请"), std::string::npos);
  EXPECT_NE(say("13800000012", "审核 x 通过").find("用法"), std::string::npos);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_proposals"), 0);
}

TEST_F(PointsProposals, AwardsFromOtherPluginsByRuleAreIdempotentAndCapped) {
  Ledger ledger(server_.runtime().storage());
  Proposals proposals(server_.runtime().storage(), ledger,
                      {Rule{"V01", "志愿服务一班", 2, 2, true}, Rule{"A01", "打扫公共区域", 5, 1, false}});
  const auto h = server_.count("SELECT id FROM core_households WHERE code = 'H001'");
  ProposalRequest shift{h, 2, "护林岗 11-28 早班", "V01", "volunteers:shift-1", 0, "volunteers", "shift-1:person-1"};
  const auto first = proposals.award(shift);
  EXPECT_GT(first, 0);
  EXPECT_EQ(proposals.award(shift), first) << "the same key: the same entry";
  shift.idempotency_key = "shift-2:person-1";
  EXPECT_GT(proposals.award(shift), first);
  shift.idempotency_key = "shift-3:person-1";
  EXPECT_EQ(proposals.award(shift), 0) << "the monthly cap of 2";
  EXPECT_EQ(balance_of("H001"), 4);
  // A rule that does not approve itself makes a pending proposal instead.
  ProposalRequest cleaning{h, 5, "打扫公共区域", "A01", "volunteers:task-9", 0, "volunteers", "task-9"};
  EXPECT_EQ(proposals.award(cleaning), 0);
  EXPECT_EQ(proposals.award(cleaning), 0);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_proposals WHERE idempotency_key = 'task-9' AND "
                          "status = 'pending'"),
            1);
  EXPECT_TRUE(ledger.verify().ok);
}

}  // namespace
}  // namespace villagebot::points

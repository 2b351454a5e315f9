// The points store (积分超市) through the real module and on its own: the catalogue,
// redemptions that never overdraw, the last item to exactly one of 50 households
// asking at once, fulfilment and cancellation with the points released.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "points_service.hpp"
#include "store.hpp"
#include "testkit.hpp"

namespace villagebot::points {
namespace {

using testkit::TestServer;

testkit::Options village() {
  testkit::Options o;
  o.plugins = {"points"};
  o.plugin_sections["points"] =
      "[[plugins.points.items]]\ncode = \"A1\"\nname = \"洗衣粉\"\nprice = 20\nstock = 5\n"
      "[[plugins.points.items]]\ncode = \"B2\"\nname = \"大米 5 斤\"\nprice = 50\nstock = 1\n";
  return o;
}

class PointsStore : public ::testing::Test {
 protected:
  PointsStore() : server_(village()), ledger_(server_.runtime().storage()) {
    Posting p;
    p.household_id = household("H001");
    p.points = 45;
    p.reason = "打扫文化广场";
    ledger_.post(p);
  }
  std::int64_t household(const std::string& code) {
    return server_.count("SELECT id FROM core_households WHERE code = '" + code + "'");
  }
  std::string say(const std::string& phone, const std::string& text) {
    std::string all;
    for (const auto& t : server_.send(phone, text)) all += t + "\n";
    return all;
  }
  std::int64_t balance(const std::string& code) { return ledger_.balance(household(code), 0).balance; }
  std::int64_t stock(const std::string& code) {
    return server_.count("SELECT stock FROM points_store_items WHERE code = '" + code + "'");
  }
  std::string voucher_of(const std::string& reply) {
    const auto at = reply.find("凭证号 ");
    if (at == std::string::npos) return {};
    const auto end = reply.find("，", at);
    return reply.substr(at + std::string("凭证号 ").size(), end - at - std::string("凭证号 ").size());
  }
  TestServer server_;
  Ledger ledger_;
};

TEST_F(PointsStore, CatalogueRedeemFulfil) {
  const auto shop = say("13800000003", "积分超市");
  EXPECT_NE(shop.find("A1 洗衣粉 20 pts stock 5"), std::string::npos) << shop;  // 李四 reads English
  const auto zh = say("13800000001", "商品");
  EXPECT_NE(zh.find("B2 大米 5 斤 50 分 库存 1"), std::string::npos) << zh;

  const auto r = say("13800000001", "兑换 A1 2");
  EXPECT_NE(r.find("兑换成功：洗衣粉 ×2，扣 40 分，本户剩余 5 分"), std::string::npos) << r;
  const std::string voucher = voucher_of(r);
  ASSERT_FALSE(voucher.empty()) << r;
  EXPECT_EQ(balance("H001"), 5);
  EXPECT_EQ(stock("A1"), 3);
  EXPECT_NE(say("13800000001", "积分明细").find("-40 兑换洗衣粉 ×2（凭证 " + voucher + "）"), std::string::npos);

  // A villager cannot hand out goods; the cadre (王小红) can, once.
  EXPECT_NE(say("13800000001", "发放 " + voucher).find("不在您的权限范围内"), std::string::npos);
  EXPECT_NE(say("13800000002", "发放 " + voucher).find("凭证 " + voucher + " 已发放"), std::string::npos);
  EXPECT_NE(say("13800000002", "发放 " + voucher).find("已发放"), std::string::npos);
  EXPECT_NE(say("13800000002", "取消兑换 " + voucher).find("已发放"), std::string::npos) << "too late to cancel";
  EXPECT_EQ(balance("H001"), 5);
  EXPECT_TRUE(ledger_.verify().ok);
}

TEST_F(PointsStore, NeverOverdrawsAndRefusalsChangeNothing) {
  const auto r = say("13800000001", "兑换 B2");
  EXPECT_NE(r.find("积分不足：兑换需要 50 分，本户现有 45 分"), std::string::npos) << r;
  EXPECT_NE(say("13800000001", "兑换 A1 3").find("积分不足"), std::string::npos);
  EXPECT_NE(say("13800000001", "兑换 A1 6").find("库存不足：洗衣粉仅剩 5 件"), std::string::npos);
  EXPECT_NE(say("13800000001", "兑换 Z9").find("没有编号为「Z9」的商品"), std::string::npos);
  EXPECT_NE(say("13800000001", "兑换 A1 0").find("数量须在 1 到 99 之间"), std::string::npos);
  EXPECT_NE(say("13800000001", "兑换").find("用法"), std::string::npos);
  EXPECT_NE(say("13800000004", "兑换 A1").find("积分不足：兑换需要 20 分，本户现有 0 分"), std::string::npos);
  EXPECT_EQ(balance("H001"), 45);
  EXPECT_EQ(stock("A1"), 5);
  EXPECT_EQ(stock("B2"), 1);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_redemptions"), 0);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_entries"), 1);
}

TEST_F(PointsStore, CancellingReleasesPointsAndStockAndTellsTheVillager) {
  const std::string voucher = voucher_of(say("13800000001", "兑换 A1"));
  ASSERT_FALSE(voucher.empty());
  EXPECT_EQ(balance("H001"), 25);
  const auto c = say("13800000002", "取消兑换 " + voucher);
  EXPECT_NE(c.find("已取消，积分和库存已退回"), std::string::npos) << c;
  EXPECT_EQ(balance("H001"), 45);
  EXPECT_EQ(stock("A1"), 5);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM core_outbox WHERE text LIKE '%已取消，20 分已退回，现有 45 分%'"), 1);
  EXPECT_NE(say("13800000002", "取消兑换 " + voucher).find("已取消"), std::string::npos);
  EXPECT_EQ(balance("H001"), 45) << "released once";
  EXPECT_NE(say("13800000002", "发放 DH999-1234").find("没有凭证号"), std::string::npos);
  const auto v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 3);  // award, debit, reversal
}

TEST_F(PointsStore, FiftyHouseholdsAskForTheLastItemAtOnceAndExactlyOneGetsIt) {
  Store store(server_.runtime().storage());
  // 50 households with 100 points each (ids far from the register's).
  for (int i = 0; i < 50; ++i) {
    Posting p;
    p.household_id = 1000 + i;
    p.points = 100;
    p.reason = "测试";
    ledger_.post(p);
  }
  ASSERT_EQ(stock("B2"), 1);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i)
    threads.emplace_back([&, i] {
      try {
        store.redeem(1000 + i, 0, "B2", 1);
        ++ok;
      } catch (const LedgerError& e) {
        (std::string(e.what()).find("库存不足") != std::string::npos ? refused : other)++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 49);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(stock("B2"), 0);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_redemptions WHERE item_code = 'B2'"), 1);
  EXPECT_EQ(server_.count("SELECT COUNT(*) FROM points_balances WHERE household_id >= 1000 AND balance = 50"), 1);
  EXPECT_TRUE(ledger_.verify().ok);
}

TEST_F(PointsStore, ConcurrentRedemptionsByOneHouseholdNeverOverdraw) {
  Store store(server_.runtime().storage());
  store.restock("A1", 100);
  const auto h = household("H001");  // 45 points: two of A1 (20 each), never three
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&] {
      try {
        store.redeem(h, 0, "A1", 1);
        ++ok;
      } catch (const LedgerError&) {
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(balance("H001"), 5);
  EXPECT_EQ(stock("A1"), 103);
}

}  // namespace
}  // namespace villagebot::points

// The points ledger against a real SQLite file: the hash chain, balances and
// ranks, idempotency, reversals, refusals, and tampering done the way someone
// with the sqlite3 command line would (drop the trigger, then UPDATE).
#include "points_service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"
#include "temp_dir.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::points {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kHour = 3600LL * 1000;
constexpr std::int64_t kDay = 24 * kHour;
// 2026-11-01T00:00:00+08:00 = 2026-10-31T16:00:00Z: 20757 days after 1970-01-01, plus 16 h.
constexpr std::int64_t kNov1 = 1793462400000LL;
constexpr std::int64_t kNow = kNov1 + 14 * kDay + 10 * kHour;  // 2026-11-15T10:00:00+08:00
constexpr std::int64_t kHousehold4242 = 4242;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Posting award(std::int64_t household, std::int64_t points, std::string reason = "打扫文化广场") {
  Posting p;
  p.household_id = household;
  p.points = points;
  p.reason = std::move(reason);
  p.rule_code = "R-3";
  p.source = "manual";
  p.proposer = "张三";
  p.approver = "rule";
  return p;
}

bool is_lower_hex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

using Row3 = std::tuple<std::int64_t, std::int64_t, std::int64_t>;  // household, points, rank
std::vector<Row3> top(const std::vector<Standing>& board, std::size_t n) {
  std::vector<Row3> out;
  for (std::size_t i = 0; i < std::min(n, board.size()); ++i)
    out.emplace_back(board[i].household_id, board[i].points, board[i].rank);
  return out;
}

class LedgerTest : public ::testing::Test {
 protected:
  LedgerTest() {
    // The core register too, in case the ledger names households from it; the
    // ledger's own tables only hold ids.
    storage_.migrate("core", storage::core_migrations());
    storage_.migrate("points", Ledger::migrations());
    storage_.write([](Session& s) {
      for (const std::int64_t id : std::vector<std::int64_t>{1, 2, 3, 4, 5, kHousehold4242})
        s.execute("INSERT INTO core_households(id, code, head_name) VALUES(?, ?, ?)",
                  {id, "H" + std::to_string(id), "户主" + std::to_string(id)});
    });
  }

  // Appends with a chosen clock, the way a back-dated import would.
  void append_at(std::int64_t household, std::int64_t points, std::int64_t at_ms) {
    storage_.write([&](Session& s) { Ledger::append(s, award(household, points), at_ms); });
  }
  // What someone with the sqlite3 CLI does: drop the guard, then change a row.
  void tamper(const std::string& trigger, const std::string& sql, const std::vector<Value>& params = {}) {
    storage_.write_sync([&](Session& s) {
      if (!trigger.empty()) s.execute("DROP TRIGGER " + trigger);
      s.execute(sql, params);
    });
  }
  // verify() fails, says why, and names the entry (-1: any entry, or none).
  VerifyResult expect_broken(std::int64_t first_bad_id) {
    const VerifyResult v = ledger_.verify();
    EXPECT_FALSE(v.ok);
    if (first_bad_id >= 0) {
      EXPECT_EQ(v.first_bad_id, first_bad_id) << v.problem;
    }
    EXPECT_FALSE(v.problem.empty());
    return v;
  }
  std::vector<Entry> post_five() {
    std::vector<Entry> out;
    for (std::int64_t i = 1; i <= 5; ++i) out.push_back(ledger_.post(award(i % 2 == 0 ? 2 : 1, i * 10)));
    return out;
  }

  testkit::TempDir dir_{"points-ledger"};
  storage::SqliteStorage storage_{dir_.file("points.db"), storage::SqliteOptions{.synchronous_full = false}};
  Ledger ledger_{storage_};
};

// ---- The chain --------------------------------------------------------------

TEST_F(LedgerTest, PostChainsEntriesFromGenesis) {
  const VerifyResult empty = ledger_.verify();
  EXPECT_TRUE(empty.ok);
  EXPECT_EQ(empty.entries, 0);
  EXPECT_EQ(empty.head_hash, std::string(64, '0'));
  const std::int64_t before = wall_ms();
  const std::vector<Entry> posted = post_five();
  const std::int64_t after = wall_ms();
  for (std::size_t i = 0; i < posted.size(); ++i) {
    const Entry& e = posted[i];
    SCOPED_TRACE("entry " + std::to_string(i + 1));
    EXPECT_EQ(e.id, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(e.prev_hash, i == 0 ? kGenesisHash : posted[i - 1].hash);
    EXPECT_TRUE(is_lower_hex64(e.hash)) << e.hash;
    EXPECT_EQ(e.hash, entry_hash(e));
    EXPECT_GE(e.created_at_ms, before);
    EXPECT_LE(e.created_at_ms, after);
    const auto stored = ledger_.entry(e.id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(std::tie(stored->hash, stored->prev_hash, stored->points, stored->household_id, stored->created_at_ms),
              std::tie(e.hash, e.prev_hash, e.points, e.household_id, e.created_at_ms));
    EXPECT_EQ(entry_hash(*stored), stored->hash);
  }
  EXPECT_FALSE(ledger_.entry(6).has_value());
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 5);
  EXPECT_EQ(v.head_hash, posted.back().hash);
  EXPECT_EQ(v.first_bad_id, 0);
}

TEST_F(LedgerTest, EntryHashCoversEveryFieldButHash) {
  const Entry base = ledger_.post(award(3, 5, "ab"));  // rule_code "R-3", no key, reverses nothing
  const std::string h = entry_hash(base);
  EXPECT_TRUE(is_lower_hex64(h)) << h;
  EXPECT_EQ(entry_hash(base), h);
  Entry with_hash = base;
  with_hash.hash = "whatever";
  EXPECT_EQ(entry_hash(with_hash), h);
  const std::vector<void (*)(Entry&)> changes = {
      [](Entry& e) { e.id = 8; },
      [](Entry& e) { e.household_id = 4; },
      [](Entry& e) { e.points = -5; },
      [](Entry& e) { e.reason = "ab "; },
      [](Entry& e) { e.rule_code = ""; },
      [](Entry& e) { e.source = "store:redemption-3"; },
      [](Entry& e) { e.proposer = "李四"; },
      [](Entry& e) { e.approver = "王五"; },
      [](Entry& e) { e.idempotency_key = "k"; },
      [](Entry& e) { e.reverses = 2; },
      [](Entry& e) { e.created_at_ms += 1; },
      [](Entry& e) { e.prev_hash = std::string(63, '0') + "1"; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Entry changed = base;
    changes[i](changed);
    EXPECT_NE(entry_hash(changed), h) << "change " << i;
  }
  Entry shifted = base;  // field boundaries count: "ab" + "R-3" is not "abR" + "-3"
  shifted.reason = "abR";
  shifted.rule_code = "-3";
  EXPECT_NE(entry_hash(shifted), h);
}

// Ledgers already written were hashed over nlohmann's text of the entry: the hash
// must stay exactly that, whatever the fields hold, or every old ledger would fail
// verify.
TEST_F(LedgerTest, EntryHashIsTheSha256OfTheEntrysCanonicalJsonText) {
  auto reference = [](const Entry& e) {
    const nlohmann::json content =
        nlohmann::json::array({e.id, e.household_id, e.points, e.reason, e.rule_code, e.source, e.proposer, e.approver,
                               e.idempotency_key, e.reverses, e.created_at_ms, e.prev_hash});
    return crypto::sha256_hex(content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  Entry e = ledger_.post(award(3, 5, "ab"));
  EXPECT_EQ(entry_hash(e), reference(e));
  e.id = 9223372036854775807;
  e.household_id = 1;
  e.points = -1000000;
  e.reason = "修路 \"义务工\"\\ 第2天\n\t\x01\x1f\x7f 😀";
  e.rule_code = "";
  e.source = "volunteers:shift-12";
  e.proposer = "张三";
  e.approver = "李四 </script>";
  e.idempotency_key = "key\r\u2028";
  e.reverses = 4;
  e.created_at_ms = -1;
  EXPECT_EQ(entry_hash(e), reference(e));
  e.reason = std::string("bad \xff\xfe UTF-8 \xe4\xb8");  // replaced by U+FFFD, as nlohmann does
  EXPECT_EQ(entry_hash(e), reference(e));
  e.reason = "ok";
  e.proposer = std::string("\xc0\x80");
  EXPECT_EQ(entry_hash(e), reference(e));
}

// ---- Balances, months and ranks -----------------------------------------------

TEST_F(LedgerTest, MonthStartIsTheFirstAtMidnightVillageTime) {
  EXPECT_EQ(ledger_.month_start_ms(kNow), kNov1);
  EXPECT_EQ(ledger_.month_start_ms(kNov1), kNov1);
  EXPECT_EQ(ledger_.month_start_ms(kNov1 + 30'000), kNov1);  // 00:00:30 on the 1st, village time
  // 2026-10-31T23:59:00Z is already 07:59 on 1 November in the village.
  EXPECT_EQ(ledger_.month_start_ms(1793491140000LL), kNov1);
  // One millisecond before midnight village time is still October (2026-10-01T00:00+08:00).
  EXPECT_EQ(ledger_.month_start_ms(kNov1 - 1), 1790784000000LL);
  // Across the year: 2027-01-01T03:00+08:00 (still 2026 in UTC) → 2027-01-01T00:00+08:00.
  EXPECT_EQ(ledger_.month_start_ms(1798743600000LL), 1798732800000LL);
  // A leap day: 2028-02-29T12:00+08:00 → 2028-02-01T00:00+08:00.
  EXPECT_EQ(ledger_.month_start_ms(1835409600000LL), 1832947200000LL);
  // A village on UTC sees 23:59Z on 31 October as October.
  const Ledger utc(storage_, 0);
  EXPECT_EQ(utc.month_start_ms(1793491140000LL), 1790812800000LL);
}

TEST_F(LedgerTest, BalanceSumsAllTimeAndThisMonth) {
  append_at(1, 25, kNow - 62 * kDay);  // September
  append_at(1, 7, kNov1 - 1);          // the last millisecond of October
  append_at(1, 5, kNov1);              // the first of November
  append_at(1, -2, kNow - kHour);
  append_at(2, 10, kNow - kHour);
  const Balance one = ledger_.balance(1, kNow);
  EXPECT_EQ(one.household_id, 1);
  EXPECT_EQ(one.balance, 35);
  EXPECT_EQ(one.this_month, 3);
  const Balance two = ledger_.balance(2, kNow);
  EXPECT_EQ(two.balance, 10);
  EXPECT_EQ(two.this_month, 10);
  const Balance none = ledger_.balance(3, kNow);
  EXPECT_EQ(none.balance, 0);
  EXPECT_EQ(none.this_month, 0);
  EXPECT_TRUE(ledger_.verify().ok);
}

TEST_F(LedgerTest, RanksShareTiesAndLeaderboardsOrderByPoints) {
  append_at(1, 25, kNow - 62 * kDay);  // h1: 30 in all, 5 this month
  append_at(1, 5, kNow - 2 * kHour);
  append_at(2, 30, kNow - 3 * kHour);  // h2: 30 in all, 30 this month
  append_at(3, 25, kNow - 4 * kHour);  // h3: 20 in all, 20 this month
  append_at(3, -5, kNow - kHour);
  EXPECT_EQ(ledger_.balance(1, kNow).rank, 1);
  EXPECT_EQ(ledger_.balance(2, kNow).rank, 1);
  const Balance three = ledger_.balance(3, kNow);
  EXPECT_EQ(three.rank, 3);
  const Balance four = ledger_.balance(4, kNow);  // no entries at all
  EXPECT_EQ(four.balance, 0);
  EXPECT_EQ(four.rank, 4);
  EXPECT_EQ(ledger_.balance(1, kNow).this_month, 5);

  const auto all = ledger_.leaderboard(false, 10, kNow);
  auto all_top = top(all, 3);
  std::sort(all_top.begin(), all_top.begin() + 2);  // the order within a tie is not specified
  EXPECT_EQ(all_top, (std::vector<Row3>{{1, 30, 1}, {2, 30, 1}, {3, 20, 3}}));
  for (std::size_t i = 3; i < all.size(); ++i) {  // households without points, if listed
    EXPECT_EQ(all[i].points, 0);
    EXPECT_EQ(all[i].rank, 4);
  }
  EXPECT_EQ(ledger_.leaderboard(false, 2, kNow).size(), 2U);
  const auto month = ledger_.leaderboard(true, 10, kNow);
  EXPECT_EQ(top(month, 3), (std::vector<Row3>{{2, 30, 1}, {3, 20, 2}, {1, 5, 3}}));
  for (std::size_t i = 3; i < month.size(); ++i) EXPECT_EQ(month[i].points, 0);
}

TEST_F(LedgerTest, RecentIsNewestFirstPerHousehold) {
  ledger_.post(award(1, 1));
  ledger_.post(award(2, 2));
  ledger_.post(award(1, 3));
  ledger_.post(award(1, 4));
  ledger_.post(award(1, 5));
  std::vector<std::int64_t> ids;
  for (const Entry& e : ledger_.recent(1, 3)) ids.push_back(e.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{5, 4, 3}));
  const auto two = ledger_.recent(2, 10);
  ASSERT_EQ(two.size(), 1U);
  EXPECT_EQ(two[0].points, 2);
  EXPECT_TRUE(ledger_.recent(3, 10).empty());
}

// ---- Idempotency, reversals, refusals ---------------------------------------

TEST_F(LedgerTest, SameIdempotencyKeyIsOneEntry) {
  Posting p = award(1, 10);
  p.idempotency_key = "proposal:12";
  const Entry first = ledger_.post(p);
  p.points = 99;  // a retry never adds a second entry, whatever it carries
  const Entry again = ledger_.post(p);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.points, 10);
  EXPECT_EQ(again.hash, first.hash);
  EXPECT_EQ(ledger_.balance(1, wall_ms()).balance, 10);
  EXPECT_EQ(ledger_.entry(first.id).value().idempotency_key, "proposal:12");
  // Postings without a key are never merged.
  const Entry a = ledger_.post(award(1, 5));
  const Entry b = ledger_.post(award(1, 5));
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(ledger_.entry(a.id).value().idempotency_key, "");
  EXPECT_EQ(ledger_.balance(1, wall_ms()).balance, 20);
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 3);
}

TEST_F(LedgerTest, ReversalUndoesOnceAndOnlyOnce) {
  const Entry a = ledger_.post(award(1, 10));
  ledger_.post(award(1, 3));
  const Entry r = ledger_.reverse(a.id, "李主任", "录入错误");
  EXPECT_EQ(r.id, 3);
  EXPECT_EQ(r.household_id, 1);
  EXPECT_EQ(r.points, -10);
  EXPECT_EQ(r.reverses, a.id);
  EXPECT_THAT(r.reason, HasSubstr("录入错误"));
  EXPECT_TRUE(r.proposer == "李主任" || r.approver == "李主任") << r.proposer << " / " << r.approver;
  EXPECT_EQ(ledger_.entry(r.id).value().reverses, a.id);
  EXPECT_EQ(ledger_.balance(1, wall_ms()).balance, 3);

  EXPECT_THROW(ledger_.reverse(a.id, "李主任", "again"), LedgerError);
  EXPECT_THROW(ledger_.reverse(r.id, "李主任", "undo the undo"), LedgerError);
  EXPECT_THROW(ledger_.reverse(999, "李主任", "no such entry"), LedgerError);
  Posting manual = award(1, -10);
  manual.reverses = a.id;  // a second reversal by hand is refused the same way
  EXPECT_THROW(ledger_.post(manual), LedgerError);

  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 3);
  EXPECT_EQ(ledger_.balance(1, wall_ms()).balance, 3);
}

TEST_F(LedgerTest, RefusalsChangeNothing) {
  ledger_.post(award(1, 10));
  EXPECT_THROW(ledger_.post(award(1, 0)), LedgerError);
  EXPECT_THROW(ledger_.post(award(1, 5, "")), LedgerError);
  EXPECT_THROW(ledger_.post(award(0, 5)), LedgerError);
  EXPECT_THROW(ledger_.post(award(-3, 5)), LedgerError);
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 1);
  EXPECT_EQ(ledger_.balance(1, wall_ms()).balance, 10);
  EXPECT_EQ(ledger_.post(award(1, 1)).id, 2);  // no id was used up
}

// ---- Tampering -----------------------------------------------------------------

TEST_F(LedgerTest, ChangedPointsNameTheEntry) {
  post_five();
  tamper("points_entries_no_update", "UPDATE points_entries SET points = points + 100 WHERE id = 2");
  expect_broken(2);
}

TEST_F(LedgerTest, ChangedReasonOfTheLastEntryIsFound) {
  const auto posted = post_five();
  tamper("points_entries_no_update", "UPDATE points_entries SET reason = ? WHERE id = ?",
         {std::string("扫地"), posted.back().id});
  expect_broken(posted.back().id);
}

TEST_F(LedgerTest, RehashingAChangedEntryBreaksTheNextLink) {
  post_five();
  Entry forged = ledger_.entry(2).value();
  forged.points += 100;
  forged.hash = entry_hash(forged);
  storage_.write_sync([&](Session& s) {
    s.execute("DROP TRIGGER points_entries_no_update");
    s.execute("UPDATE points_entries SET points = ?, hash = ? WHERE id = 2", {forged.points, forged.hash});
    s.execute("UPDATE points_balances SET balance = balance + 100 WHERE household_id = ?", {forged.household_id});
  });
  expect_broken(3);
}

// A reversal that does not undo its original, in a chain rebuilt so that every hash and link holds
// and the balance matches: only the reversal check can find it.
TEST_F(LedgerTest, AReversalThatDoesNotUndoItsOriginalIsFoundInARebuiltChain) {
  const Entry a = ledger_.post(award(1, 10));
  ledger_.post(award(2, 3));
  const Entry r = ledger_.reverse(a.id, "李主任", "录入错误");
  ledger_.post(award(2, 4));
  ledger_.post(award(2, 5));
  ASSERT_TRUE(ledger_.verify().ok);

  std::vector<Entry> rebuilt;
  std::string prev = ledger_.entry(r.id - 1).value().prev_hash;
  for (std::int64_t id = r.id - 1; id <= r.id + 2; ++id) {
    Entry e = ledger_.entry(id).value();
    if (id == r.id) e.points = -7;  // undoes 7 of the original 10
    e.prev_hash = id == r.id - 1 ? e.prev_hash : prev;
    e.hash = entry_hash(e);
    prev = e.hash;
    rebuilt.push_back(e);
  }
  storage_.write_sync([&](Session& s) {
    s.execute("DROP TRIGGER points_entries_no_update");
    for (const Entry& e : rebuilt)
      s.execute("UPDATE points_entries SET points = ?, prev_hash = ?, hash = ? WHERE id = ?",
                {e.points, e.prev_hash, e.hash, e.id});
    s.execute("UPDATE points_balances SET balance = balance + 3 WHERE household_id = 1");
  });
  const VerifyResult v = expect_broken(r.id);
  EXPECT_THAT(v.problem, HasSubstr("reversal does not undo its original")) << v.problem;
}

TEST_F(LedgerTest, DeletedEntryIsFound) {
  post_five();
  tamper("points_entries_no_delete", "DELETE FROM points_entries WHERE id = 3");
  const VerifyResult v = expect_broken(-1);
  EXPECT_TRUE(v.first_bad_id == 3 || v.first_bad_id == 4) << v.first_bad_id << ": " << v.problem;
}

TEST_F(LedgerTest, ChangedBalanceIsFound) {
  ledger_.post(award(kHousehold4242, 10));
  ledger_.post(award(1, 10));
  ASSERT_TRUE(ledger_.verify().ok);
  tamper("", "UPDATE points_balances SET balance = balance + 1 WHERE household_id = ?", {kHousehold4242});
  EXPECT_THAT(expect_broken(-1).problem, HasSubstr("4242"));
}

TEST_F(LedgerTest, TriggersRefuseUpdateAndDelete) {
  const auto posted = post_five();
  EXPECT_THROW(tamper("", "UPDATE points_entries SET points = 1000 WHERE id = 2"), StorageError);
  EXPECT_THROW(tamper("", "DELETE FROM points_entries WHERE id = 3"), StorageError);
  EXPECT_EQ(ledger_.entry(2).value().points, posted[1].points);
  EXPECT_TRUE(ledger_.entry(3).has_value());
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 5);
}

// ---- Concurrency and text -----------------------------------------------------

TEST_F(LedgerTest, ConcurrentPostsFormOneChain) {
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::mutex mutex;
  std::vector<std::int64_t> ids;
  int failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        try {
          const Entry e = ledger_.post(award(5, (t * kEach + i) % 7 + 1));
          std::lock_guard lock(mutex);
          ids.push_back(e.id);
        } catch (const std::exception&) {
          std::lock_guard lock(mutex);
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  std::sort(ids.begin(), ids.end());
  std::vector<std::int64_t> expected(kThreads * kEach);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(ids, expected);
  std::int64_t sum = 0;
  for (int n = 0; n < kThreads * kEach; ++n) sum += n % 7 + 1;
  EXPECT_EQ(ledger_.balance(5, wall_ms()).balance, sum);
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, kThreads * kEach);
}

TEST_F(LedgerTest, UnicodeAndQuotesRoundTripAndVerify) {
  Posting p = award(3, 8, "打扫文化广场 🧹👍 \"引号\" \\ 换行\n完");
  p.rule_code = "第3条";
  p.source = "volunteers:shift-7";
  p.proposer = "王小明 (组长)";
  p.approver = "村委会 ✅";
  p.idempotency_key = "志愿:7";
  const Entry posted = ledger_.post(p);
  const auto stored = ledger_.entry(posted.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(std::tie(stored->reason, stored->rule_code, stored->source, stored->proposer, stored->approver),
            std::tie(p.reason, p.rule_code, p.source, p.proposer, p.approver));
  EXPECT_EQ(stored->idempotency_key, p.idempotency_key);
  EXPECT_EQ(stored->hash, posted.hash);
  EXPECT_EQ(entry_hash(*stored), stored->hash);
  const VerifyResult v = ledger_.verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.head_hash, posted.hash);
}

}  // namespace
}  // namespace villagebot::points

#include "points_service.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <iterator>
#include <map>

#include <nlohmann/json.hpp>

#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::points {

const std::vector<Migration>& points_migrations();  // generated from schema/points_NNN.sql

namespace {

constexpr std::size_t kMaxText = 500;  // bytes of reason, source, proposer, approver, key
constexpr std::int64_t kMaxPoints = 1000000;

constexpr const char* kColumns =
    "id, household_id, points, reason, rule_code, source, proposer, approver, COALESCE(idempotency_key, ''), "
    "COALESCE(reverses, 0), created_at_ms, prev_hash, hash";

Entry entry_of(const Row& r) {
  Entry e;
  e.id = r.integer(0);
  e.household_id = r.integer(1);
  e.points = r.integer(2);
  e.reason = r.text(3);
  e.rule_code = r.text(4);
  e.source = r.text(5);
  e.proposer = r.text(6);
  e.approver = r.text(7);
  e.idempotency_key = r.text(8);
  e.reverses = r.integer(9);
  e.created_at_ms = r.integer(10);
  e.prev_hash = r.text(11);
  e.hash = r.text(12);
  return e;
}

std::optional<Entry> find(Session& s, std::string_view where, const std::vector<Value>& params) {
  auto rows = s.query(std::string("SELECT ") + kColumns + " FROM points_entries WHERE " + std::string(where), params);
  if (rows.empty()) return std::nullopt;
  return entry_of(rows.front());
}

// (household_id, points) rows sorted by points, most first → standings where
// equal points share a rank (1, 1, 3).
std::vector<Standing> ranked(const Rows& rows) {
  std::vector<Standing> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Standing st;
    st.household_id = rows[i].integer(0);
    st.points = rows[i].integer(1);
    st.rank = i > 0 && out.back().points == st.points ? out.back().rank : static_cast<std::int64_t>(i) + 1;
    out.push_back(st);
  }
  return out;
}

Value text_or_null(const std::string& s) {
  return s.empty() ? Value{nullptr} : Value{s};
}

Value id_or_null(std::int64_t id) {
  return id > 0 ? Value{id} : Value{nullptr};
}

void check_text(const std::string& value, const char* what) {
  if (value.size() > kMaxText) throw LedgerError(std::string(what) + " 超过 500 字节 / is longer than 500 bytes");
}

}  // namespace

// The canonical text is nlohmann::json::array({...}).dump(-1, ' ', false, replace):
// existing ledgers were hashed over exactly these bytes. Written here directly (a
// verify of 1,000,000 entries spent most of its hashing time building and dumping
// the json values); text that is not valid UTF-8 takes nlohmann's way, which
// replaces the bad bytes.
std::string entry_hash(const Entry& e) {
  const std::string* const texts[] = {&e.reason, &e.rule_code, &e.source, &e.proposer, &e.approver, &e.idempotency_key};
  auto valid = [](const std::string* t) { return text::valid_utf8(*t); };
  if (!std::all_of(std::begin(texts), std::end(texts), valid) || !text::valid_utf8(e.prev_hash)) {
    const nlohmann::json content =
        nlohmann::json::array({e.id, e.household_id, e.points, e.reason, e.rule_code, e.source, e.proposer, e.approver,
                               e.idempotency_key, e.reverses, e.created_at_ms, e.prev_hash});
    return crypto::sha256_hex(content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  std::string out;
  out.reserve(160 + e.reason.size() + e.source.size() + e.proposer.size() + e.approver.size() +
              e.idempotency_key.size());
  // Each value is preceded by a comma but the first, as nlohmann writes an array.
  auto number = [&out](std::int64_t n) {
    if (out.size() > 1) out += ',';
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
  };
  auto string = [&out](const std::string& t) {
    out += ",\"";
    text::append_json_escaped(out, t);
    out += '"';
  };
  out += '[';
  number(e.id);
  number(e.household_id);
  number(e.points);
  for (const std::string* t : texts) string(*t);
  number(e.reverses);
  number(e.created_at_ms);
  string(e.prev_hash);
  out += ']';
  return crypto::sha256_hex(out);
}

Ledger::Ledger(Storage& storage, std::int64_t utc_offset_s) : storage_(storage), utc_offset_s_(utc_offset_s) {}

std::vector<Migration> Ledger::migrations() {
  return points_migrations();
}

Entry Ledger::append(Session& s, const Posting& p, std::int64_t now_ms) {
  if (!p.idempotency_key.empty()) {
    check_text(p.idempotency_key, "idempotency_key");
    if (auto earlier = find(s, "idempotency_key = ?", {p.idempotency_key})) return *earlier;
  }
  if (p.household_id <= 0) throw LedgerError("没有指定户 / no household given");
  if (p.points == 0) throw LedgerError("分值不能为 0 / points must not be 0");
  if (p.points > kMaxPoints || p.points < -kMaxPoints)
    throw LedgerError("分值超出范围（±1000000）/ points out of range (±1000000)");
  if (p.reason.find_first_not_of(" \t\r\n") == std::string::npos)
    throw LedgerError("请写明加减分原因 / a reason is required");
  check_text(p.reason, "reason");
  check_text(p.rule_code, "rule_code");
  check_text(p.source, "source");
  check_text(p.proposer, "proposer");
  check_text(p.approver, "approver");
  if (p.reverses > 0) {
    const auto original = find(s, "id = ?", {p.reverses});
    if (!original) throw LedgerError("没有第 " + std::to_string(p.reverses) + " 条记录 / no such entry");
    if (original->reverses > 0)
      throw LedgerError("第 " + std::to_string(p.reverses) +
                        " 条本身是冲正记录，不能再冲正 / a reversal cannot be reversed");
    if (find(s, "reverses = ?", {p.reverses}))
      throw LedgerError("第 " + std::to_string(p.reverses) + " 条已经冲正过 / already reversed");
    if (original->household_id != p.household_id || original->points != -p.points)
      throw LedgerError("冲正记录必须与原记录同户、分值相反 / a reversal must undo the original exactly");
  }
  Entry e;
  const auto head = s.query("SELECT id, hash FROM points_entries ORDER BY id DESC LIMIT 1");
  e.id = head.empty() ? 1 : head.front().integer(0) + 1;
  e.prev_hash = head.empty() ? kGenesisHash : head.front().text(1);
  e.household_id = p.household_id;
  e.points = p.points;
  e.reason = p.reason;
  e.rule_code = p.rule_code;
  e.source = p.source;
  e.proposer = p.proposer;
  e.approver = p.approver;
  e.idempotency_key = p.idempotency_key;
  e.reverses = p.reverses;
  e.created_at_ms = now_ms;
  e.hash = entry_hash(e);
  s.execute(
      "INSERT INTO points_entries (id, household_id, points, reason, rule_code, source, proposer, approver, "
      "idempotency_key, reverses, created_at_ms, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {e.id, e.household_id, e.points, e.reason, e.rule_code, e.source, e.proposer, e.approver,
       text_or_null(e.idempotency_key), id_or_null(e.reverses), e.created_at_ms, e.prev_hash, e.hash});
  s.execute(
      "INSERT INTO points_balances (household_id, balance, updated_at_ms) VALUES (?, ?, ?) "
      "ON CONFLICT(household_id) DO UPDATE SET balance = balance + excluded.balance, "
      "updated_at_ms = excluded.updated_at_ms",
      {e.household_id, e.points, now_ms});
  return e;
}

namespace {
std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Entry Ledger::post(const Posting& posting) {
  Entry out;
  const auto now = unix_ms_now();
  storage_.write_sync([&](Session& s) { out = append(s, posting, now); });
  return out;
}

Entry Ledger::reverse(std::int64_t entry_id, const std::string& by, const std::string& reason) {
  Entry out;
  const auto now = unix_ms_now();
  storage_.write_sync([&](Session& s) {
    const auto original = find(s, "id = ?", {entry_id});
    if (!original) throw LedgerError("没有第 " + std::to_string(entry_id) + " 条记录 / no such entry");
    Posting p;
    p.household_id = original->household_id;
    p.points = -original->points;
    p.reason = reason.empty() ? "冲正第 " + std::to_string(entry_id) + " 条：" + original->reason : reason;
    p.rule_code = original->rule_code;
    p.source = "reversal:" + std::to_string(entry_id);
    p.proposer = by;
    p.approver = by;
    p.reverses = entry_id;
    out = append(s, p, now);
  });
  return out;
}

VerifyResult Ledger::verify() {
  const auto start = std::chrono::steady_clock::now();
  VerifyResult v;
  v.head_hash = kGenesisHash;
  std::map<std::int64_t, std::int64_t> sums;
  // Entry id → points, for checking reversals: ids run 1, 2, 3 … (checked below), so entry i is at
  // i - 1. 8 bytes an entry, so every reversal is checked against its original however old (a
  // std::map here cost about a second of a 1,000,000-entry verify, and forgot entries past 80,000
  // back to bound its memory).
  std::vector<std::int64_t> points_of;
  auto fail = [&](std::int64_t id, std::string problem) {
    v.ok = false;
    v.first_bad_id = id;
    v.problem = std::move(problem);
  };
  std::string prev = kGenesisHash;
  // The chain in order, given each entry's recomputed hash; false at the first break.
  auto check = [&](const std::vector<Entry>& chunk, const std::vector<std::string>& hashes) {
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const Entry& e = chunk[i];
      const std::int64_t expected = v.entries + 1;
      if (e.id != expected) {
        fail(expected,
             "第 " + std::to_string(expected) + " 条记录缺失 / entry " + std::to_string(expected) + " is missing");
        return false;
      }
      if (e.prev_hash != prev) {
        const std::string n = std::to_string(e.id);
        fail(e.id, "第 " + n + " 条的前一哈希与上一条不符（上一条被改动或删除）/ entry " + n +
                       ": prev_hash does not match the entry before it");
        return false;
      }
      if (hashes[i] != e.hash) {
        const std::string n = std::to_string(e.id);
        fail(e.id, "第 " + n + " 条的内容与其哈希不符（记录被改动）/ entry " + n +
                       ": its content does not match its hash (the row was changed)");
        return false;
      }
      if (e.reverses > 0) {
        if (e.reverses >= e.id || points_of[static_cast<std::size_t>(e.reverses - 1)] != -e.points) {
          const std::string n = std::to_string(e.id);
          fail(e.id, "第 " + n + " 条冲正记录与原记录不符 / entry " + n + ": the reversal does not undo its original");
          return false;
        }
      }
      points_of.push_back(e.points);
      sums[e.household_id] += e.points;
      prev = e.hash;
      ++v.entries;
    }
    return true;
  };
  using Hashed = std::pair<std::vector<Entry>, std::vector<std::string>>;
  auto hash_all = [](std::vector<Entry> chunk) {
    std::vector<std::string> hashes;
    hashes.reserve(chunk.size());
    for (const auto& e : chunk) hashes.push_back(entry_hash(e));
    return Hashed{std::move(chunk), std::move(hashes)};
  };
  constexpr std::int64_t kChunk = 20000;
  storage_.read([&](Session& s) {
    // One read transaction: a consistent snapshot even while entries are appended.
    // Chunk k is hashed on a second thread while chunk k+1 is read.
    std::future<Hashed> pending;
    std::int64_t after = 0;
    for (;;) {
      std::vector<Entry> chunk;
      for (const auto& r :
           s.query(std::string("SELECT ") + kColumns + " FROM points_entries WHERE id > ? ORDER BY id LIMIT ?",
                   {after, kChunk}))
        chunk.push_back(entry_of(r));
      if (pending.valid()) {
        const auto [entries, hashes] = pending.get();
        if (!check(entries, hashes)) return;
      }
      if (chunk.empty()) break;
      after = chunk.back().id;
      pending = std::async(std::launch::async, hash_all, std::move(chunk));
    }
    v.head_hash = prev;
    std::map<std::int64_t, std::int64_t> stored;
    for (const auto& r : s.query("SELECT household_id, balance FROM points_balances"))
      stored[r.integer(0)] = r.integer(1);
    for (const auto& [household, sum] : sums) {
      const auto it = stored.find(household);
      const std::int64_t have = it == stored.end() ? 0 : it->second;
      if (have != sum) {
        fail(0, "户 " + std::to_string(household) + " 的余额 " + std::to_string(have) + " 与明细合计 " +
                    std::to_string(sum) + " 不符 / household " + std::to_string(household) + ": balance " +
                    std::to_string(have) + " is not the sum of its entries (" + std::to_string(sum) + ")");
        return;
      }
    }
    for (const auto& [household, have] : stored)
      if (!sums.contains(household) && have != 0) {
        fail(0, "户 " + std::to_string(household) + " 没有明细却有余额 " + std::to_string(have) + " / household " +
                    std::to_string(household) + " has a balance of " + std::to_string(have) + " but no entries");
        return;
      }
  });
  if (!v.ok && v.first_bad_id > 0) v.head_hash = prev;
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return v;
}

std::optional<Entry> Ledger::entry(std::int64_t id) {
  return storage_.read([&](Session& s) { return find(s, "id = ?", {id}); });
}

std::int64_t Ledger::month_start_ms(std::int64_t now_ms) const {
  using namespace std::chrono;
  const auto local = sys_seconds{seconds{now_ms / 1000 + utc_offset_s_}};
  const year_month_day ymd{floor<days>(local)};
  const sys_days first{ymd.year() / ymd.month() / 1};
  return (duration_cast<seconds>(first.time_since_epoch()).count() - utc_offset_s_) * 1000;
}

Balance Ledger::balance(std::int64_t household_id, std::int64_t now_ms) {
  Balance b;
  b.household_id = household_id;
  const auto since = month_start_ms(now_ms);
  // One statement (what every 积分 asks): the balance, the households above it, this month's sum.
  const auto row = storage_.read([&](Session& s) {
    return s
        .query(
            "SELECT bal, (SELECT COUNT(*) FROM points_balances WHERE balance > bal), "
            "(SELECT COALESCE(SUM(points), 0) FROM points_entries WHERE household_id = ? AND created_at_ms >= ?) "
            "FROM (SELECT COALESCE((SELECT balance FROM points_balances WHERE household_id = ?), 0) AS bal)",
            {household_id, since, household_id})
        .front();
  });
  b.balance = row.integer(0);
  b.rank = 1 + row.integer(1);
  b.this_month = row.integer(2);
  return b;
}

std::vector<Entry> Ledger::recent(std::int64_t household_id, int limit) {
  return storage_.read([&](Session& s) {
    std::vector<Entry> out;
    for (const auto& r : s.query(
             std::string("SELECT ") + kColumns + " FROM points_entries WHERE household_id = ? ORDER BY id DESC LIMIT ?",
             {household_id, static_cast<std::int64_t>(limit)}))
      out.push_back(entry_of(r));
    return out;
  });
}

std::vector<Entry> Ledger::page(std::int64_t household_id, std::int64_t after, int limit) {
  return storage_.read([&](Session& s) {
    std::vector<Entry> out;
    const std::string sql = std::string("SELECT ") + kColumns + " FROM points_entries WHERE id > ?" +
                            (household_id > 0 ? " AND household_id = ?" : "") + " ORDER BY id LIMIT ?";
    const std::vector<Value> params = household_id > 0 ? std::vector<Value>{after, household_id, std::int64_t{limit}}
                                                       : std::vector<Value>{after, std::int64_t{limit}};
    for (const auto& r : s.query(sql, params)) out.push_back(entry_of(r));
    return out;
  });
}

std::vector<Standing> Ledger::at_least(std::int64_t threshold) {
  return storage_.read([&](Session& s) {
    const auto rows = s.query(
        "SELECT household_id, balance FROM points_balances WHERE balance >= ? ORDER BY balance DESC, household_id",
        {threshold});
    return ranked(rows);
  });
}

std::vector<Standing> Ledger::leaderboard_between(std::int64_t from_ms, std::int64_t to_ms, int limit) {
  return storage_.read([&](Session& s) {
    const auto rows = s.query(
        "SELECT household_id, SUM(points) AS total FROM points_entries WHERE created_at_ms >= ? AND created_at_ms < ? "
        "GROUP BY household_id HAVING total > 0 ORDER BY total DESC, household_id LIMIT ?",
        {from_ms, to_ms, static_cast<std::int64_t>(limit)});
    return ranked(rows);
  });
}

std::vector<Standing> Ledger::leaderboard(bool month, int limit, std::int64_t now_ms) {
  return storage_.read([&](Session& s) {
    const Rows rows =
        month ? s.query(
                    "SELECT household_id, SUM(points) AS total FROM points_entries WHERE created_at_ms >= ? "
                    "GROUP BY household_id HAVING total > 0 ORDER BY total DESC, household_id LIMIT ?",
                    {month_start_ms(now_ms), static_cast<std::int64_t>(limit)})
              : s.query(
                    "SELECT household_id, balance FROM points_balances WHERE balance > 0 "
                    "ORDER BY balance DESC, household_id LIMIT ?",
                    {static_cast<std::int64_t>(limit)});
    return ranked(rows);
  });
}

}  // namespace villagebot::points

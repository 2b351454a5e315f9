#pragma once
// The household points ledger (积分): append-only entries, each hash-chained to
// the one before; balances derived in the same transaction; reversals instead
// of edits; verification that names the first broken entry. No loader, JSON or
// chat knowledge here: points_plugin.cpp wires it to commands and the CLI.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "villagebot/storage.hpp"

namespace villagebot::points {

// A refusal the caller can show (unknown household, nothing to reverse ...).
class LedgerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What to append. Exactly one entry per idempotency key: appending a key that
// is already in the ledger returns the earlier entry and changes nothing.
struct Posting {
  std::int64_t household_id = 0;
  std::int64_t points = 0;      // + award, − deduction; never 0
  std::string reason;           // shown to villagers: 打扫文化广场
  std::string rule_code;        // the 积分细则 rule, "" if none
  std::string source;           // proposal:12, volunteers:shift-7, store:redemption-3, manual
  std::string proposer;         // who proposed (a name or "person:<id>")
  std::string approver;         // who approved; "rule" for automatic ones
  std::string idempotency_key;  // "" → none
  std::int64_t reverses = 0;    // the entry this undoes (reversals only)
};

struct Entry {
  std::int64_t id = 0;  // the entry's place in the chain, from 1
  std::int64_t household_id = 0;
  std::int64_t points = 0;
  std::string reason;
  std::string rule_code;
  std::string source;
  std::string proposer;
  std::string approver;
  std::string idempotency_key;
  std::int64_t reverses = 0;
  std::int64_t created_at_ms = 0;
  std::string prev_hash;  // hex; 64 zeros for the first entry
  std::string hash;       // hex SHA-256 of the content and prev_hash
};

// The hash of an entry: SHA-256 over a canonical JSON array of every field
// but `hash` itself (prev_hash included), as lower-case hex.
std::string entry_hash(const Entry& entry);
inline const std::string kGenesisHash(64, '0');

struct VerifyResult {
  bool ok = true;
  std::int64_t entries = 0;       // checked
  std::string head_hash;          // the last entry's hash (kGenesisHash when empty)
  std::int64_t first_bad_id = 0;  // 0 when ok
  std::string problem;            // what is wrong with it, in Chinese and English
  double seconds = 0;
};

struct Balance {
  std::int64_t household_id = 0;
  std::int64_t balance = 0;
  std::int64_t rank = 0;        // 1 = most points; households with equal points share a rank
  std::int64_t this_month = 0;  // change since the first of this month (village time)
};

struct Standing {
  std::int64_t household_id = 0;
  std::string household_code;
  std::string head_name;
  std::int64_t points = 0;
  std::int64_t rank = 0;  // ties share a rank (1, 1, 3)
};

class Ledger {
 public:
  // utc_offset_s: the village's offset from UTC, for "this month".
  explicit Ledger(Storage& storage, std::int64_t utc_offset_s = 8 * 3600);

  static std::vector<Migration> migrations();

  // Inside a write transaction: appends the posting (or returns the entry its
  // idempotency key already has). Throws LedgerError for 0 points, an empty
  // reason, an unknown household, or a reversal of an unknown or already
  // reversed entry, or of a reversal.
  static Entry append(Session& session, const Posting& posting, std::int64_t now_ms);

  // Durable before it returns.
  Entry post(const Posting& posting);
  // Undoes an entry with a new one of the opposite sign that names it.
  Entry reverse(std::int64_t entry_id, const std::string& by, const std::string& reason);

  // Reads the whole chain in order and recomputes every hash; also checks that
  // every household's stored balance is the sum of its entries.
  [[nodiscard]] VerifyResult verify();

  [[nodiscard]] std::optional<Entry> entry(std::int64_t id);
  [[nodiscard]] Balance balance(std::int64_t household_id, std::int64_t now_ms);
  // The household's latest entries, newest first.
  [[nodiscard]] std::vector<Entry> recent(std::int64_t household_id, int limit);
  // Entries in chain order with an id above `after` (of one household, or all when 0).
  [[nodiscard]] std::vector<Entry> page(std::int64_t household_id, std::int64_t after, int limit);
  // Households with at least `threshold` points, most first (以奖代补).
  [[nodiscard]] std::vector<Standing> at_least(std::int64_t threshold);
  // Top households by their change between two instants (unix ms, [from, to)).
  [[nodiscard]] std::vector<Standing> leaderboard_between(std::int64_t from_ms, std::int64_t to_ms, int limit);
  // Top households: all time (month = false) or by the change this month.
  [[nodiscard]] std::vector<Standing> leaderboard(bool month, int limit, std::int64_t now_ms);
  // The first moment of the month containing now, in village time, as unix ms.
  [[nodiscard]] std::int64_t month_start_ms(std::int64_t now_ms) const;

 private:
  Storage& storage_;
  std::int64_t utc_offset_s_;
};

}  // namespace villagebot::points

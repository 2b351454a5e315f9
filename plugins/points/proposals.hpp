#pragma once
// Proposals (加分/扣分): a cadre or evaluator proposes, an evaluator who is not
// the proposer approves (the ledger entry is appended in the same transaction)
// or rejects. The rules catalogue (积分细则) gives codes, points and monthly caps;
// a rule may approve itself (events from other plugins, e.g. a shift completed).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "points_service.hpp"

namespace villagebot::points {

struct Rule {
  std::string code;  // A01
  std::string description;
  std::int64_t points = 0;  // + award, − deduction
  int monthly_cap = 0;      // at most this many per household per month; 0 = no cap
  bool auto_approve = false;
};

struct ProposalRequest {
  std::int64_t household_id = 0;
  std::int64_t points = 0;
  std::string reason;
  std::string rule_code;  // "" or a catalogue code
  std::string source;     // chat, api, volunteers:shift-7 ...
  std::int64_t proposer_person_id = 0;
  std::string proposer;         // a name
  std::string idempotency_key;  // "" → none; a known key returns the earlier proposal
};

struct Proposal {
  std::int64_t id = 0;
  std::int64_t household_id = 0;
  std::int64_t points = 0;
  std::string reason;
  std::string rule_code;
  std::string source;
  std::int64_t proposer_person_id = 0;
  std::string proposer;
  std::string status;  // pending, approved, rejected
  std::int64_t decided_by_person_id = 0;
  std::string decided_by;
  std::string note;
  std::int64_t entry_id = 0;  // the ledger entry of an approved proposal
  std::int64_t created_at_ms = 0;
  std::int64_t decided_at_ms = 0;
};

class Proposals {
 public:
  Proposals(Storage& storage, Ledger& ledger, std::vector<Rule> rules);

  [[nodiscard]] const std::vector<Rule>& rules() const { return rules_; }
  [[nodiscard]] const Rule* rule(const std::string& code) const;

  // Pending until decided. Throws LedgerError for 0 points, no reason, no
  // household, an unknown rule, or points whose sign differs from the rule's.
  Proposal propose(const ProposalRequest& request);
  // Approve (append to the ledger) or reject. Throws LedgerError when the
  // proposal is unknown or already decided, when the decider proposed it, or
  // when approving would pass the rule's monthly cap for the household.
  Proposal decide(std::int64_t id, std::int64_t decider_person_id, const std::string& decider, bool approve,
                  const std::string& note);
  // An award from another plugin: appended at once when its rule approves
  // itself (within the cap, else nothing), otherwise proposed. Idempotent by key.
  // Returns the entry id (0 when proposed or over the cap).
  std::int64_t award(const ProposalRequest& request);

  [[nodiscard]] std::optional<Proposal> get(std::int64_t id);
  [[nodiscard]] std::vector<Proposal> pending(int limit);

 private:
  void check(const ProposalRequest& request) const;
  // Entries of this rule for the household this month that still stand.
  std::int64_t used_this_month(Session& session, std::int64_t household_id, const std::string& rule_code,
                               std::int64_t now_ms) const;

  Storage& storage_;
  Ledger& ledger_;
  std::vector<Rule> rules_;
};

}  // namespace villagebot::points

#include "proposals.hpp"

#include <chrono>

namespace villagebot::points {

namespace {

constexpr const char* kColumns =
    "id, household_id, points, reason, rule_code, source, proposer_person_id, proposer, status, "
    "decided_by_person_id, decided_by, note, COALESCE(entry_id, 0), created_at_ms, decided_at_ms";

Proposal proposal_of(const Row& r) {
  Proposal p;
  p.id = r.integer(0);
  p.household_id = r.integer(1);
  p.points = r.integer(2);
  p.reason = r.text(3);
  p.rule_code = r.text(4);
  p.source = r.text(5);
  p.proposer_person_id = r.integer(6);
  p.proposer = r.text(7);
  p.status = r.text(8);
  p.decided_by_person_id = r.integer(9);
  p.decided_by = r.text(10);
  p.note = r.text(11);
  p.entry_id = r.integer(12);
  p.created_at_ms = r.integer(13);
  p.decided_at_ms = r.integer(14);
  return p;
}

std::optional<Proposal> find(Session& s, std::string_view where, const std::vector<Value>& params) {
  auto rows = s.query(std::string("SELECT ") + kColumns + " FROM points_proposals WHERE " + std::string(where), params);
  if (rows.empty()) return std::nullopt;
  return proposal_of(rows.front());
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string cap_refusal(const Rule& rule) {
  return "本户本月「" + rule.description + "」（" + rule.code + "）已达上限 " + std::to_string(rule.monthly_cap) +
         " 次 / the household has reached this month's cap of " + std::to_string(rule.monthly_cap) + " for rule " +
         rule.code;
}

}  // namespace

Proposals::Proposals(Storage& storage, Ledger& ledger, std::vector<Rule> rules)
    : storage_(storage), ledger_(ledger), rules_(std::move(rules)) {}

const Rule* Proposals::rule(const std::string& code) const {
  for (const auto& r : rules_)
    if (r.code == code) return &r;
  return nullptr;
}

void Proposals::check(const ProposalRequest& r) const {
  if (r.household_id <= 0) throw LedgerError("没有指定户 / no household given");
  if (r.points == 0) throw LedgerError("分值不能为 0 / points must not be 0");
  if (r.reason.find_first_not_of(" \t\r\n") == std::string::npos)
    throw LedgerError("请写明加减分原因 / a reason is required");
  if (r.reason.size() > 500) throw LedgerError("原因超过 500 字节 / the reason is longer than 500 bytes");
  if (!r.rule_code.empty()) {
    const Rule* rule = this->rule(r.rule_code);
    if (rule == nullptr) throw LedgerError("没有积分细则 " + r.rule_code + " / no rule " + r.rule_code);
    if ((rule->points > 0) != (r.points > 0))
      throw LedgerError("细则 " + rule->code + " 是" + (rule->points > 0 ? "加分" : "扣分") + "项 / rule " +
                        rule->code + (rule->points > 0 ? " awards" : " deducts") + " points");
  }
}

Proposal Proposals::propose(const ProposalRequest& r) {
  check(r);
  Proposal out;
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    if (!r.idempotency_key.empty())
      if (auto earlier = find(s, "idempotency_key = ?", {r.idempotency_key})) {
        out = *earlier;
        return;
      }
    s.execute(
        "INSERT INTO points_proposals (household_id, points, reason, rule_code, source, proposer_person_id, proposer, "
        "idempotency_key, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {r.household_id, r.points, r.reason, r.rule_code, r.source, r.proposer_person_id, r.proposer,
         r.idempotency_key.empty() ? Value{nullptr} : Value{r.idempotency_key}, now});
    out = *find(s, "id = ?", {s.last_insert_id()});
  });
  return out;
}

std::int64_t Proposals::used_this_month(Session& s, std::int64_t household_id, const std::string& rule_code,
                                        std::int64_t now) const {
  return s
      .query(
          "SELECT COUNT(*) FROM points_entries e WHERE e.household_id = ? AND e.rule_code = ? AND "
          "e.created_at_ms >= ? AND e.reverses IS NULL AND NOT EXISTS "
          "(SELECT 1 FROM points_entries r WHERE r.reverses = e.id)",
          {household_id, rule_code, ledger_.month_start_ms(now)})
      .front()
      .integer(0);
}

Proposal Proposals::decide(std::int64_t id, std::int64_t decider_person_id, const std::string& decider, bool approve,
                           const std::string& note) {
  Proposal out;
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    auto p = find(s, "id = ?", {id});
    if (!p) throw LedgerError("没有第 " + std::to_string(id) + " 号申请 / no proposal #" + std::to_string(id));
    if (p->status != "pending")
      throw LedgerError("第 " + std::to_string(id) + " 号申请已经" + (p->status == "approved" ? "通过" : "驳回") +
                        " / proposal #" + std::to_string(id) + " was already " + p->status);
    if (decider_person_id > 0 && decider_person_id == p->proposer_person_id)
      throw LedgerError("不能审核自己提交的申请，请由评议小组其他成员审核 / you cannot decide your own proposal");
    std::int64_t entry_id = 0;
    if (approve) {
      if (const Rule* rule = this->rule(p->rule_code);
          rule != nullptr && rule->monthly_cap > 0 &&
          used_this_month(s, p->household_id, rule->code, now) >= rule->monthly_cap)
        throw LedgerError(cap_refusal(*rule));
      Posting posting;
      posting.household_id = p->household_id;
      posting.points = p->points;
      posting.reason = p->reason;
      posting.rule_code = p->rule_code;
      posting.source = "proposal:" + std::to_string(id);
      posting.proposer = p->proposer;
      posting.approver = decider;
      posting.idempotency_key = "proposal:" + std::to_string(id);
      entry_id = Ledger::append(s, posting, now).id;
    }
    s.execute(
        "UPDATE points_proposals SET status = ?, decided_by_person_id = ?, decided_by = ?, note = ?, entry_id = ?, "
        "decided_at_ms = ? WHERE id = ? AND status = 'pending'",
        {std::string(approve ? "approved" : "rejected"), decider_person_id, decider, note,
         entry_id > 0 ? Value{entry_id} : Value{nullptr}, now, id});
    out = *find(s, "id = ?", {id});
  });
  return out;
}

std::int64_t Proposals::award(const ProposalRequest& r) {
  check(r);
  const Rule* rule = this->rule(r.rule_code);
  if (rule == nullptr || !rule->auto_approve) {
    propose(r);
    return 0;
  }
  std::int64_t entry_id = 0;
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    if (!r.idempotency_key.empty()) {
      const auto known = s.query("SELECT id FROM points_entries WHERE idempotency_key = ?", {r.idempotency_key});
      if (!known.empty()) {
        entry_id = known.front().integer(0);
        return;
      }
    }
    if (rule->monthly_cap > 0 && used_this_month(s, r.household_id, rule->code, now) >= rule->monthly_cap) return;
    Posting posting;
    posting.household_id = r.household_id;
    posting.points = r.points;
    posting.reason = r.reason;
    posting.rule_code = r.rule_code;
    posting.source = r.source;
    posting.proposer = r.proposer;
    posting.approver = "rule:" + rule->code;
    posting.idempotency_key = r.idempotency_key;
    entry_id = Ledger::append(s, posting, now).id;
  });
  return entry_id;
}

std::optional<Proposal> Proposals::get(std::int64_t id) {
  return storage_.read([&](Session& s) { return find(s, "id = ?", {id}); });
}

std::vector<Proposal> Proposals::pending(int limit) {
  return storage_.read([&](Session& s) {
    std::vector<Proposal> out;
    for (const auto& r : s.query(
             std::string("SELECT ") + kColumns + " FROM points_proposals WHERE status = 'pending' ORDER BY id LIMIT ?",
             {static_cast<std::int64_t>(limit)}))
      out.push_back(proposal_of(r));
    return out;
  });
}

}  // namespace villagebot::points

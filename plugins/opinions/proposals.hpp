#pragma once
// 四议两公开: a proposal moves through 党支部提议 → 两委会商议 → 党员大会审议 → 村民代表会议决议
// (each stage records its decision; the representatives' may be a poll restricted to them),
// then 决议公开 and 实施结果公开, each published as a notice of that category through the
// announcements plugin. The order is enforced: a stage is recorded only when the one before it
// passed; a rejection ends the proposal.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "polls.hpp"
#include "tickets.hpp"
#include "villagebot/events.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::opinions {

inline constexpr std::array<const char*, 6> kStages{"党支部提议",       "两委会商议", "党员大会审议",
                                                    "村民代表会议决议", "决议公开",   "实施结果公开"};

struct StageRecord {
  int stage = 0;
  std::string decision;  // passed, rejected, published
  std::string note, poll_code, decided_by;
  std::int64_t decided_at_ms = 0;
};

struct Proposal {
  std::int64_t id = 0;
  std::string title, description, status;  // in_progress, rejected, resolved, completed
  int next_stage = 0;
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::vector<StageRecord> stages;
};

class Proposals {
 public:
  Proposals(Storage& storage, Polls& polls, EventBus& events);

  Proposal create(const std::string& title, const std::string& description, const std::string& by);
  // Records a deliberation stage (0–3). `poll_code` (stage 3 only): the decision is the poll's —
  // passed when more than half of the votes are for its first option (同意); the poll must be
  // closed. Throws TicketError: not_found, conflict (out of order, finished, poll open), invalid.
  Proposal decide(std::int64_t id, int stage, bool passed, const std::string& note, const std::string& poll_code,
                  const std::string& by);
  // 决议公开 (stage 4) or 实施结果公开 (stage 5): published as a notice to `audience`.
  Proposal disclose(std::int64_t id, int stage, const std::string& body, const Audience& audience,
                    const std::string& by);

  [[nodiscard]] std::optional<Proposal> get(std::int64_t id);
  std::vector<Proposal> list(std::int64_t limit);

 private:
  Storage& storage_;
  Polls& polls_;
  EventBus& events_;
};

nlohmann::json proposal_json(const Proposal& p);

}  // namespace villagebot::opinions

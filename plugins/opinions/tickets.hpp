#pragma once
// Opinion tickets (意见/建议/反映): a numbered ticket per opinion (YJ-2026-0042), a category
// from keyword rules, optional anonymity, assigned to the responsible person of the sender's
// org unit (四包一联, up the tree when a unit has none); unanswered past its category's SLA it
// moves one level up the chain, once per level, from the durable scheduler; the handler's
// answer reaches the villager; the villager rates it (效果共评).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

#include "plugin_support.hpp"

namespace villagebot::opinions {

// invalid 422, not_found 404, conflict 409, forbidden 403; "中文 / English".
class TicketError : public plugin_support::Refusal {
 public:
  using Refusal::Refusal;
};

// [[plugins.opinions.categories]]: the first whose keyword occurs in the text wins.
struct Category {
  std::string name;
  std::vector<std::string> keywords;
  std::int64_t sla_hours = 72;
};

struct TicketsOptions {
  std::vector<Category> categories;
  std::int64_t default_sla_hours = 72;  // 其他 (no keyword matched)
  std::int64_t utc_offset_s = 8 * 3600;
};

struct Ticket {
  std::int64_t id = 0;
  std::string number, kind, category, text;
  bool anonymous = false;
  std::int64_t person_id = 0, org_unit_id = 0, assigned_unit_id = 0, assignee_person_id = 0;
  int level = 0;
  std::string status;  // open, answered
  std::int64_t sla_due_ms = 0, sla_job_id = 0, created_at_ms = 0;
  std::string answer, answered_by;
  std::int64_t answered_by_person_id = 0, answered_at_ms = 0;
  std::string rating;  // "", satisfied, unsatisfied
  std::int64_t rated_at_ms = 0;
};

class Tickets {
 public:
  Tickets(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory, TicketsOptions options);
  static const std::vector<Migration>& migrations();

  // Files a ticket for a registered person and tells the assignee.
  Ticket file(const Person& sender, const std::string& kind, const std::string& text, bool anonymous);
  // The handler (the assignee, a cadre or an admin) answers; the villager is told. Throws TicketError.
  Ticket answer(const std::string& number, const Person& by, const std::string& text, bool any_handler);
  // 满意 / 不满意 on the sender's latest answered ticket (or the one named).
  Ticket rate(const Person& sender, const std::string& number, bool satisfied);
  // The scheduler's job: past its SLA at `level`, the ticket moves one level up (once).
  void escalate(std::int64_t ticket_id, int level);

  [[nodiscard]] std::optional<Ticket> by_number(const std::string& number);
  std::vector<Ticket> of_person(std::int64_t person_id, int limit);
  // Newest first; status "" any; assignee 0 any.
  std::vector<Ticket> list(const std::string& status, std::int64_t assignee, std::int64_t offset, std::int64_t limit,
                           std::int64_t* total = nullptr);
  // Answered and rated tickets per unit and per handler: answered, satisfied, unsatisfied, rate.
  nlohmann::json satisfaction();

  [[nodiscard]] std::string category_of(const std::string& text) const;
  [[nodiscard]] std::string local_time(std::int64_t ms) const;
  [[nodiscard]] std::int64_t now_ms() const;
  [[nodiscard]] Directory& directory() { return directory_; }

 private:
  // The responsible person of a unit, else of the nearest unit above with one: {unit, person}.
  std::pair<std::int64_t, std::int64_t> responsible_from(std::int64_t unit_id, std::int64_t exclude_person);
  std::int64_t sla_hours(const std::string& category) const;
  void schedule_sla(const Ticket& t);
  void event(Session& s, std::int64_t ticket_id, const std::string& what, const std::string& detail);
  std::string describe(const Ticket& t, bool show_name);

  Storage& storage_;
  Messenger& messenger_;
  Scheduler& scheduler_;
  Directory& directory_;
  TicketsOptions options_;
};

}  // namespace villagebot::opinions

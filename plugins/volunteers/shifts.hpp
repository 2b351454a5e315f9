#pragma once
// Volunteer posts, shifts and sign-ups (issue 9, in progress): 报名 within capacity (checked and
// inserted in one write on the single writer, so 30 concurrent sign-ups for 5 places leave
// exactly 5), 取消报名 before the cut-off, 签到 only inside the shift by someone on it, and the
// completion job after the shift: checked in → points (points.award, once per person and shift:
// its idempotency key), not checked in → a no-show.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "villagebot/directory.hpp"
#include "villagebot/events.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

#include "plugin_support.hpp"

namespace villagebot::volunteers {

class ShiftError : public plugin_support::Refusal {
 public:
  using Refusal::Refusal;
};

struct Post {
  std::int64_t id = 0;
  std::string code, name, place, required_role, points_rule;
  std::int64_t points = 0;
};

struct Shift {
  std::int64_t id = 0, post_id = 0, start_ms = 0, end_ms = 0;
  int capacity = 0;
  std::int64_t signup_cutoff_ms = 0, completed_at_ms = 0;
  int signed_up = 0;  // current sign-ups
};

class Shifts {
 public:
  Shifts(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events);
  static const std::vector<Migration>& migrations();

  // Posts from config: added or updated by code (kept across restarts).
  void load_posts(const std::vector<Post>& posts);
  [[nodiscard]] std::optional<Post> post(const std::string& code);
  Shift add_shift(const std::string& post_code, std::int64_t start_ms, std::int64_t end_ms, int capacity,
                  std::int64_t signup_cutoff_ms);

  Shift sign_up(std::int64_t shift_id, const Person& person);
  void cancel(std::int64_t shift_id, const Person& person);
  Shift check_in(const Person& person);  // the shift they are on now
  // The scheduler's job after a shift ends: completions and no-shows, points once.
  void complete(std::int64_t shift_id);

  // The rota for the shifts starting in [from, to): volunteers (role volunteer) placed by
  // generate_rota around the sign-ups already there. publish writes the sign-ups in one
  // transaction and tells each person assigned (a notice through the event bus).
  nlohmann::json rota(std::int64_t from_ms, std::int64_t to_ms, bool publish);
  // RFC 5545: a person's shifts, or a post's, as an iCalendar feed.
  std::string ics_of_person(std::int64_t person_id);
  std::string ics_of_post(const std::string& code);

  [[nodiscard]] std::optional<Shift> shift(std::int64_t id);
  std::vector<Shift> upcoming_of(std::int64_t person_id);
  [[nodiscard]] std::int64_t now_ms() const;

 private:
  Storage& storage_;
  Scheduler& scheduler_;
  Directory& directory_;
  EventBus& events_;
};

}  // namespace villagebot::volunteers

#pragma once
// Volunteer posts (岗位), shifts and sign-ups (志愿服务与轮流管, issue 9).
//
// Every rule that decides who is on a shift is checked inside one write on the single writer:
// 报名 within capacity (30 concurrent sign-ups for 5 places leave exactly 5), not twice at the
// same time, not while suspended for no-shows; 取消报名 before the cut-off; 换班 / 接班 (a swap
// moves the place from one person to the other in one transaction); 签到 only inside the shift by
// someone on it. After the shift the completion job turns check-ins into points (points.award,
// once per person and shift: its idempotency key) and the rest into no-shows. Recurring
// templates make shifts for the coming weeks (idempotent: one shift per template and start);
// reminders go the evening before and an hour before, on each person's channel.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rota.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/events.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

#include "plugin_support.hpp"

namespace villagebot::volunteers {

class ShiftError : public plugin_support::Refusal {
 public:
  using Refusal::Refusal;
};

// "07:00" → 420 minutes after midnight ("24:00" → 1440); nullopt for anything else.
std::optional<int> parse_clock(const std::string& text);

struct Post {
  std::int64_t id = 0;
  std::string code, name, place, required_role, points_rule;
  std::int64_t points = 0;
};

struct Shift {
  std::int64_t id = 0, post_id = 0, start_ms = 0, end_ms = 0;
  int capacity = 0;
  std::int64_t signup_cutoff_ms = 0, completed_at_ms = 0, cancelled_at_ms = 0, template_id = 0;
  int signed_up = 0;  // current sign-ups
  int offered = 0;    // of them, places offered for a swap (换班)
  std::string post_code, post_name, place;
};

// A recurring shift: every listed weekday, start–end in village time.
struct ShiftTemplate {
  std::int64_t id = 0;
  std::string code;                      // config templates have one; "" through the API
  std::string post_code;                 // the post's code
  std::vector<int> weekdays;             // ISO: 1 Monday … 7 Sunday
  int start_minute = 0, end_minute = 0;  // minutes after midnight, village time
  int capacity = 1;
  int cutoff_minutes = 0;  // sign-ups close this long before the start
  bool active = true;
};

struct SignUp {
  std::int64_t person_id = 0;
  std::string name;
  std::string status;  // signed, cancelled, completed, no_show, swapped
  std::int64_t signed_at_ms = 0, checked_in_at_ms = 0, offered_at_ms = 0, swapped_to = 0;
};

struct Unavailability {
  std::int64_t id = 0, person_id = 0, from_ms = 0, to_ms = 0;
  std::string reason;
};

// A person's record: completed shifts, no-shows counted against the limit, and until when they
// cannot sign up (0: they can).
struct Record {
  std::int64_t completed = 0, no_shows = 0, counted_no_shows = 0, suspended_until_ms = 0;
  double hours = 0;
};

struct ShiftsOptions {
  std::int64_t utc_offset_s = 8 * 3600;
  int horizon_days = 28;               // recurring shifts are made this far ahead
  int evening_reminder_minute = 1200;  // 20:00 the evening before; -1: none
  int hour_reminder_minutes = 60;      // this long before the start; 0: none
  int no_show_limit = 3;               // this many no-shows within the window suspend sign-ups; 0: never
  int no_show_window_days = 90;
  int suspension_days = 30;                     // from the last no-show
  std::int64_t min_rest_ms = 60LL * 60 * 1000;  // no two shifts of one person closer than this
};

class Shifts {
 public:
  Shifts(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events, Messenger& messenger,
         ShiftsOptions options);
  static const std::vector<Migration>& migrations();
  [[nodiscard]] const ShiftsOptions& options() const { return options_; }

  // Posts and templates from config: added or updated by code (kept across restarts).
  void load_posts(const std::vector<Post>& posts);
  void load_templates(const std::vector<ShiftTemplate>& templates);
  [[nodiscard]] std::optional<Post> post(const std::string& code);
  std::vector<Post> posts();

  Shift add_shift(const std::string& post_code, std::int64_t start_ms, std::int64_t end_ms, int capacity,
                  std::int64_t signup_cutoff_ms);
  // Cancels a shift that has not ended: its sign-ups are told; nothing is awarded.
  Shift cancel_shift(std::int64_t shift_id);

  ShiftTemplate add_template(ShiftTemplate t);
  std::vector<ShiftTemplate> templates();
  bool deactivate_template(std::int64_t id);
  // Makes the shifts of the active templates up to horizon_days ahead; returns how many are new.
  int materialise();

  // officer: a cadre through the API, who may act after the sign-up cut-off (until the start).
  Shift sign_up(std::int64_t shift_id, const Person& person, bool officer = false);
  void cancel(std::int64_t shift_id, const Person& person, bool officer = false);
  // 换班: offers the person's place on the shift; 接班: another volunteer takes an offered place.
  Shift offer(std::int64_t shift_id, const Person& person);
  void withdraw_offer(std::int64_t shift_id, const Person& person);
  Shift take(std::int64_t shift_id, const Person& person);
  Shift check_in(const Person& person);  // the shift they are on now
  // The scheduler's job after a shift ends: completions and no-shows, points once.
  void complete(std::int64_t shift_id);
  // The reminder jobs: kind "evening" (the evening before) or "hour" (before the start).
  void remind(std::int64_t shift_id, const std::string& kind);

  [[nodiscard]] Record record(std::int64_t person_id);
  void clear_no_shows(std::int64_t person_id);
  Unavailability add_unavailability(std::int64_t person_id, std::int64_t from_ms, std::int64_t to_ms,
                                    const std::string& reason);
  std::vector<Unavailability> unavailability(std::int64_t person_id);
  bool remove_unavailability(std::int64_t id);

  // The rota for the shifts starting in [from, to): volunteers (role volunteer, not suspended)
  // placed by generate_rota around the sign-ups already there and everyone's unavailability.
  // preview keeps it as a draft; adjust replaces a draft's assignments (checked: capacity, role,
  // unavailability, rest between shifts); publish writes the sign-ups in one transaction and
  // tells each person assigned (a notice through the event bus).
  nlohmann::json preview(std::int64_t from_ms, std::int64_t to_ms, const std::string& by);
  nlohmann::json draft(std::int64_t draft_id);
  nlohmann::json adjust(std::int64_t draft_id, const std::vector<Assignment>& assignments);
  nlohmann::json publish(std::int64_t draft_id);
  // Hours per person on the shifts starting in [from, to) (signed up or completed): min, max,
  // mean, and who is overloaded (more than one shift's length above the mean).
  nlohmann::json fairness_report(std::int64_t from_ms, std::int64_t to_ms);

  // RFC 5545: a person's shifts, or a post's, as an iCalendar feed.
  std::string ics_of_person(std::int64_t person_id);
  std::string ics_of_post(const std::string& code);

  [[nodiscard]] std::optional<Shift> shift(std::int64_t id);
  std::vector<Shift> shifts_between(std::int64_t from_ms, std::int64_t to_ms, const std::string& post_code = "");
  std::vector<SignUp> signups(std::int64_t shift_id);
  std::vector<Shift> upcoming_of(std::int64_t person_id);
  // Shifts that start within `days` and still take sign-ups: free places or offered ones.
  std::vector<Shift> open_shifts(int days);
  [[nodiscard]] std::int64_t now_ms() const;
  // "第 12 号 护水岗 12-05（周六）07:00–09:00 河堤" / "#12 护水岗 12-05 (Sat) 07:00–09:00 河堤".
  [[nodiscard]] std::string describe(const Shift& s, Lang lang) const;

 private:
  struct Period;
  void schedule_jobs(const Shift& s);
  Period period(std::int64_t from_ms, std::int64_t to_ms);
  nlohmann::json draft_json(std::int64_t id, std::int64_t from_ms, std::int64_t to_ms,
                            const std::vector<Assignment>& assignments, const Period& p, bool published);
  // Refuses when the person is suspended, on an overlapping shift, or lacks the post's role.
  void check_eligible(Session& s, const Shift& shift, const Person& person, const std::string& required_role);
  Record record_in(Session& s, std::int64_t person_id);
  // The shift, refused (ShiftError) when there is none or it is cancelled.
  std::optional<Shift> usable(std::int64_t shift_id);
  // Shifts with their posts: "s" the shift, "p" the post; `where` may join more.
  std::vector<Shift> select(const std::string& where, const std::vector<Value>& params);

  Storage& storage_;
  Scheduler& scheduler_;
  Directory& directory_;
  EventBus& events_;
  Messenger& messenger_;
  ShiftsOptions options_;
};

}  // namespace villagebot::volunteers

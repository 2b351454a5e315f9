#pragma once
// Emergency mobilisation (应急动员): an alert goes to a team on every channel at
// once (every group chat covering them and an SMS to each, emergency priority,
// quiet hours and opt-out ignored); members answer 1 (coming) or 2 (cannot); an
// escalation chain from config runs from the durable scheduler until enough are
// coming or the commander stands down; every step is recorded once, its sends
// carry idempotency keys, so a restart mid-alert resumes without repeating.
#include <cstdint>
#include <map>
#include <mutex>
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

namespace villagebot::emergency {

// A refusal: code (invalid 422, not_found 404, conflict 409, out_of_scope 403) and "中文 / English".
class AlertError : public plugin_support::Refusal {
 public:
  using Refusal::Refusal;
};

// [[plugins.emergency.teams]]: a subgroup such as 民兵 or 护林员.
struct Team {
  std::string name;
  std::vector<std::string> roles{"emergency_team"};
  std::vector<std::string> units;  // org unit paths; empty: the whole village
};

// [[plugins.emergency.escalation]]: how long after the alert was sent, and what to do.
struct Step {
  std::int64_t after_s = 0;  // after_minutes (or after_seconds, for drills and tests) in config
  std::string action;        // resend, notify_leaders, notify_commander
};

struct Policy {
  std::vector<Step> steps;  // in order of after_minutes
  int repeat = 0;           // the chain runs 1 + repeat times, each cycle as long as its last step
  std::int64_t responses_needed = 5;
  std::vector<Team> teams;
};

struct AlertRequest {
  std::string kind = "应急";
  std::string text;
  std::string meeting_point;
  std::string team;                   // "": the first team
  std::int64_t responses_needed = 0;  // 0: the policy's
  bool drill = false;
  std::int64_t commander_person_id = 0;  // who gets the roll call
  std::string created_by;
  std::string idempotency_key;
};

struct Alert {
  std::int64_t id = 0;
  std::string kind, text, meeting_point, team;
  std::int64_t responses_needed = 0;
  bool drill = false;
  std::string status;  // sending, active, stood_down
  std::int64_t broadcast_id = 0;
  int next_cycle = 0, next_step = 0;
  std::int64_t next_job_id = 0;
  std::int64_t commander_person_id = 0;
  std::string created_by, idempotency_key;
  std::int64_t created_at_ms = 0, sent_at_ms = 0, enough_at_ms = 0, stood_down_at_ms = 0;
  std::string stood_down_by;
  std::int64_t stand_down_broadcast_id = 0;
};

struct RollCall {
  Alert alert;
  std::vector<Person> coming, cannot, no_answer;
};

struct TimelineEvent {
  std::int64_t at_ms = 0;
  std::string event;
  std::int64_t person_id = 0;
  std::string detail;
};

enum class Answer { coming, cannot };

class Alerts {
 public:
  Alerts(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory, Policy policy);
  static const std::vector<Migration>& migrations();

  // Stores the alert and its members, sends it, schedules the first step. A used key returns
  // that alert (created = false).
  Alert trigger(AlertRequest request, bool* created = nullptr);
  // The answer of a person to the latest active alert they are in; nullopt when they are in
  // none. `counted` is false after stand-down (thanked, not counted).
  struct Recorded {
    Alert alert;
    bool counted = true;
    bool enough_now = false;  // this answer made responses_needed
  };
  std::optional<Recorded> answer(std::int64_t person_id, Answer answer);
  // Whether the person is in an active alert, and whether any alert is active (cheap, in memory).
  [[nodiscard]] bool alerted(std::int64_t person_id) const;
  [[nodiscard]] bool any_active() const;

  // The scheduler's job: run step (cycle, step) of an alert, once.
  void run_step(std::int64_t alert_id, int cycle, int step);
  // Stand-down: everyone alerted is told; escalation stops.
  Alert stand_down(std::int64_t alert_id, const std::string& by);
  // At start: alerts a crash left half-sent are sent; active chains get their next job.
  int recover();

  [[nodiscard]] std::optional<Alert> get(std::int64_t id);
  std::vector<Alert> list(std::int64_t offset, std::int64_t limit, std::int64_t* total = nullptr);
  // The latest active alert (0: none).
  std::int64_t latest_active();
  RollCall roll_call(std::int64_t alert_id);
  std::vector<TimelineEvent> timeline(std::int64_t alert_id);
  // Alerts (drills only with include_drills): count, members, coming, turnout, minutes to enough.
  nlohmann::json stats(bool include_drills);

  [[nodiscard]] std::string message_text(const Alert& a) const;
  [[nodiscard]] const Policy& policy() const { return policy_; }
  [[nodiscard]] std::int64_t now_ms() const;
  [[nodiscard]] Messenger& messenger() { return messenger_; }
  [[nodiscard]] Directory& directory() { return directory_; }
  // The team's audience (its roles within its units). Throws AlertError for an unknown team.
  Audience team_audience(const std::string& team);

 private:
  void send(Alert& a);
  void schedule_next(const Alert& a);
  [[nodiscard]] std::optional<std::int64_t> due_ms(const Alert& a, int cycle, int step) const;
  std::vector<std::int64_t> no_answer(std::int64_t alert_id);
  void load_index();
  void timeline_add(Session& s, std::int64_t alert_id, const std::string& event, std::int64_t person_id,
                    const std::string& detail);
  std::string names(const std::vector<std::int64_t>& ids, std::size_t max);

  Storage& storage_;
  Messenger& messenger_;
  Scheduler& scheduler_;
  Directory& directory_;
  Policy policy_;
  // person → the latest active alert they are in; alerts stood down recently (late answers).
  mutable std::mutex index_mutex_;
  std::map<std::int64_t, std::int64_t> active_by_person_;
  std::map<std::int64_t, std::int64_t> ended_by_person_;
  std::size_t active_alerts_ = 0;
};

}  // namespace villagebot::emergency

#pragma once
// Polls (投票): created by cadres for an audience (its members snapshotted), announced as a
// notice through the announcements plugin (the event bus), voted with 投票 <code> <n> or a bare
// number while the poll is open for the voter; one vote per household or per person, the latest
// before the deadline counts (one row per voter, replaced in the single writer: any number of
// concurrent votes from one household leave one vote); closed at the deadline by the scheduler
// with the results and the turnout by org unit published as a notice.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tickets.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/events.hpp"
#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::opinions {

struct PollRequest {
  std::string question;
  std::vector<std::string> options;
  Audience audience;
  bool per_household = true;
  bool anonymous = false;
  std::int64_t deadline_ms = 0;
  std::string created_by;
};

struct Poll {
  std::int64_t id = 0;
  std::string code, question;
  std::vector<std::string> options;
  Audience audience;
  bool per_household = true, anonymous = false;
  std::int64_t deadline_ms = 0;
  std::string status;  // open, closed
  std::int64_t close_job_id = 0;
  std::string created_by;
  std::int64_t created_at_ms = 0, closed_at_ms = 0;
  nlohmann::json results;  // null until closed
};

class Polls {
 public:
  Polls(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events, std::int64_t utc_offset_s);

  // Creates and announces a poll. Throws TicketError (invalid) for a bad request.
  Poll create(PollRequest request);
  // A vote (option from 1). Throws TicketError: not_found (no such poll), forbidden (not in the
  // audience), conflict (closed), invalid (no such option).
  Poll vote(const std::string& code, const Person& voter, int option);
  // The poll a bare number from this person answers: their latest open poll, if any (in memory).
  [[nodiscard]] std::optional<std::int64_t> open_poll_of(std::int64_t person_id) const;
  // The scheduler's job (and POST close): counts and turnout stored and published, once.
  void close(std::int64_t poll_id);
  // Counts per option and turnout by org unit (live before the close).
  nlohmann::json results(std::int64_t poll_id);

  // Who voted what, for a named poll (person, option, time); empty for an anonymous one.
  nlohmann::json votes(std::int64_t poll_id);
  [[nodiscard]] std::optional<Poll> by_code(const std::string& code);
  [[nodiscard]] std::optional<Poll> get(std::int64_t id);
  std::vector<Poll> list(std::int64_t limit);
  [[nodiscard]] std::string local_time(std::int64_t ms) const;
  [[nodiscard]] std::int64_t now_ms() const;

 private:
  void load_index();
  std::string results_text(const Poll& p, const nlohmann::json& r) const;

  Storage& storage_;
  Scheduler& scheduler_;
  Directory& directory_;
  EventBus& events_;
  std::int64_t utc_offset_s_;
  mutable std::mutex index_mutex_;
  std::map<std::int64_t, std::int64_t> open_by_person_;  // person → their latest open poll
  std::map<std::string, Poll> open_polls_;               // by code
};

}  // namespace villagebot::opinions

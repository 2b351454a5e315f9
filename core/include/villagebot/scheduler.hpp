#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "villagebot/handle.hpp"

namespace villagebot {

// Jobs are stored: a job scheduled before a crash still fires after restart.
// A job is identified by its kind (which plugin handler runs it) and carries a
// JSON payload; handlers must tolerate running more than once (at least once).
class Scheduler {
 public:
  using Clock = std::chrono::system_clock;
  using Handler = std::function<void(const nlohmann::json& payload)>;
  enum class Missed { fire_late, skip };

  virtual ~Scheduler() = default;
  // One handler per kind, e.g. "emergency.escalate".
  [[nodiscard]] virtual Registration handle(std::string kind, Handler handler) = 0;
  // Returns the job id.
  virtual std::int64_t schedule_at(std::string kind, Clock::time_point when, nlohmann::json payload,
                                   Missed missed = Missed::fire_late) = 0;
  // Recurring: fires at every match of a cron expression ("0 8 * * mon" = Mondays 08:00) in the
  // village's time zone. A recurring job missed while the server was down fires once late
  // (fire_late) or waits for its next time (skip); never once per missed occurrence.
  // Throws std::invalid_argument for a bad expression. cancel() stops it.
  virtual std::int64_t schedule_cron(std::string kind, std::string cron, nlohmann::json payload,
                                     Missed missed = Missed::skip) = 0;
  virtual bool cancel(std::int64_t job_id) = 0;
  // The scheduler's clock; tests inject one.
  [[nodiscard]] virtual Clock::time_point now() const = 0;
};

}  // namespace villagebot

#pragma once
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "villagebot/scheduler.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::runtime {

// One-shot jobs stored in core_jobs and fired by a thread of their own, at
// least once across restarts. A job is marked done only after its handler
// returned; a job missed while the server was down fires late or is skipped,
// as it asked. A recurring job (cron) is the same row, moved to its next time
// after each run.
class JobScheduler final : public Scheduler {
 public:
  using NowFn = std::function<Clock::time_point()>;
  JobScheduler(
      Storage& storage, NowFn now = [] { return Clock::now(); },
      std::chrono::seconds utc_offset = std::chrono::hours(8));
  ~JobScheduler() override;

  Registration handle(std::string kind, Handler handler) override;
  std::int64_t schedule_at(std::string kind, Clock::time_point when, nlohmann::json payload, Missed missed) override;
  std::int64_t schedule_cron(std::string kind, std::string cron, nlohmann::json payload, Missed missed) override;
  bool cancel(std::int64_t job_id) override;
  [[nodiscard]] Clock::time_point now() const override { return now_(); }

  void start();
  void stop();
  // Wakes the thread, e.g. after a test moved its clock.
  void poke();

 private:
  void loop();
  bool run_due();

  Storage& storage_;
  NowFn now_;
  std::chrono::seconds utc_offset_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  Clock::time_point started_at_{};
  std::map<std::string, std::shared_ptr<Handler>> handlers_;
  std::thread thread_;
};

}  // namespace villagebot::runtime

#include "runtime/job_scheduler.hpp"

#include <pthread.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "delivery/cron.hpp"

namespace villagebot::runtime {

namespace {
std::int64_t to_ms(Scheduler::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
// A job this late at start-up counts as missed while the server was down.
constexpr std::int64_t kMissedAfterMs = 60'000;
}  // namespace

JobScheduler::JobScheduler(Storage& storage, NowFn now, std::chrono::seconds utc_offset)
    : storage_(storage), now_(std::move(now)), utc_offset_(utc_offset) {}

JobScheduler::~JobScheduler() {
  stop();
}

Registration JobScheduler::handle(std::string kind, Handler handler) {
  {
    std::lock_guard lock(mutex_);
    if (handlers_.contains(kind)) throw std::invalid_argument("job kind '" + kind + "' already has a handler");
    handlers_[kind] = std::make_shared<Handler>(std::move(handler));
  }
  poke();
  return Registration([this, kind] {
    std::lock_guard lock(mutex_);
    handlers_.erase(kind);
  });
}

std::int64_t JobScheduler::schedule_at(std::string kind, Clock::time_point when, nlohmann::json payload,
                                       Missed missed) {
  const auto id = storage_.write([&](Session& s) {
    s.execute(
        "INSERT INTO core_jobs(kind, due_at_ms, payload, missed, created_at) VALUES(?, ?, ?, ?, ?)",
        {kind, to_ms(when), payload.dump(), std::string(missed == Missed::skip ? "skip" : "fire_late"), to_ms(now_())});
    return s.last_insert_id();
  });
  poke();
  return id;
}

std::int64_t JobScheduler::schedule_cron(std::string kind, std::string cron, nlohmann::json payload, Missed missed) {
  const auto spec = delivery::CronSpec::parse(cron);  // throws for a bad expression
  const auto first = spec.next_after(now_(), utc_offset_);
  if (first == Clock::time_point::max())
    throw std::invalid_argument("the cron expression '" + cron + "' never matches");
  const auto id = storage_.write([&](Session& s) {
    s.execute("INSERT INTO core_jobs(kind, due_at_ms, payload, missed, created_at, cron) VALUES(?, ?, ?, ?, ?, ?)",
              {kind, to_ms(first), payload.dump(), std::string(missed == Missed::skip ? "skip" : "fire_late"),
               to_ms(now_()), spec.text()});
    return s.last_insert_id();
  });
  poke();
  return id;
}

bool JobScheduler::cancel(std::int64_t job_id) {
  return storage_.write([&](Session& s) {
    return s.execute("UPDATE core_jobs SET status = 'cancelled' WHERE id = ? AND status = 'pending'", {job_id}) > 0;
  });
}

void JobScheduler::start() {
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  started_at_ = now_();
  thread_ = std::thread([this] { loop(); });
}

void JobScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobScheduler::poke() {
  wake_.notify_all();
}

// Runs every due job whose kind has a handler; returns whether any ran.
bool JobScheduler::run_due() {
  const auto now = to_ms(now_());
  struct Due {
    std::int64_t id;
    std::string kind;
    std::string payload;
    std::string missed;
    std::int64_t due;
    std::string cron;
  };
  std::vector<Due> due;
  std::vector<std::string> kinds;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [kind, handler] : handlers_) kinds.push_back(kind);
  }
  // Per kind with a handler, so that jobs of an unloaded plugin never crowd
  // out the jobs of loaded ones.
  storage_.read([&](Session& s) {
    for (const auto& kind : kinds)
      for (const auto& r :
           s.query("SELECT id, kind, payload, missed, due_at_ms, COALESCE(cron, '') FROM core_jobs "
                   "WHERE status = 'pending' AND kind = ? AND due_at_ms <= ? ORDER BY due_at_ms, id LIMIT 100",
                   {kind, now}))
        due.push_back({r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.text(5)});
  });
  std::sort(due.begin(), due.end(),
            [](const Due& a, const Due& b) { return a.due != b.due ? a.due < b.due : a.id < b.id; });
  bool ran = false;
  for (const auto& job : due) {
    std::shared_ptr<Handler> handler;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return ran;
      auto it = handlers_.find(job.kind);
      if (it != handlers_.end()) handler = it->second;
    }
    if (!handler) continue;  // its plugin is not loaded (yet): leave it pending
    // The next time of a recurring job, after now (missed occurrences are not replayed).
    std::int64_t next_ms = -1;
    if (!job.cron.empty()) {
      try {
        const auto next = delivery::CronSpec::parse(job.cron).next_after(now_(), utc_offset_);
        if (next != Clock::time_point::max()) next_ms = to_ms(next);
      } catch (const std::exception& e) {
        spdlog::error("scheduled job {} has a bad cron '{}': {}", job.id, job.cron, e.what());
      }
    }
    if (job.missed == "skip" && job.due < to_ms(started_at_) - kMissedAfterMs) {
      storage_.write([&](Session& s) {
        if (next_ms >= 0)
          s.execute("UPDATE core_jobs SET due_at_ms = ? WHERE id = ? AND status = 'pending'", {next_ms, job.id});
        else
          s.execute("UPDATE core_jobs SET status = 'skipped' WHERE id = ?", {job.id});
      });
      continue;
    }
    // Claim the job: one cancelled meanwhile is not run.
    const bool claimed = storage_.write([&](Session& s) {
      return s.execute("UPDATE core_jobs SET attempts = attempts + 1 WHERE id = ? AND status = 'pending'", {job.id}) >
             0;
    });
    if (!claimed) continue;
    std::string error;
    try {
      (*handler)(nlohmann::json::parse(job.payload));
    } catch (const std::exception& e) {
      error = e.what();
      spdlog::error("scheduled job {} ({}) failed: {}", job.id, job.kind, error);
    }
    storage_.write([&](Session& s) {
      if (next_ms >= 0)  // recurring: back to pending at its next time, whatever this run did
        s.execute(
            "UPDATE core_jobs SET due_at_ms = ?, attempts = 0, last_error = ? WHERE id = ? AND status = 'pending'",
            {next_ms, error, job.id});
      else
        s.execute("UPDATE core_jobs SET status = ?, last_error = ? WHERE id = ? AND status = 'pending'",
                  {std::string(error.empty() ? "done" : "failed"), error, job.id});
    });
    ran = true;
  }
  return ran;
}

void JobScheduler::loop() {
  pthread_setname_np(pthread_self(), "vb-scheduler");
  for (;;) {
    bool again = false;
    try {
      again = run_due();
    } catch (const std::exception& e) {
      spdlog::error("scheduler: {}", e.what());
    }
    std::int64_t next_due = -1;
    std::vector<std::string> kinds;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [kind, handler] : handlers_) kinds.push_back(kind);
    }
    try {
      storage_.read([&](Session& s) {
        for (const auto& kind : kinds) {
          auto rows = s.query("SELECT MIN(due_at_ms) FROM core_jobs WHERE status = 'pending' AND kind = ?", {kind});
          if (!rows.empty() && !rows[0].is_null(0) && (next_due < 0 || rows[0].integer(0) < next_due))
            next_due = rows[0].integer(0);
        }
      });
    } catch (const std::exception& e) {
      spdlog::error("scheduler: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    if (again) continue;
    // Wake at the next due time, at most a second from now (the clock may be a test's).
    auto wait = std::chrono::milliseconds(1000);
    // A due job still pending here has no handler yet: do not spin on it.
    if (next_due >= 0 && next_due > to_ms(now_()))
      wait = std::min(wait, std::chrono::milliseconds(next_due - to_ms(now_())));
    wake_.wait_for(lock, wait);
  }
}

}  // namespace villagebot::runtime

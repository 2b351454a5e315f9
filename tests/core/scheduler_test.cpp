#include "runtime/job_scheduler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>

#include "storage/core_schema.hpp"
#include "storage/sqlite_storage.hpp"
#include "temp_dir.hpp"

namespace villagebot::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Clock = Scheduler::Clock;

using testkit::TempDir;

// The scheduler's clock, moved by the test.
class FakeClock {
 public:
  // 2024-06-01 08:00 Beijing time.
  FakeClock() : ms_(1'717'200'000'000) {}
  [[nodiscard]] Clock::time_point now() const { return Clock::time_point(std::chrono::milliseconds(ms_.load())); }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }
  JobScheduler::NowFn fn() {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> ms_;
};

// Polls until `done` holds; the deadline only guards against a hang.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// What the handlers saw, in order.
class Fired {
 public:
  Scheduler::Handler recorder(std::string kind) {
    return [this, kind](const nlohmann::json& payload) {
      std::lock_guard lock(mutex_);
      events_.push_back(kind + ":" + payload.value("n", std::string("?")));
      payloads_.push_back(payload);
    };
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  nlohmann::json payload(std::size_t i) {
    std::lock_guard lock(mutex_);
    return payloads_.at(i);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> events_;
  std::vector<nlohmann::json> payloads_;
};

struct JobRow {
  std::string status;
  std::int64_t attempts = 0;
  std::string last_error;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { open_storage(); }
  void TearDown() override {
    regs.clear();
    scheduler.reset();
    storage.reset();
  }

  void open_storage() {
    storage = std::make_unique<storage::SqliteStorage>(dir.file("village.db"));
    storage->migrate("core", storage::core_migrations());
  }
  JobScheduler& make_scheduler() {
    scheduler = std::make_unique<JobScheduler>(*storage, clock.fn());
    return *scheduler;
  }
  // Simulates stopping the process: handlers, scheduler and database go away.
  void restart() {
    regs.clear();
    scheduler.reset();
    storage.reset();
    open_storage();
    make_scheduler();
  }

  JobRow job(std::int64_t id) {
    return storage->read([&](Session& s) {
      auto rows = s.query("SELECT status, attempts, last_error FROM core_jobs WHERE id = ?", {id});
      if (rows.empty()) return JobRow{"<missing>", 0, ""};
      return JobRow{rows[0].text(0), rows[0].integer(1), rows[0].text(2)};
    });
  }
  std::string status(std::int64_t id) { return job(id).status; }
  std::int64_t due_ms(std::int64_t id) {
    return storage->read(
        [&](Session& s) { return s.query("SELECT due_at_ms FROM core_jobs WHERE id = ?", {id}).at(0).integer(0); });
  }
  // Through the plugin-facing interface, as plugins call it.
  std::int64_t schedule(const std::string& kind, Clock::time_point when, nlohmann::json payload,
                        Scheduler::Missed missed = Scheduler::Missed::fire_late) {
    Scheduler& api = *scheduler;
    return api.schedule_at(kind, when, std::move(payload), missed);
  }
  bool settled(std::int64_t id) { return status(id) != "pending"; }

  // A job due now on a kind of its own; once it ran, every job that was due
  // before it had its turn (jobs run in due order).
  void barrier() {
    static std::atomic<int> n{0};
    const std::string kind = "test.barrier" + std::to_string(n++);
    std::atomic<bool> ran{false};
    {
      auto reg = scheduler->handle(kind, [&](const nlohmann::json&) { ran = true; });
      const auto id = schedule(kind, clock.now(), {});
      ASSERT_TRUE(eventually([&] { return ran.load() && settled(id); })) << "the scheduler did not run a due job";
    }
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<JobScheduler> scheduler;
  std::vector<Registration> regs;  // destroyed before the scheduler
  Fired fired;
};

TEST_F(SchedulerTest, JobDueInThePastFiresOnceWithItsPayload) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("points.monthly", fired.recorder("points.monthly")));
  s.start();
  const auto id = schedule("points.monthly", clock.now() - 1s,
                           {{"n", "1"}, {"household", "H001"}, {"reason", "清扫"}, {"points", 5}});
  ASSERT_TRUE(eventually([&] { return settled(id); }));
  EXPECT_EQ(status(id), "done");
  EXPECT_EQ(job(id).attempts, 1);
  barrier();
  EXPECT_THAT(fired.events(), ElementsAre("points.monthly:1"));
  const auto payload = fired.payload(0);
  EXPECT_EQ(payload.at("household"), "H001");
  EXPECT_EQ(payload.at("reason"), "清扫");
  EXPECT_EQ(payload.at("points"), 5);
}

TEST_F(SchedulerTest, FutureJobFiresOnlyWhenTheClockPassesIt) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("alert.escalate", fired.recorder("alert.escalate")));
  s.start();
  const auto later = schedule("alert.escalate", clock.now() + 10min, {{"n", "later"}});
  const auto sooner = schedule("alert.escalate", clock.now() + 5min, {{"n", "sooner"}});
  barrier();
  EXPECT_THAT(fired.events(), IsEmpty());
  EXPECT_EQ(status(later), "pending");

  clock.advance(5min + 1ms);
  s.poke();
  ASSERT_TRUE(eventually([&] { return settled(sooner); }));
  barrier();
  EXPECT_THAT(fired.events(), ElementsAre("alert.escalate:sooner"));
  EXPECT_EQ(status(later), "pending");

  clock.advance(5min);
  s.poke();
  ASSERT_TRUE(eventually([&] { return settled(later); }));
  EXPECT_THAT(fired.events(), ElementsAre("alert.escalate:sooner", "alert.escalate:later"));
}

TEST_F(SchedulerTest, JobsDueTogetherFireInDueOrder) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("k", fired.recorder("k")));
  const auto c = schedule("k", clock.now() + 3min, {{"n", "c"}});
  schedule("k", clock.now() + 1min, {{"n", "a"}});
  schedule("k", clock.now() + 2min, {{"n", "b"}});
  clock.advance(1h);
  s.start();
  ASSERT_TRUE(eventually([&] { return settled(c); }));
  EXPECT_THAT(fired.events(), ElementsAre("k:a", "k:b", "k:c"));
}

TEST_F(SchedulerTest, CancelPreventsFiring) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("poll.close", fired.recorder("poll.close")));
  s.start();
  const auto id = schedule("poll.close", clock.now() + 1h, {{"n", "1"}});
  EXPECT_TRUE(s.cancel(id));
  EXPECT_FALSE(s.cancel(id)) << "already cancelled";
  EXPECT_FALSE(s.cancel(id + 1000)) << "no such job";
  clock.advance(2h);
  s.poke();
  barrier();
  EXPECT_THAT(fired.events(), IsEmpty());
  EXPECT_EQ(status(id), "cancelled");

  const auto done = schedule("poll.close", clock.now(), {{"n", "2"}});
  ASSERT_TRUE(eventually([&] { return settled(done); }));
  EXPECT_FALSE(s.cancel(done)) << "a job that already ran cannot be cancelled";
  EXPECT_EQ(status(done), "done");
}

TEST_F(SchedulerTest, JobWithoutAHandlerWaitsForItsPlugin) {
  auto& s = make_scheduler();
  s.start();
  const auto id = schedule("volunteers.remind", clock.now() - 1min, {{"n", "1"}});
  barrier();  // the scheduler has looked at the due job and had nobody to give it to
  EXPECT_EQ(status(id), "pending");
  EXPECT_EQ(job(id).attempts, 0);

  regs.push_back(s.handle("volunteers.remind", fired.recorder("volunteers.remind")));
  ASSERT_TRUE(eventually([&] { return settled(id); }));
  EXPECT_EQ(status(id), "done");
  EXPECT_THAT(fired.events(), ElementsAre("volunteers.remind:1"));
}

TEST_F(SchedulerTest, ManyOrphanedJobsDoNotStarveOtherPlugins) {
  // A plugin that was disabled leaves 100 due jobs behind; the emergency
  // plugin's escalation, due after them, must still fire.
  auto& s = make_scheduler();
  for (int i = 0; i < 100; ++i) schedule("disabled.plugin", clock.now() - 1h + std::chrono::seconds(i), {{"n", "x"}});
  regs.push_back(s.handle("emergency.escalate", fired.recorder("emergency.escalate")));
  const auto id = schedule("emergency.escalate", clock.now() - 1s, {{"n", "1"}});
  s.start();
  EXPECT_TRUE(eventually([&] { return settled(id); }, 3000ms))
      << "a job behind 100 due jobs of an unloaded plugin never fires";
  EXPECT_THAT(fired.events(), ::testing::Contains("emergency.escalate:1"));
}

TEST_F(SchedulerTest, CancellingADueJobWhileAnotherRunsPreventsIt) {
  // The emergency plugin schedules an escalation; the villager answers 收到
  // just as it falls due, while the scheduler is busy with another job. The
  // plugin cancels it, cancel() says it worked: the escalation must not go out.
  auto& s = make_scheduler();
  // Shared with the handler, which may outlive this scope if an assertion fails.
  struct Gate {
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::once_flag once;
    void open() {
      std::call_once(once, [this] { release.set_value(); });
    }
  };
  auto gate = std::make_shared<Gate>();
  auto entered = gate->entered.get_future();
  struct Opener {
    std::shared_ptr<Gate> g;
    ~Opener() { g->open(); }
  } opener{gate};
  regs.push_back(s.handle("announce.send", [gate](const nlohmann::json&) {
    gate->entered.set_value();
    gate->released.wait();
  }));
  regs.push_back(s.handle("alert.escalate", fired.recorder("alert.escalate")));
  const auto busy = schedule("announce.send", clock.now() - 2s, {{"n", "busy"}});
  const auto escalate = schedule("alert.escalate", clock.now() - 1s, {{"n", "1"}});
  s.start();
  ASSERT_EQ(entered.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(s.cancel(escalate));
  gate->open();
  ASSERT_TRUE(eventually([&] { return settled(busy); }));
  barrier();
  EXPECT_THAT(fired.events(), IsEmpty()) << "a cancelled job fired";
  EXPECT_EQ(status(escalate), "cancelled");
}

TEST_F(SchedulerTest, PendingJobsSurviveARestartAndDoneJobsDoNotFireAgain) {
  std::int64_t done_id = 0;
  std::int64_t pending_id = 0;
  {
    auto& s = make_scheduler();
    regs.push_back(s.handle("announce.remind", fired.recorder("first-run")));
    s.start();
    done_id = schedule("announce.remind", clock.now() - 1s, {{"n", "early"}});
    pending_id = schedule("announce.remind", clock.now() + 30min, {{"n", "late"}});
    ASSERT_TRUE(eventually([&] { return settled(done_id); }));
  }
  EXPECT_THAT(fired.events(), ElementsAre("first-run:early"));

  restart();  // the server went down, and came back 10 minutes after the job was due
  clock.advance(40min);
  regs.push_back(scheduler->handle("announce.remind", fired.recorder("second-run")));
  scheduler->start();
  ASSERT_TRUE(eventually([&] { return settled(pending_id); }));
  // `early` was due before `late`: had it been pending again it would have fired first.
  EXPECT_THAT(fired.events(), ElementsAre("first-run:early", "second-run:late"));
  EXPECT_EQ(job(done_id).attempts, 1);
  EXPECT_EQ(job(pending_id).attempts, 1);
}

TEST_F(SchedulerTest, SkipJobMissedWhileDownIsSkippedOthersFireLate) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("k", fired.recorder("k")));
  // Scheduled before the outage (the scheduler is not running yet).
  const auto old_skip = schedule("k", clock.now() - 2h, {{"n", "old-skip"}}, Scheduler::Missed::skip);
  const auto old_late = schedule("k", clock.now() - 2h, {{"n", "old-late"}}, Scheduler::Missed::fire_late);
  const auto recent_skip = schedule("k", clock.now() - 30s, {{"n", "recent-skip"}}, Scheduler::Missed::skip);
  s.start();
  ASSERT_TRUE(eventually([&] { return settled(old_skip) && settled(old_late) && settled(recent_skip); }));
  EXPECT_EQ(status(old_skip), "skipped");
  EXPECT_EQ(job(old_skip).attempts, 0);
  EXPECT_EQ(status(old_late), "done");
  EXPECT_EQ(status(recent_skip), "done");  // only a little late: still worth doing
  EXPECT_THAT(fired.events(), ElementsAre("k:old-late", "k:recent-skip"));
}

TEST_F(SchedulerTest, SkipJobDueWhileRunningStillFires) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("k", fired.recorder("k")));
  s.start();
  const auto id = schedule("k", clock.now() + 2h, {{"n", "1"}}, Scheduler::Missed::skip);
  clock.advance(2h + 1s);
  s.poke();
  ASSERT_TRUE(eventually([&] { return settled(id); }));
  EXPECT_EQ(status(id), "done");
}

TEST_F(SchedulerTest, ThrowingHandlerMarksItsJobFailedAndOthersStillRun) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("sms.send", [](const nlohmann::json&) { throw std::runtime_error("gateway down"); }));
  regs.push_back(s.handle("k", fired.recorder("k")));
  const auto bad = schedule("sms.send", clock.now() - 2s, {{"n", "bad"}});
  const auto good = schedule("k", clock.now() - 1s, {{"n", "good"}});
  s.start();
  ASSERT_TRUE(eventually([&] { return settled(bad) && settled(good); }));
  const auto failed = job(bad);
  EXPECT_EQ(failed.status, "failed");
  EXPECT_EQ(failed.last_error, "gateway down");
  EXPECT_EQ(failed.attempts, 1);
  EXPECT_EQ(status(good), "done");
  EXPECT_THAT(fired.events(), ElementsAre("k:good"));

  // The scheduler keeps going after a failure.
  const auto next = schedule("k", clock.now(), {{"n", "next"}});
  ASSERT_TRUE(eventually([&] { return settled(next); }));
  EXPECT_EQ(job(bad).attempts, 1) << "a failed job is not retried in a loop";
}

TEST_F(SchedulerTest, OneHandlerPerKind) {
  auto& s = make_scheduler();
  auto first = s.handle("k", fired.recorder("first"));
  EXPECT_THROW((void)s.handle("k", fired.recorder("second")), std::invalid_argument);
  first.reset();  // the plugin stopped
  regs.push_back(s.handle("k", fired.recorder("second")));
  s.start();
  const auto id = schedule("k", clock.now(), {{"n", "1"}});
  ASSERT_TRUE(eventually([&] { return settled(id); }));
  EXPECT_THAT(fired.events(), ElementsAre("second:1"));
}

TEST_F(SchedulerTest, StoppedPluginsJobsWaitForItsReturn) {
  auto& s = make_scheduler();
  auto reg = s.handle("k", fired.recorder("k"));
  s.start();
  reg.reset();  // plugin unloaded
  const auto id = schedule("k", clock.now() - 1s, {{"n", "1"}});
  barrier();
  EXPECT_EQ(status(id), "pending");
  EXPECT_THAT(fired.events(), IsEmpty());
  regs.push_back(s.handle("k", fired.recorder("k")));
  ASSERT_TRUE(eventually([&] { return settled(id); }));
  EXPECT_THAT(fired.events(), ElementsAre("k:1"));
}

TEST_F(SchedulerTest, NowIsTheInjectedClock) {
  auto& s = make_scheduler();
  EXPECT_EQ(s.now(), clock.now());
  clock.advance(1h);
  EXPECT_EQ(s.now(), clock.now());
}

TEST_F(SchedulerTest, RecurringJobFiresAtEachOccurrenceInVillageTime) {
  auto& s = make_scheduler();
  regs.push_back(s.handle("k", fired.recorder("k")));
  s.start();
  Scheduler& api = s;
  constexpr std::int64_t kStart = 1'717'200'000'000;  // 2024-06-01 08:00 Beijing
  const auto id = api.schedule_cron("k", "30 8 * * *", {{"n", "daily"}}, Scheduler::Missed::skip);
  EXPECT_EQ(due_ms(id), kStart + 30 * 60'000) << "08:30 Beijing time, not UTC";
  barrier();
  EXPECT_EQ(fired.count(), 0U);
  clock.advance(30min);
  s.poke();
  ASSERT_TRUE(eventually([&] { return fired.count() == 1; }));
  ASSERT_TRUE(eventually([&] { return due_ms(id) == kStart + 24 * 3'600'000 + 30 * 60'000; }))
      << "moved to tomorrow 08:30";
  EXPECT_EQ(status(id), "pending");
  clock.advance(24h);
  s.poke();
  ASSERT_TRUE(eventually([&] { return fired.count() == 2; }));
  ASSERT_TRUE(eventually([&] { return due_ms(id) == kStart + 48 * 3'600'000 + 30 * 60'000; }));
  EXPECT_TRUE(api.cancel(id));
  clock.advance(24h);
  s.poke();
  barrier();
  EXPECT_EQ(fired.count(), 2U) << "a cancelled recurring job stops";
}

TEST_F(SchedulerTest, RecurringJobMissedWhileDownFiresOnceLateOrWaits) {
  Scheduler& api = make_scheduler();  // not started: the server is down from here on
  const auto late = api.schedule_cron("late", "0 9 * * *", {{"n", "late"}}, Scheduler::Missed::fire_late);
  const auto skip = api.schedule_cron("skip", "0 9 * * *", {{"n", "skip"}}, Scheduler::Missed::skip);
  restart();
  clock.advance(72h);  // three 09:00s pass while down; now 2024-06-04 08:00
  regs.push_back(scheduler->handle("late", fired.recorder("late")));
  regs.push_back(scheduler->handle("skip", fired.recorder("skip")));
  scheduler->start();
  ASSERT_TRUE(eventually([&] { return fired.count() == 1; }));
  barrier();
  EXPECT_THAT(fired.events(), ElementsAre("late:late")) << "once, not once per missed day; skip waits";
  constexpr std::int64_t kNextNine = 1'717'200'000'000 + 72 * 3'600'000 + 3'600'000;  // 2024-06-04 09:00
  ASSERT_TRUE(eventually([&] { return due_ms(late) == kNextNine && due_ms(skip) == kNextNine; }));
  EXPECT_EQ(status(late), "pending");
  EXPECT_EQ(status(skip), "pending");
}

TEST_F(SchedulerTest, BadCronExpressionsAreRefused) {
  Scheduler& api = make_scheduler();
  EXPECT_THROW(api.schedule_cron("k", "every day", {}), std::invalid_argument);
  EXPECT_THROW(api.schedule_cron("k", "0 0 31 2 *", {}), std::invalid_argument) << "never matches";
  EXPECT_EQ(storage->read([](Session& s) { return s.query("SELECT COUNT(*) FROM core_jobs").at(0).integer(0); }), 0);
}

}  // namespace
}  // namespace villagebot::runtime

#include "runtime/fault_monitor.hpp"

#include <sys/statvfs.h>

#include <pthread.h>

#include <cstdlib>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>

#include "delivery/engine.hpp"
#include "runtime/job_scheduler.hpp"
#include "storage/sqlite_storage.hpp"

namespace villagebot::runtime {

namespace {

std::int64_t to_ms(FaultMonitor::WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

FaultMonitor::FaultMonitor(NowFn now, storage::SqliteStorage& storage, delivery::DeliveryEngine& delivery,
                           JobScheduler& scheduler, std::string database_path)
    : now_(std::move(now)), storage_(storage), delivery_(delivery), scheduler_(scheduler) {
  auto folder = std::filesystem::absolute(std::filesystem::path(database_path)).parent_path();
  folder_ = folder.empty() ? std::string(".") : folder.string();
}

FaultMonitor::~FaultMonitor() {
  stop();
}

void FaultMonitor::start() {
  check_disk();
  thread_ = std::thread([this] { loop(); });
}

void FaultMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<FaultMonitor::Jump> FaultMonitor::recent_jump() const {
  std::lock_guard lock(mutex_);
  if (!jump_ || std::chrono::steady_clock::now() - jump_seen_ > kJumpShownFor) return std::nullopt;
  return jump_;
}

std::optional<std::uint64_t> FaultMonitor::disk_free() const {
  std::lock_guard lock(mutex_);
  return disk_free_;
}

void FaultMonitor::loop() {
  pthread_setname_np(pthread_self(), "vb-faults");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      tick();
    } catch (const std::exception& e) {  // a check that fails must not end the watch
      spdlog::warn("fault monitor: {}", e.what());
    }
    lock.lock();
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

void FaultMonitor::tick() {
  check_clock();
  check_disk();
  probe_writes();
}

void FaultMonitor::check_clock() {
  const auto wall = now_();
  const auto mono = std::chrono::steady_clock::now();
  std::optional<std::pair<WallClock::time_point, std::chrono::steady_clock::time_point>> last;
  {
    std::lock_guard lock(mutex_);
    last = std::exchange(last_, std::make_pair(wall, mono));
  }
  if (!last) return;
  const auto drift =
      std::chrono::duration_cast<std::chrono::milliseconds>((wall - last->first) - (mono - last->second));
  if (drift < kJumpThreshold && drift > -kJumpThreshold) return;
  {
    std::lock_guard lock(mutex_);
    jump_ = Jump{to_ms(wall), drift.count()};
    jump_seen_ = mono;
  }
  const auto seconds = (std::abs(drift.count()) + 500) / 1000;  // rounded
  if (drift.count() < 0) {
    spdlog::error("the system clock jumped back {} s; messages waiting for a retry are pulled back by as much",
                  seconds);
    try {
      const auto moved = delivery_.clock_went_back(-drift);
      if (moved > 0) spdlog::warn("{} queued messages pulled back after the clock jump", moved);
    } catch (const std::exception& e) {
      spdlog::error("could not pull back the queued messages after the clock jump: {}", e.what());
    }
  } else {
    spdlog::error("the system clock jumped forward {} s; work that became due now runs once", seconds);
    delivery_.wake_all();
  }
  scheduler_.poke();
}

void FaultMonitor::check_disk() {
  struct statvfs st {};
  std::optional<std::uint64_t> free;
  if (::statvfs(folder_.c_str(), &st) == 0)
    free = static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
  bool became_low = false;
  {
    std::lock_guard lock(mutex_);
    const bool was_low = disk_free_ && *disk_free_ < kDiskLowBytes;
    became_low = free && *free < kDiskLowBytes && !was_low;
    disk_free_ = free;
  }
  if (became_low) spdlog::warn("low disk space where the database is ({}): {} KiB free", folder_, *free / 1024);
}

void FaultMonitor::probe_writes() {
  if (!storage_.write_health().failing) return;
  const auto mono = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (probe_in_flight_->load() || mono - last_probe_ < std::chrono::seconds(5)) return;
    probe_in_flight_->store(true);
    last_probe_ = mono;
  }
  // A real write (a page of the WAL), so that a full disk fails it; the writer records the outcome.
  const auto at = to_ms(now_());
  storage_.write_async(
      [at](Session& s) {
        s.execute(
            "INSERT INTO core_health_probe (id, at_ms) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
            {at});
      },
      [flag = probe_in_flight_](const std::exception_ptr&) { flag->store(false); });
}

}  // namespace villagebot::runtime

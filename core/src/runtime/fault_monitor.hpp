#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace villagebot::storage {
class SqliteStorage;
}
namespace villagebot::delivery {
class DeliveryEngine;
}

namespace villagebot::runtime {

class JobScheduler;

// Watches what the server cannot see from a request (issue 13): a wall clock that jumps, the disk
// under the database filling up, and — while database writes are failing — whether they work again
// when no message arrives to try. Once a second on its own thread; /healthz reads what it found.
class FaultMonitor {
 public:
  using WallClock = std::chrono::system_clock;
  using NowFn = std::function<WallClock::time_point()>;
  // A jump is a wall clock that moved this much more or less than the monotonic clock in one tick.
  static constexpr std::chrono::seconds kJumpThreshold{60};
  // A jump stays in /healthz this long (monotonic time).
  static constexpr std::chrono::hours kJumpShownFor{1};
  // Less free space than this where the database lives is "disk_low".
  static constexpr std::uint64_t kDiskLowBytes = 64ULL << 20;

  struct Jump {
    std::int64_t at_ms = 0;  // wall time after the jump
    std::int64_t by_ms = 0;  // + forward, - back
  };

  FaultMonitor(NowFn now, storage::SqliteStorage& storage, delivery::DeliveryEngine& delivery, JobScheduler& scheduler,
               std::string database_path);
  ~FaultMonitor();
  FaultMonitor(const FaultMonitor&) = delete;
  FaultMonitor& operator=(const FaultMonitor&) = delete;

  void start();
  void stop();

  // The last jump, if it happened within kJumpShownFor.
  [[nodiscard]] std::optional<Jump> recent_jump() const;
  // Free bytes on the database's file system (nullopt if it cannot be read).
  [[nodiscard]] std::optional<std::uint64_t> disk_free() const;

 private:
  void loop();
  void tick();
  void check_clock();
  void check_disk();
  void probe_writes();

  NowFn now_;
  storage::SqliteStorage& storage_;
  delivery::DeliveryEngine& delivery_;
  JobScheduler& scheduler_;
  std::string folder_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;

  std::optional<std::pair<WallClock::time_point, std::chrono::steady_clock::time_point>> last_;
  std::optional<Jump> jump_;
  std::chrono::steady_clock::time_point jump_seen_{};
  std::optional<std::uint64_t> disk_free_;
  std::chrono::steady_clock::time_point last_probe_{};
  // Shared with the probe's completion, which the writer may run after this monitor is gone.
  std::shared_ptr<std::atomic<bool>> probe_in_flight_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace villagebot::runtime

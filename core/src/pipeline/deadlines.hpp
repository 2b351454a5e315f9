#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace villagebot::pipeline {

// Handler deadlines on one thread of their own, so that hung handlers cannot
// starve the timer that answers for them. Adding and cancelling take a mutex
// and wake nobody: the thread always sleeps until a known moment (the earliest
// deadline, or an idle tick when there is none) and is woken only for a
// deadline before that moment — which, with every deadline as long as the
// last, happens only when the idle tick is further away than the delay. No
// thread hop per message.
class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;
  Deadlines();
  ~Deadlines();
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  // Calls fn on the deadline thread after `delay` unless the returned cancel
  // function runs first.
  std::function<void()> after(std::chrono::milliseconds delay, std::function<void()> fn);
  void stop();

 private:
  using Key = std::pair<Clock::time_point, std::uint64_t>;
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Key, std::function<void()>> pending_;
  std::uint64_t next_id_ = 0;
  Clock::time_point wakes_at_ = Clock::time_point::max();  // when the thread looks next on its own
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace villagebot::pipeline

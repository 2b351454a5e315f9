#include "pipeline/deadlines.hpp"

#include <pthread.h>

#include <vector>

namespace villagebot::pipeline {

Deadlines::Deadlines() : thread_([this] { loop(); }) {}

Deadlines::~Deadlines() {
  stop();
}

void Deadlines::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::function<void()> Deadlines::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  Key key;
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    key = Key{Clock::now() + delay, next_id_++};
    pending_.emplace(key, std::move(fn));
    earliest = key.first < wakes_at_;
  }
  if (earliest) wake_.notify_one();
  return [this, key] {
    std::lock_guard lock(mutex_);
    pending_.erase(key);
  };
}

void Deadlines::loop() {
  pthread_setname_np(pthread_self(), "vb-deadline");
  std::unique_lock lock(mutex_);
  // With nothing pending it still looks once a second, so that adding the
  // first deadline of a busy spell (seconds long) wakes nobody.
  constexpr auto kIdleTick = std::chrono::seconds(1);
  while (!stopping_) {
    const auto now = Clock::now();
    if (pending_.empty() || now < pending_.begin()->first.first) {
      wakes_at_ = pending_.empty() ? now + kIdleTick : pending_.begin()->first.first;
      wake_.wait_until(lock, wakes_at_);
      wakes_at_ = Clock::time_point::min();  // awake: nobody needs to wake it
      continue;
    }
    std::vector<std::function<void()>> due;
    while (!pending_.empty() && pending_.begin()->first.first <= now) {
      due.push_back(std::move(pending_.begin()->second));
      pending_.erase(pending_.begin());
    }
    lock.unlock();
    for (auto& fn : due) {
      try {
        fn();
      } catch (...) {  // a deadline action must not end the thread
      }
    }
    lock.lock();
  }
}

}  // namespace villagebot::pipeline

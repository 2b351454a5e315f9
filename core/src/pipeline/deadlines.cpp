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
    auto it = pending_.emplace(key, std::move(fn)).first;
    earliest = it == pending_.begin();
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
  while (!stopping_) {
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto first = pending_.begin()->first.first;
    if (Clock::now() < first) {
      wake_.wait_until(lock, first);
      continue;
    }
    std::vector<std::function<void()>> due;
    const auto now = Clock::now();
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

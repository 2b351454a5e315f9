#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace villagebot::pipeline {

// Per-sender token bucket. The first message over the limit gets one "too
// fast" answer; the rest are silently accepted until the bucket refills.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { allow, warn, silent };
  RateLimiter(int messages, std::chrono::seconds window) : capacity_(messages), window_(window) {}
  Verdict check(const std::string& sender, Clock::time_point now = Clock::now());
  // False when the limit is off (0 messages): every message is allowed.
  [[nodiscard]] bool enabled() const { return capacity_ > 0; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
    bool warned = false;
  };
  int capacity_;
  std::chrono::seconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_prune_{};
};

}  // namespace villagebot::pipeline

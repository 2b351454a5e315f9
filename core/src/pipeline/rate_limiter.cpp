#include "pipeline/rate_limiter.hpp"

namespace villagebot::pipeline {

RateLimiter::Verdict RateLimiter::check(const std::string& sender, Clock::time_point now) {
  if (capacity_ <= 0) return Verdict::allow;
  const double per_second = static_cast<double>(capacity_) / static_cast<double>(window_.count());
  std::lock_guard lock(mutex_);
  if (now - last_prune_ > window_) {
    // Full buckets carry no state worth keeping.
    std::erase_if(buckets_, [&](const auto& kv) {
      return std::chrono::duration<double>(now - kv.second.updated).count() * per_second + kv.second.tokens >=
             capacity_;
    });
    last_prune_ = now;
  }
  auto [it, inserted] = buckets_.try_emplace(sender, Bucket{static_cast<double>(capacity_), now});
  Bucket& b = it->second;
  if (!inserted) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(static_cast<double>(capacity_), b.tokens + elapsed * per_second);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    b.warned = false;
    return Verdict::allow;
  }
  if (!b.warned) {
    b.warned = true;
    return Verdict::warn;
  }
  return Verdict::silent;
}

}  // namespace villagebot::pipeline

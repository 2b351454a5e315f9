#include "delivery/dispatcher.hpp"

#include <pthread.h>

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "villagebot/text.hpp"

namespace villagebot::delivery {

namespace {
using steady = std::chrono::steady_clock;
constexpr auto kIdlePoll = std::chrono::milliseconds(1000);
}  // namespace

Dispatcher::Dispatcher(Storage& storage, Adapter& adapter, std::string adapter_id, config::AdapterDelivery limits,
                       const DispatchRules& rules, support::Metrics& metrics)
    : storage_(storage),
      adapter_(adapter),
      id_(std::move(adapter_id)),
      limits_(limits),
      rules_(rules),
      metrics_(metrics),
      labels_(support::label("adapter", id_)),
      random_(rules.seed) {
  // Claim a little more than can be in flight, so the senders never starve;
  // with a slow rate limit, hardly more than the bucket releases.
  buffer_cap_ = static_cast<std::size_t>(limits_.concurrency) * 2 + 16;
  if (limits_.rate_per_minute > 0)
    buffer_cap_ = std::min<std::size_t>(
        buffer_cap_, static_cast<std::size_t>(limits_.burst) + static_cast<std::size_t>(limits_.concurrency));
  tokens_ = limits_.burst;
  refilled_ = steady::now();
}

Dispatcher::~Dispatcher() {
  stop();
}

void Dispatcher::start() {
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vb-dispatch");
    loop();
  });
  for (int i = 0; i < limits_.concurrency; ++i)
    senders_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "vb-send");
      sender_loop();
    });
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !started_) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
  }
  wake_cv_.notify_all();
  ready_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& t : senders_)
    if (t.joinable()) t.join();
  {
    // Outcomes are recorded by the writer, which calls back into this object.
    std::unique_lock lock(mutex_);
    wake_cv_.wait(lock, [this] { return in_flight_ == 0; });
  }
  // Claimed but never handed out (or handed out and not started): back to the queue now.
  std::vector<std::int64_t> back;
  {
    std::lock_guard lock(mutex_);
    for (const auto& r : buffer_) back.push_back(r.id);
    for (const auto& r : ready_) back.push_back(r.id);
    buffer_.clear();
    ready_.clear();
  }
  if (!back.empty()) {
    try {
      storage_.write([&](Session& s) {
        for (auto id : back)
          s.execute("UPDATE core_outbox SET status = 'queued' WHERE id = ? AND status = 'sending'", {id});
      });
    } catch (const std::exception& e) {
      spdlog::warn("dispatcher {}: could not requeue {} messages at stop ({}); they are requeued at the next start",
                   id_, back.size(), e.what());
    }
  }
}

void Dispatcher::wake(bool urgent) {
  {
    std::lock_guard lock(mutex_);
    if (urgent) urgent_ = true;
    next_due_ms_ = 0;
  }
  wake_cv_.notify_all();
}

nlohmann::json Dispatcher::health() {
  std::lock_guard lock(mutex_);
  const bool down = unreachable_ >= kDownAfter;
  nlohmann::json out{{"state", down ? "gateway_down" : "ok"},
                     {"claimed", buffer_.size()},
                     {"in_flight", in_flight_},
                     {"sent", sent_},
                     {"failed", failed_},
                     {"retried", retried_},
                     {"last_error", last_error_},
                     {"concurrency", limits_.concurrency},
                     {"rate_per_minute", limits_.rate_per_minute},
                     {"unreachable_in_a_row", unreachable_}};
  if (down) {
    out["down_since_ms"] = down_since_ms_;
    out["down_error"] = down_error_;
  }
  return out;
}

void Dispatcher::note_gateway(const SendResult& result, std::int64_t now_ms) {
  std::string went_down, came_back;  // logged outside the lock
  {
    std::lock_guard lock(mutex_);
    if (result.status == SendResult::Status::held) {
      if (++unreachable_ == kDownAfter) {
        down_since_ms_ = now_ms;
        went_down = result.error;
      }
      down_error_ = result.error;
    } else if (result.status == SendResult::Status::sent) {
      if (unreachable_ >= kDownAfter) came_back = std::to_string((now_ms - down_since_ms_) / 1000);
      unreachable_ = 0;
      down_since_ms_ = 0;
    }
  }
  if (!went_down.empty())
    spdlog::error("gateway {} down: {} sends in a row could not reach it ({}); messages are held, not failed", id_,
                  kDownAfter, went_down);
  if (!came_back.empty()) spdlog::warn("gateway {} reachable again after {} s", id_, came_back);
}

bool Dispatcher::take_token(steady::time_point now) {
  if (limits_.rate_per_minute <= 0) return true;
  const double per_second = limits_.rate_per_minute / 60.0;
  tokens_ =
      std::min<double>(limits_.burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * per_second);
  refilled_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

steady::duration Dispatcher::until_token(steady::time_point now) const {
  if (limits_.rate_per_minute <= 0) return steady::duration::zero();
  const double per_second = limits_.rate_per_minute / 60.0;
  const double have = tokens_ + std::chrono::duration<double>(now - refilled_).count() * per_second;
  if (have >= 1.0) return steady::duration::zero();
  // Rounded up to the clock's tick, and no more: a millisecond added per wait
  // would cost 20% at 200 a second.
  return std::chrono::ceil<steady::duration>(std::chrono::duration<double>((1.0 - have) / per_second));
}

namespace {
constexpr int kUrgentClaim = 4096;  // urgent rows claimed at once (a team's alert in one claim)
}  // namespace

void Dispatcher::loop() {
  bool exhausted = false;  // the last claim found fewer rows than it asked for
  steady::time_point last_claim{};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now_ms = to_ms(rules_.now());
    const auto now = steady::now();
    const bool due_retry = next_due_ms_ > 0 && next_due_ms_ <= now_ms;
    const bool want = buffer_.size() < buffer_cap_ / 2 && (!exhausted || due_retry || now - last_claim >= kIdlePoll);
    if (urgent_ || want) {
      const auto limit = static_cast<int>(buffer_cap_ - std::min(buffer_.size(), buffer_cap_));
      // An urgent wake claims every urgent row (emergencies and replies), however full the
      // buffer is with notices: the buffer is ordered by priority, so they all go before any
      // notice already claimed — a 60-member alert is not sent one row per claim.
      const bool urgent = urgent_;
      urgent_ = false;
      if (due_retry) next_due_ms_ = 0;
      lock.unlock();
      std::vector<OutboxRow> claimed;
      try {
        if (urgent)
          claimed = storage_.write([&](Session& s) { return claim(s, id_, now_ms, kUrgentClaim, Priority::reply); });
        else if (limit > 0)
          claimed = storage_.write([&](Session& s) { return claim(s, id_, now_ms, limit); });
      } catch (const std::exception& e) {
        spdlog::error("dispatcher {}: cannot read the outbox: {}", id_, e.what());
      }
      lock.lock();
      last_claim = now;
      if (urgent && static_cast<int>(claimed.size()) == kUrgentClaim) urgent_ = true;  // more of them: again
      if (!urgent) exhausted = static_cast<int>(claimed.size()) < limit;
      for (auto& r : claimed) buffer_.insert(std::move(r));
      continue;
    }
    // Hand out as many as the slots and the bucket allow.
    bool handed = false;
    while (!buffer_.empty() && in_flight_ < limits_.concurrency) {
      OutboxRow row = *buffer_.begin();
      const auto local_now = rules_.now();
      std::string hold_status, hold_error;
      std::int64_t not_before = 0;
      if (row.expires_at_ms > 0 && to_ms(local_now) > row.expires_at_ms) {
        hold_status = "expired";
        hold_error = "too old to send";
      } else if (row.broadcast_id > 0 && rules_.cancelled && rules_.cancelled(row.broadcast_id)) {
        hold_status = "cancelled";
        hold_error = "broadcast cancelled";
      } else if (row.sms && !row.essential && row.channel == ChannelKind::personal && row.priority > Priority::reply &&
                 rules_.quiet_hours.contains(local_now, rules_.utc_offset)) {
        hold_status = "queued";
        hold_error = "quiet hours (免打扰时段)";
        not_before = to_ms(rules_.quiet_hours.end_of(local_now, rules_.utc_offset));
      } else if (row.sms && !row.essential && row.person_id > 0 && rules_.opted_out &&
                 rules_.opted_out(row.person_id)) {
        hold_status = "cancelled";
        hold_error = "opted out (退订)";
      }
      if (!hold_status.empty()) {
        buffer_.erase(buffer_.begin());
        lock.unlock();
        settle(row, hold_status, hold_error, not_before);
        lock.lock();
        continue;
      }
      if (!take_token(steady::now())) break;
      buffer_.erase(buffer_.begin());
      ++in_flight_;
      ready_.push_back(std::move(row));
      handed = true;
    }
    if (handed) ready_cv_.notify_all();
    // Sleep until something can happen: a slot frees, a token arrives, a
    // retry falls due, new rows are queued, or it is time to look again.
    auto wait = std::chrono::duration_cast<steady::duration>(kIdlePoll);
    if (!buffer_.empty() && in_flight_ < limits_.concurrency) wait = std::min(wait, until_token(steady::now()));
    if (next_due_ms_ > 0)
      wait = std::min<steady::duration>(
          wait, std::chrono::milliseconds(std::max<std::int64_t>(1, next_due_ms_ - to_ms(rules_.now()))));
    if (buffer_.size() < buffer_cap_ / 2 && !exhausted) wait = steady::duration::zero();
    if (wait > steady::duration::zero()) wake_cv_.wait_for(lock, wait);
  }
}

void Dispatcher::sender_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping
    OutboxRow row = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    SendResult result;
    try {
      result = adapter_.send(to_message(row));
    } catch (const std::exception& e) {
      result = SendResult::retryable(std::string("the adapter failed: ") + e.what());
    }
    finish(row, result);
    lock.lock();
  }
}

void Dispatcher::finish(const OutboxRow& row, const SendResult& result) {
  const auto now_ms = to_ms(rules_.now());
  std::string status = "sent";
  std::string error = result.error;
  std::int64_t not_before = 0;
  const char* outcome = "sent";
  if (result.status == SendResult::Status::retry) {
    if (row.attempts >= rules_.delivery.max_attempts) {
      status = "failed";
      error = "gave up after " + std::to_string(row.attempts) + " attempts: " + result.error;
      outcome = "failed";
    } else {
      double delay_ms = static_cast<double>(rules_.delivery.retry_base.count()) * std::pow(2.0, row.attempts - 1);
      delay_ms = std::min(delay_ms, static_cast<double>(rules_.delivery.retry_max.count()));
      {
        std::lock_guard lock(mutex_);
        delay_ms *= std::uniform_real_distribution<double>(0.5, 1.0)(random_);  // jitter: no thundering herd
      }
      delay_ms = std::max(delay_ms, result.retry_after_s * 1000.0);  // Retry-After is honoured
      not_before = now_ms + static_cast<std::int64_t>(delay_ms);
      if (row.expires_at_ms > 0 && not_before > row.expires_at_ms) {
        status = "expired";
        error = "too old to send after " + std::to_string(row.attempts) + " attempts: " + result.error;
        outcome = "expired";
      } else {
        status = "queued";
        outcome = "retry";
      }
    }
  } else if (result.status == SendResult::Status::held) {
    // The gateway is down: wait for it without using up the message's attempts.
    not_before = now_ms + (result.retry_after_s > 0 ? std::int64_t{result.retry_after_s} * 1000
                                                    : rules_.delivery.gateway_retry.count());
    if (row.expires_at_ms > 0 && not_before > row.expires_at_ms) {
      status = "expired";
      error = "too old to send; the gateway was down: " + result.error;
      outcome = "expired";
    } else {
      status = "queued";
      outcome = "held";
    }
  } else if (result.status == SendResult::Status::failed) {
    status = "failed";
    outcome = "failed";
  }
  if (status != "sent")
    spdlog::warn("{} to {} through {} (attempt {}): {}", outcome, text::mask_phone(row.address), id_, row.attempts,
                 error);
  note_gateway(result, now_ms);
  metrics_.add("villagebot_deliveries_total", labels_ + "," + support::label("result", outcome));
  const std::int64_t id = row.id;
  // Counted with the outcome: a hold (quiet hours, a gateway that is down) is not an attempt.
  const std::int64_t attempts = outcome == std::string_view("held") ? row.attempts - 1 : row.attempts;
  const std::string provider_id = result.provider_id;
  std::vector<std::string> parts = result.part_ids;
  storage_.write_async(
      [id, attempts, status, error, not_before, now_ms, provider_id, parts = std::move(parts), &rules = rules_,
       adapter_id = id_](Session& s) {
        if (status == "sent") {
          s.execute(
              "UPDATE core_outbox SET status = 'sent', attempts = ?, provider_id = ?, sent_at_ms = ?, "
              "updated_at_ms = ?, last_error = '' WHERE id = ? AND status = 'sending'",
              {attempts, provider_id.empty() ? Value{nullptr} : Value{provider_id}, now_ms, now_ms, id});
          // A long SMS: each part's id, for the receipts that come per part.
          for (const auto& part : parts)
            if (!part.empty())
              s.execute("INSERT OR IGNORE INTO core_outbox_parts (adapter_id, provider_id, outbox_id) VALUES (?, ?, ?)",
                        {adapter_id, part, id});
          // A receipt that overtook this write is applied now (both run on the writer).
          if (rules.on_sent) {
            if (parts.empty() && !provider_id.empty()) rules.on_sent(s, adapter_id, provider_id);
            for (const auto& part : parts)
              if (!part.empty()) rules.on_sent(s, adapter_id, part);
          }
        } else
          s.execute(
              "UPDATE core_outbox SET status = ?, attempts = ?, last_error = ?, not_before_ms = ?, "
              "updated_at_ms = ? WHERE id = ? AND status = 'sending'",
              {status, attempts, error, not_before, now_ms, id});
      },
      [this, status, error, not_before](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("dispatcher {}: could not record an outcome: {}", id_, x.what());
          }
        }
        {
          std::lock_guard lock(mutex_);
          --in_flight_;
          if (status == "sent") ++sent_;
          if (status == "failed" || status == "expired") ++failed_;
          if (status == "queued") {
            ++retried_;
            if (next_due_ms_ == 0 || not_before < next_due_ms_) next_due_ms_ = not_before;
          }
          if (status != "sent") last_error_ = error;
        }
        wake_cv_.notify_all();
      });
}

void Dispatcher::settle(const OutboxRow& row, const std::string& status, const std::string& error,
                        std::int64_t not_before_ms) {
  const auto now_ms = to_ms(rules_.now());
  metrics_.add("villagebot_deliveries_total",
               labels_ + "," + support::label("result", status == "queued" ? "held" : status));
  if (status == "queued") {
    std::lock_guard lock(mutex_);
    if (next_due_ms_ == 0 || not_before_ms < next_due_ms_) next_due_ms_ = not_before_ms;
  }
  const std::int64_t id = row.id;
  // A hold is not an attempt.
  storage_.write_async(
      [id, status, error, not_before_ms, now_ms](Session& s) {
        s.execute(
            "UPDATE core_outbox SET status = ?, last_error = ?, not_before_ms = ?, updated_at_ms = ? "
            "WHERE id = ? AND status = 'sending'",
            {status, error, not_before_ms, now_ms, id});
      },
      nullptr);
}

}  // namespace villagebot::delivery

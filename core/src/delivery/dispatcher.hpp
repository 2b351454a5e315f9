#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "delivery/cron.hpp"
#include "delivery/outbox.hpp"
#include "support/metrics.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::delivery {

using NowFn = std::function<Clock::time_point()>;

struct DispatchRules {
  config::DeliveryConfig delivery;
  DailyWindow quiet_hours;
  std::chrono::seconds utc_offset{8 * 3600};
  NowFn now = [] { return Clock::now(); };
  std::uint32_t seed = std::random_device{}();
  // Asked just before sending: a broadcast cancelled meanwhile, a person who
  // opted out of SMS meanwhile.
  std::function<bool(std::int64_t broadcast_id)> cancelled;
  std::function<bool(std::int64_t person_id)> opted_out;
  // On the writer, right after a row was marked sent with its provider id.
  std::function<void(Session& session, const std::string& adapter_id, const std::string& provider_id)> on_sent;
};

// Sends one adapter's share of the outbox: its own thread takes queued rows
// most urgent first, a token bucket paces them, `concurrency` sender threads
// call Adapter::send, and every outcome is written back. A slot is freed only
// when the outcome is durable, so after a kill at most `concurrency` messages
// were sent without the outbox knowing (the duplicates on restart).
class Dispatcher {
 public:
  Dispatcher(Storage& storage, Adapter& adapter, std::string adapter_id, config::AdapterDelivery limits,
             const DispatchRules& rules, support::Metrics& metrics);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Stops taking rows, lets the sends in flight finish, and puts the rows it
  // had claimed but not sent back in the queue.
  void stop();
  // New rows were queued; `urgent`: look now even with a full buffer.
  void wake(bool urgent);
  [[nodiscard]] nlohmann::json health();
  [[nodiscard]] const std::string& id() const { return id_; }

 private:
  struct ByUrgency {
    bool operator()(const OutboxRow& a, const OutboxRow& b) const {
      return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
    }
  };
  void loop();
  void sender_loop();
  void finish(const OutboxRow& row, const SendResult& result);
  // Outcomes that need no send (expired, cancelled, held for quiet hours).
  void settle(const OutboxRow& row, const std::string& status, const std::string& error, std::int64_t not_before_ms);
  // Counts sends that could not reach the gateway (held) until one is sent: kDownAfter in a row is
  // "gateway_down" in /healthz and the log.
  void note_gateway(const SendResult& result, std::int64_t now_ms);
  bool take_token(std::chrono::steady_clock::time_point now);
  [[nodiscard]] std::chrono::steady_clock::duration until_token(std::chrono::steady_clock::time_point now) const;

  Storage& storage_;
  Adapter& adapter_;
  std::string id_;
  config::AdapterDelivery limits_;
  DispatchRules rules_;
  support::Metrics& metrics_;
  std::string labels_;
  std::size_t buffer_cap_;

  std::mutex mutex_;
  std::condition_variable wake_cv_;        // the dispatcher thread
  std::condition_variable ready_cv_;       // the senders
  std::set<OutboxRow, ByUrgency> buffer_;  // claimed (sending), not yet handed out
  std::deque<OutboxRow> ready_;            // handed to the senders
  int in_flight_ = 0;                      // handed out and not yet durably settled
  bool urgent_ = false;
  bool stopping_ = false;
  bool started_ = false;
  std::int64_t next_due_ms_ = 0;  // earliest retry or hold this dispatcher set
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_{};
  std::mt19937 random_;
  std::int64_t sent_ = 0, failed_ = 0, retried_ = 0;
  std::string last_error_;
  static constexpr int kDownAfter = 3;
  int unreachable_ = 0;
  std::int64_t down_since_ms_ = 0;
  std::string down_error_;

  std::thread thread_;
  std::vector<std::thread> senders_;
};

}  // namespace villagebot::delivery

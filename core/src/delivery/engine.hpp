#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "delivery/dispatcher.hpp"
#include "delivery/planner.hpp"
#include "support/metrics.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"

// The delivery engine (issue 4): the durable outbox behind the Messenger.
// Everything sent outside a synchronous reply is a row in core_outbox first;
// one Dispatcher per adapter sends it.
namespace villagebot::delivery {

class DeliveryEngine final : public Messenger {
 public:
  struct AdapterSlot {
    std::string id;
    Adapter* adapter;
    config::AdapterDelivery limits;
  };
  DeliveryEngine(
      Storage& storage, Directory& directory, support::Metrics& metrics, const config::Config& config,
      NowFn now = [] { return Clock::now(); });
  ~DeliveryEngine() override;

  // Adapters in config order. Rows a crash left in flight are queued again,
  // then a dispatcher per adapter starts.
  void start(std::vector<AdapterSlot> adapters);
  void stop();

  std::int64_t send_to_person(std::int64_t person_id, const std::string& text, const SendOptions& options) override;
  std::int64_t send(OutboundMessage message) override;
  DeliveryPlan plan(const Broadcast& broadcast) override;
  std::int64_t broadcast(const Broadcast& broadcast, DeliveryPlan* plan) override;
  std::int64_t acknowledge(std::int64_t person_id, std::int64_t broadcast_id) override;
  bool cancel_broadcast(std::int64_t broadcast_id) override;
  RecipientPage recipients(std::int64_t broadcast_id, const RecipientQuery& query) override;
  nlohmann::json broadcast_status(std::int64_t broadcast_id) override;

  // A delivery receipt from an adapter's status callback.
  // `stored` (may be empty) runs on the writer once the receipt is written (true) or not (false).
  void report_delivery(const std::string& adapter_id, const std::string& provider_id, bool delivered,
                       const std::string& error, std::function<void(bool)> stored = nullptr);
  // Recipients of a broadcast with their status, paged (status "" = all).
  nlohmann::json recipients(std::int64_t broadcast_id, const std::string& status, std::int64_t page,
                            std::int64_t per_page);
  // Broadcasts, newest first.
  nlohmann::json list_broadcasts(std::int64_t page, std::int64_t per_page);
  // Failed and expired messages with their reasons (the dead-letter list).
  nlohmann::json dead_letters(std::int64_t page, std::int64_t per_page);
  nlohmann::json health();
  // Every dispatcher looks at the outbox again now (the clock jumped).
  void wake_all();
  // The wall clock went back by `by`: messages waiting for a retry or a gateway were given times
  // on the old clock, so they are pulled back by the jump (never before now), lest a retry wait
  // the length of the jump. Returns how many were moved.
  std::int64_t clock_went_back(std::chrono::milliseconds by);

  static nlohmann::json plan_json(const DeliveryPlan& plan);
  static DeliveryPlan plan_from_json(const nlohmann::json& json);

 private:
  std::vector<Channel> channels() const;
  Dispatcher* dispatcher(const std::string& adapter_id);
  std::int64_t default_expiry_ms(std::chrono::seconds valid_for) const;

  Storage& storage_;
  Directory& directory_;
  support::Metrics& metrics_;
  config::DeliveryConfig config_;
  DispatchRules rules_;
  std::vector<AdapterSlot> adapters_;
  std::vector<std::unique_ptr<Dispatcher>> dispatchers_;
  // Receipts that arrived before the row was marked sent, by adapter + provider id.
  struct Receipt {
    bool delivered = false;
    std::string error;
    std::int64_t at_ms = 0;
  };
  std::mutex receipts_mutex_;
  std::map<std::pair<std::string, std::string>, Receipt> early_receipts_;
  std::mutex cancelled_mutex_;
  std::set<std::int64_t> cancelled_;
  std::atomic<bool> started_{false};
};

}  // namespace villagebot::delivery

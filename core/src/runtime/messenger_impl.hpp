#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/metrics.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::runtime {

// Sends through the adapters and records every message in the message log.
// Delivery here is one attempt on the worker pool; the durable outbox with
// retries and rate limits replaces the dispatch step (issue: delivery engine).
class MessengerImpl final : public Messenger {
 public:
  struct Route {
    std::string id;
    Adapter* adapter;
  };
  MessengerImpl(Storage& storage, Directory& directory, support::Metrics& metrics,
                std::function<void(std::function<void()>)> run_blocking);
  // Adapters in config order: the first that can reach a person is used.
  void set_adapters(std::vector<Route> adapters);

  std::int64_t send_to_person(std::int64_t person_id, const std::string& text, const SendOptions& options) override;
  std::int64_t send(OutboundMessage message) override;

 private:
  Adapter* find(const std::string& id) const;
  Storage& storage_;
  Directory& directory_;
  support::Metrics& metrics_;
  std::function<void(std::function<void()>)> run_blocking_;
  std::vector<Route> adapters_;
};

}  // namespace villagebot::runtime

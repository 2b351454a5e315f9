#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "villagebot/events.hpp"

namespace villagebot::pipeline {

class LocalEventBus final : public EventBus {
 public:
  void publish(std::string_view topic, const nlohmann::json& payload) override;
  Registration subscribe(std::string topic, Handler handler) override;

 private:
  std::shared_mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::multimap<std::string, std::pair<std::uint64_t, std::shared_ptr<Handler>>, std::less<>> subscribers_;
};

}  // namespace villagebot::pipeline

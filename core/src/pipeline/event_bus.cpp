#include "pipeline/event_bus.hpp"

#include <vector>

#include <spdlog/spdlog.h>

namespace villagebot::pipeline {

void LocalEventBus::publish(std::string_view topic, const nlohmann::json& payload) {
  std::vector<std::shared_ptr<Handler>> handlers;
  {
    std::shared_lock lock(mutex_);
    auto [begin, end] = subscribers_.equal_range(topic);
    for (auto it = begin; it != end; ++it) handlers.push_back(it->second.second);
  }
  // Called outside the lock, so a subscriber may publish or unsubscribe.
  for (const auto& h : handlers) {
    try {
      (*h)(payload);
    } catch (const std::exception& e) {
      spdlog::error("event '{}': a subscriber failed: {}", topic, e.what());
    }
  }
}

Registration LocalEventBus::subscribe(std::string topic, Handler handler) {
  std::unique_lock lock(mutex_);
  const auto id = next_id_++;
  subscribers_.emplace(topic, std::make_pair(id, std::make_shared<Handler>(std::move(handler))));
  return Registration([this, topic = std::move(topic), id] {
    std::unique_lock l(mutex_);
    auto [begin, end] = subscribers_.equal_range(topic);
    for (auto it = begin; it != end; ++it) {
      if (it->second.first == id) {
        subscribers_.erase(it);
        break;
      }
    }
  });
}

}  // namespace villagebot::pipeline

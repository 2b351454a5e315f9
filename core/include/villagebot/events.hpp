#pragma once
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "villagebot/handle.hpp"

namespace villagebot {

// Plugins cooperate through events, never by linking to each other. An event
// type is a struct with `static constexpr std::string_view kTopic` and
// nlohmann to_json/from_json; the bus carries JSON so that no type crosses a
// shared-library boundary.
class EventBus {
 public:
  using Handler = std::function<void(const nlohmann::json&)>;
  virtual ~EventBus() = default;
  // Delivers synchronously, in the publisher's thread, to every subscriber; a
  // subscriber that throws is logged and the others still run.
  virtual void publish(std::string_view topic, const nlohmann::json& payload) = 0;
  [[nodiscard]] virtual Registration subscribe(std::string topic, Handler handler) = 0;

  template <class Event>
  void emit(const Event& event) {
    publish(Event::kTopic, nlohmann::json(event));
  }
  template <class Event, class F>
  [[nodiscard]] Registration on(F handler) {
    return subscribe(std::string(Event::kTopic),
                     [h = std::move(handler)](const nlohmann::json& j) { h(j.get<Event>()); });
  }
};

}  // namespace villagebot

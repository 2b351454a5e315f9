#pragma once
#include <cstdint>
#include <string>

#include "villagebot/message.hpp"

namespace villagebot {

struct SendOptions {
  Priority priority = Priority::notice;
  bool essential = false;  // alerts reach people who opted out of non-essential SMS
  std::string idempotency_key;
};

// Sending outside a reply: to a person (the messenger picks the channel) or to
// an explicit address on an adapter. Returns the message-log id, or 0 when the
// message was not sent (opt-out, no channel reaches the person).
class Messenger {
 public:
  virtual ~Messenger() = default;
  virtual std::int64_t send_to_person(std::int64_t person_id, const std::string& text,
                                      const SendOptions& options = {}) = 0;
  virtual std::int64_t send(OutboundMessage message) = 0;
};

}  // namespace villagebot

#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace villagebot {

// A group channel reaches a whole group chat with one post; a personal channel
// reaches one person (an SMS, a private chat).
enum class ChannelKind { group, personal };

// What every adapter turns its platform's callback into.
struct InboundMessage {
  std::string adapter_id;
  ChannelKind channel = ChannelKind::personal;
  std::string identity_kind = "phone";  // how `sender` is looked up: phone, wecom, dingtalk, ...
  std::string sender;                   // phone number or platform user id
  std::string chat_id;                  // group chat, when channel == group
  std::string text;
  std::string message_id;  // the platform's id; a repeated id is processed once
  std::int64_t received_at_ms = 0;
};

struct Reply {
  std::string text;
};

// Lower value = more urgent. An emergency never waits behind a notice.
enum class Priority { emergency = 0, reply = 1, notice = 2, bulk = 3 };

struct OutboundMessage {
  std::string adapter_id;
  ChannelKind channel = ChannelKind::personal;
  std::string address;  // phone, platform user id or chat id, as the adapter expects
  std::string text;
  Priority priority = Priority::notice;
  bool essential = false;       // true: sent even to people who opted out (alerts)
  std::string idempotency_key;  // passed to gateways that accept one
  // A group post: the people to @-mention, by phone (+86…); WeCom and DingTalk robots notify them.
  std::vector<std::string> mentions{};
  std::int64_t person_id = 0;  // 0 when the address is a group
};

// An adapter's verdict on one send; the delivery engine decides what follows.
struct SendResult {
  // held: the gateway itself is down (a modem unplugged, no SMSC session): queued again after
  // retry_after_s without counting an attempt, so that a long outage fails nothing (expiry applies).
  enum class Status { sent, retry, failed, held };
  Status status = Status::sent;
  std::string provider_id;
  std::string error;
  int retry_after_s = 0;
  // A message the gateway took in several parts (a long SMS over SMPP or a modem): the gateway's
  // id of every part, provider_id being the first. Delivered when every part is reported
  // delivered; failed as soon as one part is reported failed.
  std::vector<std::string> part_ids{};

  static SendResult ok(std::string id = {}) {
    SendResult r;
    r.provider_id = std::move(id);
    return r;
  }
  static SendResult ok_parts(std::vector<std::string> ids) {
    SendResult r;
    if (!ids.empty()) r.provider_id = ids.front();
    if (ids.size() > 1) r.part_ids = std::move(ids);
    return r;
  }
  static SendResult retryable(std::string why, int after_s = 0) {
    SendResult r;
    r.status = Status::retry;
    r.error = std::move(why);
    r.retry_after_s = after_s;
    return r;
  }
  static SendResult gateway_down(std::string why, int after_s) {
    SendResult r;
    r.status = Status::held;
    r.error = std::move(why);
    r.retry_after_s = after_s;
    return r;
  }
  static SendResult permanent(std::string why) {
    SendResult r;
    r.status = Status::failed;
    r.error = std::move(why);
    return r;
  }
};

}  // namespace villagebot

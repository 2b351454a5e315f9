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
  enum class Status { sent, retry, failed };
  Status status = Status::sent;
  std::string provider_id;
  std::string error;
  int retry_after_s = 0;

  static SendResult ok(std::string id = {}) { return {Status::sent, std::move(id), {}, 0}; }
  static SendResult retryable(std::string why, int after_s = 0) { return {Status::retry, {}, std::move(why), after_s}; }
  static SendResult permanent(std::string why) { return {Status::failed, {}, std::move(why), 0}; }
};

}  // namespace villagebot

#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "villagebot/directory.hpp"
#include "villagebot/message.hpp"

namespace villagebot {

struct SendOptions {
  Priority priority = Priority::notice;
  bool essential = false;  // alerts reach people who opted out of non-essential SMS
  // A message with a key already used is not queued again: the first one's outbox id is returned.
  std::string idempotency_key;
};

// How a broadcast reaches its audience.
enum class ChannelPolicy {
  group_first,   // one post in each group chat covering part of the audience; personal messages for the rest
  personal_all,  // a personal message to everyone (private chat, else SMS)
  sms_all,       // an SMS to everyone with a phone
  // Alerts: a post in every group chat covering part of the audience *and* an SMS to everyone
  // with a phone (a private chat for those without one).
  every_channel,
};

struct Broadcast {
  std::string kind = "notice";  // the sender's word: notice, alert, poll, reminder ...
  std::string title{};          // for status views and the 收到 reply ("" : none)
  std::string text;             // in the village's language (Chinese); group posts always use it
  std::string text_en{};        // for persons whose language is English ("": text)
  // {name} and {household} are filled in per person (name, 户号); a group post reads 各位村民 / 各户.
  bool personalise = false;
  Audience audience{};
  ChannelPolicy policy = ChannelPolicy::group_first;
  Priority priority = Priority::notice;
  bool essential = false;             // sent to people who opted out of SMS, and during quiet hours
  bool ask_ack = true;                // 收到 acknowledges the latest broadcast that asks for it
  bool mention_in_groups = false;     // a group post @-mentions the audience it covers (by phone)
  std::int64_t follow_up_of = 0;      // a reminder of that broadcast: 收到 to it acknowledges both
  std::string idempotency_key{};      // a broadcast with a key already used is not queued again
  std::string created_by{};           // plugin or person, for the status view
  std::chrono::seconds valid_for{0};  // 0: the engine's expire_after
};

// What a broadcast will cost, before it is sent (and as it was planned).
struct DeliveryPlan {
  std::int64_t persons = 0;            // in the audience
  std::int64_t group_posts = 0;        // one per group chat used
  std::int64_t covered_by_groups = 0;  // persons reached by a group post
  std::int64_t personal_chats = 0;     // private chat messages
  std::int64_t sms = 0;                // SMS messages
  std::int64_t sms_segments = 0;       // 70 Chinese / 160 GSM characters per segment (67 / 153 when split)
  std::int64_t opted_out = 0;          // not sent: opted out of non-essential SMS (退订)
  std::int64_t unreachable = 0;        // no adapter reaches them
  double estimated_cost = 0;           // SMS segments × the adapters' cost_per_segment
};

// Who a broadcast is for, with their status; the filters are combined.
struct RecipientQuery {
  // "" all; queued, sending, sent, delivered, acknowledged, failed, expired, cancelled,
  // unreachable (no channel reaches them) or opted_out (退订, nothing sent)
  std::string status{};
  std::optional<bool> acknowledged{};   // only those who have (true) or have not (false) acknowledged
  std::vector<std::int64_t> persons{};  // only these persons (empty: everyone)
  std::int64_t offset = 0;
  std::int64_t limit = 1000000;
};

struct RecipientStatus {
  std::int64_t person_id = 0;
  std::string via;     // group, personal, sms, opted_out, none
  std::string status;  // as RecipientQuery::status
  std::string adapter_id;
  std::int64_t attempts = 0;
  std::string last_error;
  std::int64_t sent_at_ms = 0;  // 0: not (yet)
  std::int64_t delivered_at_ms = 0;
  std::int64_t acked_at_ms = 0;
};

struct RecipientPage {
  std::int64_t total = 0;              // matching the query, before offset and limit
  std::vector<RecipientStatus> items;  // by person id
};

// Sending outside a reply. Everything goes through the durable outbox: accepted
// means it will be sent, also after a crash, with retries, rate limits,
// priorities, quiet hours and opt-out applied per adapter.
class Messenger {
 public:
  virtual ~Messenger() = default;
  // To a person (the messenger picks the channel). Returns the outbox id, or 0
  // when the message was not queued (opted out, no channel reaches the person).
  virtual std::int64_t send_to_person(std::int64_t person_id, const std::string& text,
                                      const SendOptions& options = {}) = 0;
  // To an explicit address on an adapter. Returns the outbox id (0: no such adapter).
  virtual std::int64_t send(OutboundMessage message) = 0;

  // The plan of a broadcast, without sending anything.
  virtual DeliveryPlan plan(const Broadcast& broadcast) = 0;
  // Plans and queues a broadcast in one transaction; returns its id (the plan in *plan).
  virtual std::int64_t broadcast(const Broadcast& broadcast, DeliveryPlan* plan = nullptr) = 0;
  // The person acknowledged (收到) a broadcast; broadcast_id 0: the latest one that
  // asks for it (ask_ack) they were sent within the last 7 days. A follow-up (reminder)
  // acknowledges its original too, and the original's id is returned; 0: nothing to acknowledge.
  virtual std::int64_t acknowledge(std::int64_t person_id, std::int64_t broadcast_id = 0) = 0;
  // Recipients of a broadcast with their status (empty for an unknown id).
  virtual RecipientPage recipients(std::int64_t broadcast_id, const RecipientQuery& query) = 0;
  // Messages still queued are cancelled; returns false for an unknown id.
  virtual bool cancel_broadcast(std::int64_t broadcast_id) = 0;
  // {"id","kind","counts":{"queued":..,"sent":..,...},"persons","acknowledged",...}; null if unknown.
  virtual nlohmann::json broadcast_status(std::int64_t broadcast_id) = 0;
};

}  // namespace villagebot

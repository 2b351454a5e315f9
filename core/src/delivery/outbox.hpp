#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "villagebot/message.hpp"
#include "villagebot/storage.hpp"

// The durable outbox (core_outbox): the rows the dispatchers send.
namespace villagebot::delivery {

using Clock = std::chrono::system_clock;

inline std::int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t broadcast_id = 0;
  std::string adapter_id;
  ChannelKind channel = ChannelKind::personal;
  std::string address;
  std::int64_t person_id = 0;
  std::string text;
  Priority priority = Priority::notice;
  bool essential = false;
  bool sms = false;
  int segments = 0;
  std::string idempotency_key;  // "" → vb-<id>-<created ms>
  std::string mentions;         // a group post's @-mentions: phones, comma-separated
  int attempts = 0;             // claimed: the attempt about to be made (the outbox counts it with the outcome)
  std::int64_t expires_at_ms = 0;
  std::int64_t created_at_ms = 0;
};

// Inserts a row (status queued, or `status` with `error`); returns its id.
std::int64_t insert_row(Session& session, const OutboxRow& row, std::int64_t now_ms,
                        const std::string& status = "queued", const std::string& error = {});

// The key a gateway sees: stable across retries and restarts.
std::string idempotency_key_of(const OutboxRow& row);

// Claims up to `limit` queued rows of an adapter that are due, most urgent
// first (priority, then age), marking them sending. The attempt is counted
// when its outcome is written, so a row claimed and put back (stop, crash,
// quiet hours) keeps its count.
// `up_to`: only rows of this priority or more urgent.
std::vector<OutboxRow> claim(Session& session, const std::string& adapter_id, std::int64_t now_ms, int limit,
                             Priority up_to = Priority::bulk);

// At start: rows a crash left in sending go back to queued. Returns how many.
std::int64_t requeue_in_flight(Session& session);

OutboundMessage to_message(const OutboxRow& row);

}  // namespace villagebot::delivery

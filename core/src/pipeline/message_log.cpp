#include "pipeline/message_log.hpp"

#include <chrono>

namespace villagebot::pipeline::message_log {

namespace {
const char* channel_name(ChannelKind k) {
  return k == ChannelKind::group ? "group" : "personal";
}
}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> insert_inbound(Session& s, const InboundMessage& m, std::string_view status) {
  const Value message_id = m.message_id.empty() ? Value{nullptr} : Value{m.message_id};
  const auto changed = s.execute(
      "INSERT INTO core_messages(direction, adapter_id, message_id, channel, identity_kind, address, chat_id, text, "
      "status, created_at, updated_at) VALUES('in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      {m.adapter_id, message_id, std::string(channel_name(m.channel)), m.identity_kind, m.sender, m.chat_id, m.text,
       std::string(status), m.received_at_ms, now_ms()});
  if (changed == 0) return std::nullopt;
  return s.last_insert_id();
}

void set_inbound_status(Session& s, std::int64_t id, std::string_view status, std::int64_t person_id) {
  s.execute("UPDATE core_messages SET status = ?, person_id = ?, updated_at = ? WHERE id = ?",
            {std::string(status), person_id == 0 ? Value{nullptr} : Value{person_id}, now_ms(), id});
}

void insert_replies(Session& s, std::int64_t inbound_id, const InboundMessage& m, std::int64_t person_id,
                    const Replies& replies) {
  const auto now = now_ms();
  for (const auto& r : replies) {
    s.execute(
        "INSERT INTO core_messages(direction, adapter_id, channel, identity_kind, address, chat_id, person_id, text, "
        "status, in_reply_to, created_at, updated_at) VALUES('out', ?, ?, ?, ?, ?, ?, ?, 'reply', ?, ?, ?)",
        {m.adapter_id, std::string(channel_name(m.channel)), m.identity_kind, m.sender, m.chat_id,
         person_id == 0 ? Value{nullptr} : Value{person_id}, r.text, inbound_id, now, now});
  }
}

Replies replies_to(Session& s, std::string_view adapter_id, std::string_view message_id) {
  Replies out;
  for (const auto& row : s.query("SELECT r.text FROM core_messages r JOIN core_messages i ON r.in_reply_to = i.id "
                                 "WHERE i.direction = 'in' AND i.adapter_id = ? AND i.message_id = ? ORDER BY r.id",
                                 {std::string(adapter_id), std::string(message_id)}))
    out.push_back(Reply{row.text(0)});
  return out;
}

std::int64_t insert_outbound(Session& s, const OutboundMessage& m, std::string_view status, std::string_view error) {
  const auto now = now_ms();
  s.execute(
      "INSERT INTO core_messages(direction, adapter_id, channel, address, person_id, text, status, error, created_at, "
      "updated_at) VALUES('out', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {m.adapter_id, std::string(channel_name(m.channel)), m.address,
       m.person_id == 0 ? Value{nullptr} : Value{m.person_id}, m.text, std::string(status), std::string(error), now,
       now});
  return s.last_insert_id();
}

void set_outbound_status(Session& s, std::int64_t id, std::string_view status, std::string_view error) {
  s.execute("UPDATE core_messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
            {std::string(status), std::string(error), now_ms(), id});
}

}  // namespace villagebot::pipeline::message_log

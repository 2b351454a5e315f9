#include "delivery/outbox.hpp"

namespace villagebot::delivery {

namespace {
Value id_or_null(std::int64_t id) {
  return id > 0 ? Value{id} : Value{nullptr};
}
}  // namespace

std::int64_t insert_row(Session& s, const OutboxRow& r, std::int64_t now_ms, const std::string& status,
                        const std::string& error) {
  s.execute(
      "INSERT INTO core_outbox (broadcast_id, adapter_id, channel, address, person_id, text, priority, essential, sms, "
      "segments, idempotency_key, status, last_error, expires_at_ms, created_at_ms, updated_at_ms, mentions) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {id_or_null(r.broadcast_id), r.adapter_id, std::string(r.channel == ChannelKind::group ? "group" : "personal"),
       r.address, id_or_null(r.person_id), r.text, static_cast<std::int64_t>(r.priority),
       std::int64_t{r.essential ? 1 : 0}, std::int64_t{r.sms ? 1 : 0}, static_cast<std::int64_t>(r.segments),
       r.idempotency_key, status, error, r.expires_at_ms, now_ms, now_ms, r.mentions});
  return s.last_insert_id();
}

std::string idempotency_key_of(const OutboxRow& row) {
  if (!row.idempotency_key.empty()) return row.idempotency_key;
  return "vb-" + std::to_string(row.id) + "-" + std::to_string(row.created_at_ms);
}

std::vector<OutboxRow> claim(Session& s, const std::string& adapter_id, std::int64_t now_ms, int limit,
                             Priority up_to) {
  std::vector<OutboxRow> rows;
  for (const Row& r : s.query(
           "SELECT id, COALESCE(broadcast_id, 0), channel, address, COALESCE(person_id, 0), text, priority, essential, "
           "sms, segments, idempotency_key, attempts, expires_at_ms, created_at_ms, mentions FROM core_outbox "
           "WHERE adapter_id = ? AND status = 'queued' AND not_before_ms <= ? AND priority <= ? ORDER BY priority, id "
           "LIMIT ?",
           {adapter_id, now_ms, static_cast<std::int64_t>(up_to), static_cast<std::int64_t>(limit)})) {
    OutboxRow o;
    o.id = r.integer(0);
    o.broadcast_id = r.integer(1);
    o.adapter_id = adapter_id;
    o.channel = r.text(2) == "group" ? ChannelKind::group : ChannelKind::personal;
    o.address = r.text(3);
    o.person_id = r.integer(4);
    o.text = r.text(5);
    o.priority = static_cast<Priority>(r.integer(6));
    o.essential = r.integer(7) != 0;
    o.sms = r.integer(8) != 0;
    o.segments = static_cast<int>(r.integer(9));
    o.idempotency_key = r.text(10);
    o.attempts = static_cast<int>(r.integer(11)) + 1;
    o.expires_at_ms = r.integer(12);
    o.created_at_ms = r.integer(13);
    o.mentions = r.text(14);
    rows.push_back(std::move(o));
  }
  for (const auto& o : rows)
    s.execute("UPDATE core_outbox SET status = 'sending', updated_at_ms = ? WHERE id = ?", {now_ms, o.id});
  return rows;
}

std::int64_t requeue_in_flight(Session& s) {
  return s.execute("UPDATE core_outbox SET status = 'queued' WHERE status = 'sending'");
}

OutboundMessage to_message(const OutboxRow& row) {
  OutboundMessage m;
  m.adapter_id = row.adapter_id;
  m.channel = row.channel;
  m.address = row.address;
  m.text = row.text;
  m.priority = row.priority;
  m.essential = row.essential;
  m.idempotency_key = idempotency_key_of(row);
  m.person_id = row.person_id;
  for (std::size_t from = 0; from < row.mentions.size();) {
    const auto comma = row.mentions.find(',', from);
    const auto end = comma == std::string::npos ? row.mentions.size() : comma;
    if (end > from) m.mentions.push_back(row.mentions.substr(from, end - from));
    from = end + 1;
  }
  return m;
}

}  // namespace villagebot::delivery

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

void insert_answers(Session& s, const std::vector<Answer>& answers) {
  // Rows of several answers per statement: SQLite's cost per statement is
  // about as much as the row's own. Statements of 16, 4 and 1 rows, so that
  // only three are prepared and cached.
  constexpr std::string_view kHead =
      "INSERT INTO core_messages(direction, adapter_id, channel, identity_kind, address, chat_id, person_id, text, "
      "status, in_reply_to, created_at, updated_at) VALUES";
  constexpr std::string_view kRow = "('out', ?, ?, ?, ?, ?, ?, ?, 'reply', ?, ?, ?)";
  constexpr std::size_t kColumns = 9;
  struct Row {
    const Answer* answer;
    const Reply* reply;
  };
  std::vector<Row> rows;
  for (const auto& a : answers)
    for (const auto& r : *a.replies) rows.push_back(Row{&a, &r});
  const auto now = now_ms();
  std::vector<Value> params;
  std::string sql;
  for (std::size_t at = 0; at < rows.size();) {
    const std::size_t left = rows.size() - at;
    const std::size_t n = left >= 16 ? 16 : left >= 4 ? 4 : 1;
    sql.assign(kHead);
    params.clear();
    params.reserve(n * kColumns);
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) sql += ',';
      sql += kRow;
      const Answer& a = *rows[at + i].answer;
      const InboundMessage& m = *a.message;
      params.emplace_back(m.adapter_id);
      params.emplace_back(std::string(channel_name(m.channel)));
      params.emplace_back(m.identity_kind);
      params.emplace_back(m.sender);
      params.emplace_back(m.chat_id);
      params.emplace_back(a.person_id == 0 ? Value{nullptr} : Value{a.person_id});
      params.emplace_back(rows[at + i].reply->text);
      params.emplace_back(a.inbound_id);
      params.emplace_back(now);
      params.emplace_back(now);
    }
    s.execute(sql, params);
    at += n;
  }
  for (const auto& a : answers) set_inbound_status(s, a.inbound_id, a.status, a.person_id);
}

Replies replies_to(Session& s, std::string_view adapter_id, std::string_view message_id) {
  Replies out;
  for (const auto& row : s.query("SELECT r.text FROM core_messages r JOIN core_messages i ON r.in_reply_to = i.id "
                                 "WHERE i.direction = 'in' AND i.adapter_id = ? AND i.message_id = ? ORDER BY r.id",
                                 {std::string(adapter_id), std::string(message_id)}))
    out.push_back(Reply{row.text(0)});
  return out;
}

std::int64_t recovery_mark(Session& s) {
  const auto rows = s.query("SELECT scan_from FROM core_inbound_mark WHERE id = 1");
  return rows.empty() ? 0 : rows[0].integer(0);
}

std::int64_t first_unanswered_after(Session& s, std::int64_t after, std::int64_t up_to) {
  const auto rows =
      s.query("SELECT MIN(id) FROM core_messages WHERE id > ? AND id <= ? AND direction = 'in' AND status = 'accepted'",
              {after, up_to});
  return rows.empty() || rows[0].is_null(0) ? up_to + 1 : rows[0].integer(0);
}

void set_recovery_mark(Session& s, std::int64_t scan_from) {
  s.execute(
      "INSERT INTO core_inbound_mark(id, scan_from) VALUES(1, ?) "
      "ON CONFLICT(id) DO UPDATE SET scan_from = excluded.scan_from",
      {scan_from});
}

}  // namespace villagebot::pipeline::message_log

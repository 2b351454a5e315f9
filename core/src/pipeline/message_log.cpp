#include "pipeline/message_log.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

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

std::string replies_json(const Replies& replies) {
  std::string out = "[";
  for (const auto& r : replies) {
    if (out.size() > 1) out += ',';
    text::append_json_string(out, r.text);
  }
  out += ']';
  return out;
}

void insert_answers(Session& s, const std::vector<Answer>& answers) {
  // The replies go into the message's own row, with its status: one UPDATE of a row the same
  // transaction has usually just written (see core_010.sql), or a reference to a row that holds
  // the same replies (core_011.sql).
  const auto now = now_ms();
  for (const auto& a : answers) {
    const Value person = a.person_id == 0 ? Value{nullptr} : Value{a.person_id};
    if (a.replies_of != 0)
      s.execute("UPDATE core_messages SET status = ?, person_id = ?, replies_of = ?, updated_at = ? WHERE id = ?",
                {std::string(a.status), person, a.replies_of, now, a.inbound_id});
    else
      s.execute("UPDATE core_messages SET status = ?, person_id = ?, replies = ?, updated_at = ? WHERE id = ?",
                {std::string(a.status), person, std::string(a.replies), now, a.inbound_id});
  }
}

std::size_t RepeatedAnswers::key(const Replies& replies) {
  std::size_t bytes = 0;
  for (const auto& r : replies) bytes += r.text.size();
  if (bytes < kMinBytes) return 0;
  std::size_t h = replies.size();
  for (const auto& r : replies) h = h * 1000003U ^ std::hash<std::string_view>{}(r.text);
  return h == 0 ? 1 : h;
}

std::int64_t RepeatedAnswers::find(const Replies& replies, std::size_t key) const {
  if (key == 0) return 0;
  std::lock_guard lock(mutex_);
  return find_locked(replies, key);
}

std::int64_t RepeatedAnswers::find_locked(const Replies& replies, std::size_t key) const {
  for (const auto& slot : slots_) {
    if (slot.key != key || slot.replies.size() != replies.size()) continue;
    if (std::equal(replies.begin(), replies.end(), slot.replies.begin(),
                   [](const Reply& a, const Reply& b) { return a.text == b.text; }))
      return slot.message_id;
  }
  return 0;
}

void RepeatedAnswers::remember(const Replies& replies, std::size_t key, std::int64_t message_id) {
  if (key == 0 || message_id == 0) return;
  std::lock_guard lock(mutex_);
  if (find_locked(replies, key) != 0) return;
  if (slots_.size() < kCapacity) {
    slots_.push_back(Slot{key, replies, message_id});
    return;
  }
  slots_[next_] = Slot{key, replies, message_id};
  next_ = (next_ + 1) % kCapacity;
}

Replies replies_to(Session& s, std::string_view adapter_id, std::string_view message_id) {
  Replies out;
  const auto rows = s.query(
      "SELECT m.id, COALESCE(m.replies, o.replies) FROM core_messages m LEFT JOIN core_messages o ON o.id = "
      "m.replies_of WHERE m.direction = 'in' AND m.adapter_id = ? AND m.message_id = ?",
      {std::string(adapter_id), std::string(message_id)});
  if (rows.empty()) return out;
  if (rows[0].is_null(1)) {
    // Not answered yet, or answered before core_010: the replies are rows of their own.
    for (const auto& row :
         s.query("SELECT text FROM core_messages WHERE in_reply_to = ? ORDER BY id", {rows[0].integer(0)}))
      out.push_back(Reply{row.text(0)});
    return out;
  }
  const auto stored = nlohmann::json::parse(rows[0].text(1), nullptr, false);
  if (!stored.is_array()) return out;
  for (const auto& r : stored)
    if (r.is_string()) out.push_back(Reply{r.get<std::string>()});
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

#include "delivery/engine.hpp"

#include <spdlog/spdlog.h>

#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

namespace villagebot::delivery {

namespace {

using nlohmann::json;

const char* policy_name(ChannelPolicy p) {
  switch (p) {
    case ChannelPolicy::group_first:
      return "group_first";
    case ChannelPolicy::personal_all:
      return "personal_all";
    case ChannelPolicy::sms_all:
      return "sms_all";
    case ChannelPolicy::every_channel:
      return "every_channel";
  }
  return "group_first";
}

constexpr std::int64_t kAckWindowMs = 7LL * 24 * 3600 * 1000;  // 收到 answers a broadcast of the last week

// The per-recipient status: acknowledged beats what the outbox row says.
constexpr const char* kRecipientStatus =
    "CASE WHEN r.acked_at_ms IS NOT NULL THEN 'acknowledged' WHEN r.via = 'opted_out' THEN 'opted_out' "
    "WHEN r.outbox_id IS NULL THEN 'unreachable' ELSE o.status END";

std::int64_t apply_receipt(Session& s, const std::string& adapter_id, const std::string& provider_id, bool delivered,
                           const std::string& error, std::int64_t now_ms) {
  // A part of a long SMS: the message is delivered when its last part is, failed with the first failure.
  const auto part = s.query("SELECT outbox_id FROM core_outbox_parts WHERE adapter_id = ? AND provider_id = ?",
                            {adapter_id, provider_id});
  if (!part.empty()) {
    const std::int64_t outbox_id = part[0].integer(0);
    s.execute("UPDATE core_outbox_parts SET status = ? WHERE adapter_id = ? AND provider_id = ? AND status = 'sent'",
              {std::string(delivered ? "delivered" : "failed"), adapter_id, provider_id});
    if (!delivered) {
      s.execute(
          "UPDATE core_outbox SET status = 'failed', last_error = ?, updated_at_ms = ? "
          "WHERE id = ? AND status IN ('sending', 'sent')",
          {error.empty() ? std::string("the gateway reported a failure of a part") : error, now_ms, outbox_id});
      return 1;
    }
    const auto left =
        s.query("SELECT COUNT(*) FROM core_outbox_parts WHERE outbox_id = ? AND status <> 'delivered'", {outbox_id});
    if (!left.empty() && left[0].integer(0) == 0)
      s.execute(
          "UPDATE core_outbox SET status = 'delivered', delivered_at_ms = ?, updated_at_ms = ? "
          "WHERE id = ? AND status IN ('sending', 'sent')",
          {now_ms, now_ms, outbox_id});
    return 1;
  }
  if (delivered)
    return s.execute(
        "UPDATE core_outbox SET status = 'delivered', delivered_at_ms = ?, updated_at_ms = ? "
        "WHERE adapter_id = ? AND provider_id = ? AND status IN ('sending', 'sent')",
        {now_ms, now_ms, adapter_id, provider_id});
  return s.execute(
      "UPDATE core_outbox SET status = 'failed', last_error = ?, updated_at_ms = ? "
      "WHERE adapter_id = ? AND provider_id = ? AND status IN ('sending', 'sent')",
      {error.empty() ? std::string("the gateway reported a failure") : error, now_ms, adapter_id, provider_id});
}
constexpr std::size_t kMaxEarlyReceipts = 10000;

}  // namespace

DeliveryEngine::DeliveryEngine(Storage& storage, Directory& directory, support::Metrics& metrics,
                               const config::Config& config, NowFn now)
    : storage_(storage), directory_(directory), metrics_(metrics), config_(config.delivery) {
  rules_.delivery = config.delivery;
  rules_.quiet_hours = DailyWindow::parse(config.delivery.quiet_hours);
  rules_.utc_offset = parse_utc_offset(config.timezone);
  rules_.now = std::move(now);
  rules_.cancelled = [this](std::int64_t broadcast_id) {
    std::lock_guard lock(cancelled_mutex_);
    return cancelled_.contains(broadcast_id);
  };
  rules_.on_sent = [this](Session& s, const std::string& adapter_id, const std::string& provider_id) {
    Receipt receipt;
    {
      std::lock_guard lock(receipts_mutex_);
      auto it = early_receipts_.find({adapter_id, provider_id});
      if (it == early_receipts_.end()) return;
      receipt = it->second;
      early_receipts_.erase(it);
    }
    apply_receipt(s, adapter_id, provider_id, receipt.delivered, receipt.error, receipt.at_ms);
  };
  rules_.opted_out = [this](std::int64_t person_id) {
    return storage_.read([&](Session& s) {
      auto rows = s.query("SELECT opted_out FROM core_persons WHERE id = ?", {person_id});
      return !rows.empty() && rows[0].integer(0) != 0;
    });
  };
  metrics_.describe("villagebot_deliveries_total", "counter",
                    "Outbox sends by adapter and result (sent, retry, failed, expired, cancelled, held)");
  for (const char* status : {"queued", "sending", "sent", "delivered", "failed", "expired"}) {
    metrics_.gauge(std::string("villagebot_outbox_") + status, std::string("Outbox messages now ") + status,
                   [this, st = std::string(status)] {
                     return static_cast<double>(storage_.read([&](Session& s) {
                       return s.query("SELECT COUNT(*) FROM core_outbox WHERE status = ?", {st}).at(0).integer(0);
                     }));
                   });
  }
}

DeliveryEngine::~DeliveryEngine() {
  stop();
}

void DeliveryEngine::start(std::vector<AdapterSlot> adapters) {
  adapters_ = std::move(adapters);
  const auto requeued = storage_.write([](Session& s) { return requeue_in_flight(s); });
  if (requeued > 0) spdlog::warn("delivery: {} messages were in flight at the last stop; sending them again", requeued);
  storage_.read([&](Session& s) {
    std::lock_guard lock(cancelled_mutex_);
    for (const Row& r : s.query("SELECT id FROM core_broadcasts WHERE status = 'cancelled'"))
      cancelled_.insert(r.integer(0));
  });
  for (const auto& a : adapters_) {
    dispatchers_.push_back(std::make_unique<Dispatcher>(storage_, *a.adapter, a.id, a.limits, rules_, metrics_));
    dispatchers_.back()->start();
  }
  started_ = true;
}

void DeliveryEngine::stop() {
  for (auto& d : dispatchers_) d->stop();
  dispatchers_.clear();
  started_ = false;
}

std::vector<Channel> DeliveryEngine::channels() const {
  std::vector<Channel> out;
  for (const auto& a : adapters_)
    out.push_back(Channel{a.id, a.adapter->identity_kind(), a.adapter->is_sms(), a.adapter->can_send_personal(),
                          a.adapter->can_send_group(), a.limits.cost_per_segment, a.adapter->sms_signature()});
  return out;
}

Dispatcher* DeliveryEngine::dispatcher(const std::string& adapter_id) {
  for (auto& d : dispatchers_)
    if (d->id() == adapter_id) return d.get();
  return nullptr;
}

std::int64_t DeliveryEngine::default_expiry_ms(std::chrono::seconds valid_for) const {
  const auto ttl = valid_for.count() > 0 ? valid_for : config_.expire_after;
  return to_ms(rules_.now() + ttl);
}

std::int64_t DeliveryEngine::send(OutboundMessage m) {
  const AdapterSlot* slot = nullptr;
  for (const auto& a : adapters_)
    if (a.id == m.adapter_id) slot = &a;
  if (slot == nullptr) {
    spdlog::error("send: no adapter '{}'", m.adapter_id);
    return 0;
  }
  OutboxRow row;
  row.adapter_id = m.adapter_id;
  row.channel = m.channel;
  row.address = m.address;
  row.person_id = m.person_id;
  row.text = m.text;
  row.priority = m.priority;
  row.essential = m.essential;
  row.sms = slot->adapter->is_sms();
  row.segments = row.sms ? static_cast<int>(sms::count(m.text, slot->adapter->sms_signature())) : 0;
  row.idempotency_key = m.idempotency_key;
  for (const auto& phone : m.mentions) row.mentions += (row.mentions.empty() ? "" : ",") + phone;
  row.expires_at_ms = default_expiry_ms(std::chrono::seconds(0));
  const auto now_ms = to_ms(rules_.now());
  const bool opted_out = row.sms && !row.essential && row.person_id > 0 && rules_.opted_out(row.person_id);
  bool again = false;
  const std::int64_t id = storage_.write([&](Session& s) {
    // A key already used: the first message stands (a job run twice sends nothing twice).
    if (!row.idempotency_key.empty()) {
      const auto known =
          s.query("SELECT id FROM core_outbox WHERE idempotency_key = ? AND idempotency_key != '' LIMIT 1",
                  {row.idempotency_key});
      if (!known.empty()) {
        again = true;
        return known[0].integer(0);
      }
    }
    return insert_row(s, row, now_ms, opted_out ? "cancelled" : "queued", opted_out ? "opted out (退订)" : "");
  });
  if (again) return id;
  if (opted_out) {
    metrics_.add("villagebot_deliveries_total",
                 support::label("adapter", row.adapter_id) + "," + support::label("result", "cancelled"));
    return 0;
  }
  if (auto* d = dispatcher(m.adapter_id)) d->wake(m.priority <= Priority::reply);
  return id;
}

std::int64_t DeliveryEngine::send_to_person(std::int64_t person_id, const std::string& text,
                                            const SendOptions& options) {
  const auto chans = channels();
  const auto route =
      storage_.read([&](Session& s) { return route_person(s, person_id, chans, options.essential, false); });
  if (route.channel == static_cast<std::size_t>(-1)) {
    spdlog::info("no channel reaches person {} ({})", person_id, route.opted_out ? "opted out of SMS" : "no address");
    return 0;
  }
  OutboundMessage m;
  m.adapter_id = chans[route.channel].id;
  m.channel = ChannelKind::personal;
  m.address = route.address;
  m.text = text;
  m.priority = options.priority;
  m.essential = options.essential;
  m.idempotency_key = options.idempotency_key;
  m.person_id = person_id;
  return send(std::move(m));
}

DeliveryPlan DeliveryEngine::plan_from_json(const json& j) {
  DeliveryPlan p;
  if (!j.is_object()) return p;
  p.persons = j.value("persons", std::int64_t{0});
  p.group_posts = j.value("group_posts", std::int64_t{0});
  p.covered_by_groups = j.value("covered_by_groups", std::int64_t{0});
  p.personal_chats = j.value("personal_chats", std::int64_t{0});
  p.sms = j.value("sms", std::int64_t{0});
  p.sms_segments = j.value("sms_segments", std::int64_t{0});
  p.opted_out = j.value("opted_out", std::int64_t{0});
  p.unreachable = j.value("unreachable", std::int64_t{0});
  p.estimated_cost = j.value("estimated_cost", 0.0);
  return p;
}

json DeliveryEngine::plan_json(const DeliveryPlan& p) {
  return {{"persons", p.persons},
          {"group_posts", p.group_posts},
          {"covered_by_groups", p.covered_by_groups},
          {"personal_chats", p.personal_chats},
          {"sms", p.sms},
          {"sms_segments", p.sms_segments},
          {"opted_out", p.opted_out},
          {"unreachable", p.unreachable},
          {"estimated_cost", p.estimated_cost}};
}

DeliveryPlan DeliveryEngine::plan(const Broadcast& b) {
  const auto chans = channels();
  return storage_.read([&](Session& s) { return plan_broadcast(s, directory_, chans, b).plan; });
}

std::int64_t DeliveryEngine::broadcast(const Broadcast& b, DeliveryPlan* plan_out) {
  if (b.text.empty()) throw std::invalid_argument("a broadcast needs a text");
  // Before start the engine knows no adapters: every recipient would be planned as unreachable.
  if (!started_)
    throw std::logic_error("Messenger::broadcast before the server started (in Plugin::start, schedule it instead)");
  // A key already used: the broadcast is there (a retry after a crash or a timeout).
  auto existing = [&](Session& s) -> std::int64_t {
    if (b.idempotency_key.empty()) return 0;
    auto rows = s.query("SELECT id, plan FROM core_broadcasts WHERE idempotency_key = ?", {b.idempotency_key});
    if (rows.empty()) return 0;
    if (plan_out != nullptr) *plan_out = plan_from_json(json::parse(rows[0].text(1), nullptr, false));
    return rows[0].integer(0);
  };
  if (const auto id = storage_.read(existing); id > 0) return id;
  const auto chans = channels();
  Planned planned = storage_.read([&](Session& s) { return plan_broadcast(s, directory_, chans, b); });
  const auto now_ms = to_ms(rules_.now());
  const auto expires = default_expiry_ms(b.valid_for);
  bool repeated = false;
  // One transaction: the broadcast, its messages and its recipients are
  // accepted together or not at all.
  const std::int64_t id = storage_.write([&](Session& s) {
    if (const auto earlier = existing(s); earlier > 0) {
      repeated = true;
      return earlier;
    }
    s.execute(
        "INSERT INTO core_broadcasts (kind, text, audience, policy, priority, essential, created_by, plan, "
        "created_at_ms, title, ask_ack, follow_up_of, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {b.kind, b.text, audience_to_json(b.audience).dump(), std::string(policy_name(b.policy)),
         static_cast<std::int64_t>(b.priority), std::int64_t{b.essential ? 1 : 0}, b.created_by,
         plan_json(planned.plan).dump(), now_ms, b.title, std::int64_t{b.ask_ack ? 1 : 0},
         b.follow_up_of > 0 ? Value{b.follow_up_of} : Value{nullptr},
         b.idempotency_key.empty() ? Value{nullptr} : Value{b.idempotency_key}});
    const std::int64_t bid = s.last_insert_id();
    std::vector<std::int64_t> row_ids(planned.rows.size(), 0);
    for (std::size_t i = 0; i < planned.rows.size(); ++i) {
      planned.rows[i].broadcast_id = bid;
      planned.rows[i].expires_at_ms = expires;
      row_ids[i] = insert_row(s, planned.rows[i], now_ms);
    }
    for (const auto& r : planned.recipients)
      s.execute("INSERT INTO core_broadcast_recipients (broadcast_id, person_id, outbox_id, via) VALUES (?, ?, ?, ?)",
                {bid, r.person_id, r.row < row_ids.size() ? Value{row_ids[r.row]} : Value{nullptr}, r.via});
    return bid;
  });
  if (repeated) return id;
  if (plan_out != nullptr) *plan_out = planned.plan;
  for (auto& d : dispatchers_) d->wake(b.priority <= Priority::reply);
  spdlog::info("broadcast {} ({}): {} persons, {} group posts, {} personal, {} SMS", id, b.kind, planned.plan.persons,
               planned.plan.group_posts, planned.plan.personal_chats, planned.plan.sms);
  return id;
}

std::int64_t DeliveryEngine::acknowledge(std::int64_t person_id, std::int64_t broadcast_id) {
  const auto now_ms = to_ms(rules_.now());
  return storage_.write([&](Session& s) -> std::int64_t {
    std::int64_t bid = broadcast_id;
    if (bid == 0) {
      auto rows = s.query(
          "SELECT r.broadcast_id FROM core_broadcast_recipients r JOIN core_broadcasts b ON b.id = r.broadcast_id "
          "WHERE r.person_id = ? AND b.ask_ack = 1 AND b.created_at_ms >= ? AND r.outbox_id IS NOT NULL "
          "AND (b.status = 'active' OR EXISTS (SELECT 1 FROM core_outbox o WHERE o.id = r.outbox_id AND "
          "o.status IN ('sent', 'delivered', 'acknowledged'))) ORDER BY r.broadcast_id DESC LIMIT 1",
          {person_id, now_ms - kAckWindowMs});
      if (rows.empty()) return 0;
      bid = rows[0].integer(0);
    }
    auto ack = [&](std::int64_t id) {
      if (s.execute("UPDATE core_broadcast_recipients SET acked_at_ms = COALESCE(acked_at_ms, ?) "
                    "WHERE broadcast_id = ? AND person_id = ?",
                    {now_ms, id, person_id}) == 0)
        return false;
      s.execute(
          "UPDATE core_outbox SET status = 'acknowledged', acked_at_ms = ?, updated_at_ms = ? "
          "WHERE broadcast_id = ? AND person_id = ? AND status IN ('sent', 'delivered')",
          {now_ms, now_ms, id, person_id});
      return true;
    };
    if (!ack(bid)) return 0;
    // A reminder: the person has seen the original as well.
    auto up = s.query("SELECT COALESCE(follow_up_of, 0) FROM core_broadcasts WHERE id = ?", {bid});
    if (!up.empty() && up[0].integer(0) > 0 && ack(up[0].integer(0))) return up[0].integer(0);
    return bid;
  });
}

bool DeliveryEngine::cancel_broadcast(std::int64_t broadcast_id) {
  const auto now_ms = to_ms(rules_.now());
  const bool known = storage_.write([&](Session& s) {
    if (s.execute("UPDATE core_broadcasts SET status = 'cancelled' WHERE id = ?", {broadcast_id}) == 0) return false;
    s.execute(
        "UPDATE core_outbox SET status = 'cancelled', last_error = 'broadcast cancelled', updated_at_ms = ? "
        "WHERE broadcast_id = ? AND status = 'queued'",
        {now_ms, broadcast_id});
    return true;
  });
  if (known) {
    {
      std::lock_guard lock(cancelled_mutex_);
      cancelled_.insert(broadcast_id);
    }
    for (auto& d : dispatchers_) d->wake(true);  // drop what they had claimed, now
  }
  return known;
}

json DeliveryEngine::broadcast_status(std::int64_t id) {
  return storage_.read([&](Session& s) -> json {
    auto rows = s.query(
        "SELECT id, kind, text, policy, priority, essential, created_by, plan, status, created_at_ms, title, "
        "ask_ack, COALESCE(follow_up_of, 0) FROM core_broadcasts WHERE id = ?",
        {id});
    if (rows.empty()) return nullptr;
    const Row& b = rows[0];
    json messages = json::object();
    for (const Row& r :
         s.query("SELECT status, COUNT(*) FROM core_outbox WHERE broadcast_id = ? GROUP BY status", {id}))
      messages[r.text(0)] = r.integer(1);
    json recipients = json::object();
    std::int64_t persons = 0;
    for (const Row& r : s.query(std::string("SELECT ") + kRecipientStatus +
                                    " AS st, COUNT(*) FROM core_broadcast_recipients r LEFT JOIN core_outbox o ON "
                                    "o.id = r.outbox_id WHERE r.broadcast_id = ? GROUP BY st",
                                {id})) {
      recipients[r.text(0)] = r.integer(1);
      persons += r.integer(1);
    }
    json by_via = json::object();
    for (const Row& r :
         s.query("SELECT via, COUNT(*) FROM core_broadcast_recipients WHERE broadcast_id = ? GROUP BY via", {id}))
      by_via[r.text(0)] = r.integer(1);
    auto count = [&](const char* k) { return recipients.contains(k) ? recipients[k].get<std::int64_t>() : 0; };
    const std::int64_t done = count("sent") + count("delivered") + count("acknowledged") + count("failed") +
                              count("expired") + count("cancelled") + count("unreachable") + count("opted_out");
    return {{"id", b.integer(0)},
            {"kind", b.text(1)},
            {"text", b.text(2)},
            {"policy", b.text(3)},
            {"priority", b.integer(4)},
            {"essential", b.integer(5) != 0},
            {"created_by", b.text(6)},
            {"plan", json::parse(b.text(7), nullptr, false)},
            {"status", b.text(8)},
            {"created_at_ms", b.integer(9)},
            {"title", b.text(10)},
            {"ask_ack", b.integer(11) != 0},
            {"follow_up_of", b.integer(12) > 0 ? json(b.integer(12)) : json(nullptr)},
            {"persons", persons},
            {"acknowledged", count("acknowledged")},
            {"reached", count("sent") + count("delivered") + count("acknowledged")},
            {"finished", done},
            {"recipients", recipients},
            {"messages", messages},
            {"via", by_via}};
  });
}

json DeliveryEngine::recipients(std::int64_t id, const std::string& status, std::int64_t page, std::int64_t per_page) {
  return storage_.read([&](Session& s) {
    const std::string from = std::string(
                                 " FROM core_broadcast_recipients r LEFT JOIN core_outbox o ON o.id = r.outbox_id "
                                 "LEFT JOIN core_persons p ON p.id = r.person_id WHERE r.broadcast_id = ?") +
                             (status.empty() ? "" : std::string(" AND ") + kRecipientStatus + " = ?");
    std::vector<Value> params{id};
    if (!status.empty()) params.emplace_back(status);
    const auto total = s.query("SELECT COUNT(*)" + from, params).at(0).integer(0);
    params.emplace_back(per_page);
    params.emplace_back((page - 1) * per_page);
    json items = json::array();
    for (const Row& r :
         s.query(std::string("SELECT r.person_id, COALESCE(p.name, ''), COALESCE(p.phone, ''), r.via, ") +
                     kRecipientStatus +
                     ", COALESCE(o.adapter_id, ''), COALESCE(o.attempts, 0), COALESCE(o.last_error, ''), "
                     "o.sent_at_ms, o.delivered_at_ms, r.acked_at_ms" +
                     from + " ORDER BY r.person_id LIMIT ? OFFSET ?",
                 params)) {
      auto opt = [&](std::size_t c) { return r.is_null(c) ? json(nullptr) : json(r.integer(c)); };
      items.push_back({{"person_id", r.integer(0)},
                       {"name", r.text(1)},
                       {"phone", r.text(2)},
                       {"via", r.text(3)},
                       {"status", r.text(4)},
                       {"adapter_id", r.text(5)},
                       {"attempts", r.integer(6)},
                       {"last_error", r.text(7)},
                       {"sent_at_ms", opt(8)},
                       {"delivered_at_ms", opt(9)},
                       {"acked_at_ms", opt(10)}});
    }
    return json{{"items", std::move(items)}, {"total", total}, {"page", page}, {"per_page", per_page}};
  });
}

RecipientPage DeliveryEngine::recipients(std::int64_t id, const RecipientQuery& q) {
  return storage_.read([&](Session& s) {
    std::string from = std::string(
        " FROM core_broadcast_recipients r LEFT JOIN core_outbox o ON o.id = r.outbox_id WHERE r.broadcast_id = ?");
    std::vector<Value> params{id};
    if (!q.status.empty()) {
      from += std::string(" AND ") + kRecipientStatus + " = ?";
      params.emplace_back(q.status);
    }
    if (q.acknowledged) from += *q.acknowledged ? " AND r.acked_at_ms IS NOT NULL" : " AND r.acked_at_ms IS NULL";
    if (!q.persons.empty()) {
      from += " AND r.person_id IN (SELECT value FROM json_each(?))";
      params.emplace_back(json(q.persons).dump());
    }
    RecipientPage page;
    page.total = s.query("SELECT COUNT(*)" + from, params).at(0).integer(0);
    params.emplace_back(std::max<std::int64_t>(q.limit, 0));
    params.emplace_back(std::max<std::int64_t>(q.offset, 0));
    for (const Row& r :
         s.query(std::string("SELECT r.person_id, r.via, ") + kRecipientStatus +
                     ", COALESCE(o.adapter_id, ''), COALESCE(o.attempts, 0), COALESCE(o.last_error, ''), "
                     "COALESCE(o.sent_at_ms, 0), COALESCE(o.delivered_at_ms, 0), "
                     "COALESCE(r.acked_at_ms, 0)" +
                     from + " ORDER BY r.person_id LIMIT ? OFFSET ?",
                 params))
      page.items.push_back(RecipientStatus{r.integer(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.text(5),
                                           r.integer(6), r.integer(7), r.integer(8)});
    return page;
  });
}

json DeliveryEngine::list_broadcasts(std::int64_t page, std::int64_t per_page) {
  std::vector<std::int64_t> ids;
  std::int64_t total = 0;
  storage_.read([&](Session& s) {
    total = s.query("SELECT COUNT(*) FROM core_broadcasts").at(0).integer(0);
    for (const Row& r :
         s.query("SELECT id FROM core_broadcasts ORDER BY id DESC LIMIT ? OFFSET ?", {per_page, (page - 1) * per_page}))
      ids.push_back(r.integer(0));
  });
  json items = json::array();
  for (auto id : ids) {
    json st = broadcast_status(id);
    if (!st.is_null()) items.push_back(std::move(st));
  }
  return {{"items", std::move(items)}, {"total", total}, {"page", page}, {"per_page", per_page}};
}

json DeliveryEngine::dead_letters(std::int64_t page, std::int64_t per_page) {
  return storage_.read([&](Session& s) {
    const auto total =
        s.query("SELECT COUNT(*) FROM core_outbox WHERE status IN ('failed', 'expired')").at(0).integer(0);
    json items = json::array();
    for (const Row& r : s.query("SELECT id, COALESCE(broadcast_id, 0), adapter_id, channel, address, "
                                "COALESCE(person_id, 0), status, attempts, last_error, updated_at_ms FROM core_outbox "
                                "WHERE status IN ('failed', 'expired') ORDER BY id DESC LIMIT ? OFFSET ?",
                                {per_page, (page - 1) * per_page}))
      items.push_back({{"id", r.integer(0)},
                       {"broadcast_id", r.integer(1) > 0 ? json(r.integer(1)) : json(nullptr)},
                       {"adapter_id", r.text(2)},
                       {"channel", r.text(3)},
                       {"address", r.text(4)},
                       {"person_id", r.integer(5) > 0 ? json(r.integer(5)) : json(nullptr)},
                       {"status", r.text(6)},
                       {"attempts", r.integer(7)},
                       {"reason", r.text(8)},
                       {"at_ms", r.integer(9)}});
    return json{{"items", std::move(items)}, {"total", total}, {"page", page}, {"per_page", per_page}};
  });
}

void DeliveryEngine::report_delivery(const std::string& adapter_id, const std::string& provider_id, bool delivered,
                                     const std::string& error, std::function<void(bool)> stored) {
  if (provider_id.empty()) {
    if (stored) stored(true);  // nothing to record
    return;
  }
  const auto now_ms = to_ms(rules_.now());
  storage_.write_async(
      [this, adapter_id, provider_id, delivered, error, now_ms](Session& s) {
        if (apply_receipt(s, adapter_id, provider_id, delivered, error, now_ms) > 0) return;
        // The gateway was faster than our own record of the send: keep it for on_sent.
        std::lock_guard lock(receipts_mutex_);
        if (early_receipts_.size() < kMaxEarlyReceipts)
          early_receipts_[{adapter_id, provider_id}] = Receipt{delivered, error, now_ms};
      },
      [stored = std::move(stored)](std::exception_ptr e) {
        if (stored) stored(e == nullptr);
      });
}

void DeliveryEngine::wake_all() {
  for (auto& d : dispatchers_) d->wake(false);
}

std::int64_t DeliveryEngine::clock_went_back(std::chrono::milliseconds by) {
  const auto now_ms = to_ms(rules_.now());
  std::int64_t moved = 0;
  storage_.write_sync([&](Session& s) {
    moved = s.execute(
        "UPDATE core_outbox SET not_before_ms = MAX(?, not_before_ms - ?) WHERE status = 'queued' AND not_before_ms > "
        "?",
        {now_ms, static_cast<std::int64_t>(by.count()), now_ms});
  });
  wake_all();
  return moved;
}

json DeliveryEngine::health() {
  json out = json::object();
  for (auto& d : dispatchers_) out[d->id()] = d->health();
  return out;
}

}  // namespace villagebot::delivery

#include "modem.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "at.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::modem {

namespace {

using asio::awaitable;
using std::chrono::milliseconds;

// adapter_modem_sent: the TP-MR and recipient of every part sent, so that a +CDS status report
// (which carries only those) finds the part's id, also after a restart. Kept a week.
const char* const kSchemaV1 = R"sql(
CREATE TABLE adapter_modem_sent (
  adapter_id TEXT NOT NULL,
  reference INTEGER NOT NULL,
  recipient TEXT NOT NULL,
  provider_id TEXT NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  PRIMARY KEY (adapter_id, provider_id)
) WITHOUT ROWID;
CREATE INDEX adapter_modem_sent_reference ON adapter_modem_sent (adapter_id, reference, sent_at_ms);
CREATE TABLE adapter_modem_unreadable (
  id INTEGER PRIMARY KEY,
  adapter_id TEXT NOT NULL,
  pdu TEXT NOT NULL,
  error TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL
);
)sql";

// After offline_wait without a modem, the next attempt comes no sooner than this.
constexpr int kOfflineRetryS = 60;
const std::string kNotIncoming = "not an incoming message";
constexpr std::int64_t kKeepSentMs = 7LL * 24 * 3600 * 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string digits_tail(std::string_view number, std::size_t n) {
  std::string d;
  for (char c : number)
    if (c >= '0' && c <= '9') d.push_back(c);
  return d.size() > n ? d.substr(d.size() - n) : d;
}

struct SendState {
  std::promise<SendResult> promise;
  std::atomic<bool> done{false};
  std::atomic<bool> abandoned{false};
  void finish(SendResult r) {
    if (!done.exchange(true)) promise.set_value(std::move(r));
  }
};

// Storage work, off the serial line's thread (a slow commit must not stall the modem). One thread,
// so a sent part's TP-MR is recorded before a later status report looks it up.
class Worker {
 public:
  ~Worker() { stop(); }
  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || stopped_) return;
    thread_ = std::thread([this] { loop(); });
  }
  void post(std::function<void()> job) {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    queue_.push_back(std::move(job));
    cv_.notify_one();
  }
  // Runs what was queued, then ends.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace

struct Modem::Core : std::enable_shared_from_this<Modem::Core> {
  ModemSettings settings;
  AdapterContext* context = nullptr;
  std::unique_ptr<ModemLink> link;
  sms::ConcatReference references;
  // Its jobs use `this`: Modem::stop() ends the link, then the worker, before Core goes.
  Worker worker;
  std::atomic<std::int64_t> parts_sent{0};
  std::atomic<std::int64_t> received{0};

  // io thread only
  struct Part {
    std::string text;
    std::string sent;  // the service centre's time stamp digits
  };
  struct Group {
    std::string sender;
    std::uint16_t reference = 0;
    std::uint8_t total = 0;
    std::map<std::uint8_t, Part> parts;
    std::set<int> indexes;
    std::chrono::steady_clock::time_point first_seen;
  };
  // SIM slots submitted (or being set aside) until their AT+CMGD is done: a sweep or +CMTI meanwhile
  // must not read them again, and a slot freed earlier may hold a new message.
  std::set<int> in_flight;
  std::map<std::string, Group> groups;
  bool resweep_scheduled = false;

  spdlog::logger& log() { return context->logger(); }

  void post(std::function<awaitable<void>()> run) { link->post({std::move(run), nullptr}); }

  awaitable<void> send_parts(std::shared_ptr<SendState> state, std::vector<SubmitPdu> pdus, std::string to);
  void record_sent(const std::string& id, int reference, const std::string& to);
  awaitable<void> read_index(int index);
  awaitable<void> sweep();
  awaitable<void> consider(StoredPdu stored);
  void status_report(const std::string& pdu, int length);
  void post_remove(std::vector<int> indexes);
  awaitable<void> remove(std::vector<int> indexes);
  bool keep_unreadable(const std::string& pdu, const std::string& error);
  void submit_group(const std::string& key);
  void submit(const std::string& sender, std::string text, std::vector<int> indexes, std::string message_id);
  void expire_groups();
  void schedule_resweep();
};

awaitable<void> Modem::Core::send_parts(std::shared_ptr<SendState> state, std::vector<SubmitPdu> pdus, std::string to) {
  std::vector<std::string> ids;
  const auto stamp = std::to_string(now_ms());
  for (std::size_t i = 0; i < pdus.size(); ++i) {
    if (state->abandoned) co_return;
    const std::string part =
        pdus.size() > 1 ? "part " + std::to_string(i + 1) + "/" + std::to_string(pdus.size()) + ": " : std::string();
    AtResult r = co_await link->command_with_pdu("AT+CMGS=" + std::to_string(pdus[i].length), pdus[i].hex,
                                                 settings.send_timeout);
    int reference = -1;
    for (const auto& l : r.lines)
      if (auto mr = parse_cmgs(l)) reference = *mr;
    // Only a "+CMGS: <mr>" says the part went out; a bare OK may be another command's.
    if (r.ok() && reference >= 0) {
      // The id is unique over time although TP-MR wraps at 256: the send time is in it.
      const std::string id = std::to_string(reference) + ":" + to + ":" + stamp;
      if (settings.status_reports) record_sent(id, reference, to);
      ids.push_back(id);
      ++parts_sent;
      continue;
    }
    SendResult result;
    if (r.ok()) {
      result = SendResult::retryable(part + "调制解调器未给出发送编号 / the modem answered OK without +CMGS");
    } else if (r.status == AtResult::Status::error) {
      if (auto cms = error_number(r.final, "+CMS ERROR")) {
        const CmsVerdict v = cms_verdict(*cms);
        result = v.retry ? SendResult::retryable(part + v.reason) : SendResult::permanent(part + v.reason);
      } else {
        result = SendResult::retryable(part + "调制解调器拒绝发送 / the modem answered " + r.final);
      }
    } else if (r.status == AtResult::Status::timeout) {
      result = SendResult::retryable(part + "调制解调器未确认发送 / no answer to AT+CMGS within " +
                                     std::to_string(settings.send_timeout.count() / 1000) + " s");
    } else {
      result = SendResult::retryable(part + "调制解调器已断开 / the modem disconnected while sending");
    }
    log().warn("SMS to {} not sent: {}", text::mask_phone(to), result.error);
    state->finish(std::move(result));
    co_return;
  }
  state->finish(SendResult::ok_parts(std::move(ids)));
}

void Modem::Core::record_sent(const std::string& id, int reference, const std::string& to) {
  worker.post([this, id, reference, to] {
    try {
      const auto now = now_ms();
      context->storage().write([&](Session& s) {
        s.execute(
            "INSERT OR REPLACE INTO adapter_modem_sent (adapter_id, reference, recipient, provider_id, sent_at_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            {context->id(), std::int64_t{reference}, to, id, now});
        s.execute("DELETE FROM adapter_modem_sent WHERE adapter_id = ? AND sent_at_ms < ?",
                  {context->id(), now - kKeepSentMs});
      });
    } catch (const std::exception& e) {
      log().warn("cannot keep the reference of a sent SMS (its status report will not match): {}", e.what());
    }
  });
}

awaitable<void> Modem::Core::read_index(int index) {
  if (in_flight.contains(index)) co_return;
  AtResult r = co_await link->command("AT+CMGR=" + std::to_string(index));
  if (!r.ok()) {
    // A +CMTI said a message is there: whatever the reason, look again later.
    log().debug("AT+CMGR={}: {}", index, r.describe());
    schedule_resweep();
    co_return;
  }
  auto stored = parse_stored(r.lines);
  if (stored.empty()) {
    schedule_resweep();
    co_return;
  }
  stored.front().index = index;
  co_await consider(std::move(stored.front()));
}

awaitable<void> Modem::Core::sweep() {
  AtResult r = co_await link->command("AT+CMGL=4", milliseconds(30000));
  if (!r.ok()) {
    log().warn("cannot list the messages on the SIM (AT+CMGL=4): {}", r.describe());
    if (r.status != AtResult::Status::io_error) schedule_resweep();  // a reconnect lists it anyway
    co_return;
  }
  for (auto& stored : parse_stored(r.lines)) co_await consider(std::move(stored));
  expire_groups();
}

awaitable<void> Modem::Core::consider(StoredPdu stored) {
  if (stored.stat != 0 && stored.stat != 1) co_return;  // outgoing drafts on the SIM are not ours
  if (in_flight.contains(stored.index)) co_return;
  const PduKind kind = pdu_kind(stored.pdu, stored.length);
  if (kind == PduKind::status_report) {
    status_report(stored.pdu, stored.length);
    in_flight.insert(stored.index);
    co_await remove(std::vector<int>(1, stored.index));
    co_return;
  }
  std::string error;
  std::optional<Deliver> d;
  if (kind == PduKind::deliver) {
    d = decode_deliver(stored.pdu, error, stored.length);
  } else {
    error = kNotIncoming;
  }
  if (!d) {
    // Deleted from the SIM only once it is kept in the database.
    in_flight.insert(stored.index);
    worker.post([this, pdu = stored.pdu, error, index = stored.index] {
      const bool kept = keep_unreadable(pdu, error);
      link->dispatch([this, index, kept] {
        if (kept) {
          post_remove(std::vector<int>(1, index));
        } else {
          in_flight.erase(index);
          schedule_resweep();
        }
      });
    });
    co_return;
  }
  std::string sender = d->sender.value;
  if (!d->sender.alphanumeric()) sender = text::normalise_phone(sender).value_or(sender);
  if (d->concat && d->concat->total > 1) {
    const std::string key =
        sender + "|" + std::to_string(d->concat->reference) + "|" + std::to_string(d->concat->total);
    auto [it, created] = groups.try_emplace(key);
    Group& g = it->second;
    if (created) {
      g.sender = sender;
      g.reference = d->concat->reference;
      g.total = d->concat->total;
      g.first_seen = std::chrono::steady_clock::now();
    }
    g.parts[d->concat->sequence] = Part{d->text, d->sent.digits};
    g.indexes.insert(stored.index);
    if (g.parts.size() == g.total) submit_group(key);
    co_return;
  }
  const std::string id = sender + "/" + d->sent.digits + "/" + crypto::sha256_hex(d->udh + d->data).substr(0, 12);
  submit(sender, d->text, std::vector<int>(1, stored.index), id);
}

void Modem::Core::submit_group(const std::string& key) {
  auto it = groups.find(key);
  if (it == groups.end()) return;
  Group g = std::move(it->second);
  groups.erase(it);
  std::string text;
  for (int seq = 1; seq <= g.total; ++seq) {
    auto p = g.parts.find(static_cast<std::uint8_t>(seq));
    text += p != g.parts.end() ? p->second.text : std::string("…");
  }
  const std::string id = g.sender + "/" + g.parts.begin()->second.sent + "/c" + std::to_string(g.reference) + "-" +
                         std::to_string(g.total);
  submit(g.sender, std::move(text), std::vector<int>(g.indexes.begin(), g.indexes.end()), id);
}

void Modem::Core::expire_groups() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> stale;
  for (const auto& [key, g] : groups)
    if (now - g.first_seen >= settings.concat_wait) stale.push_back(key);
  for (const auto& key : stale) {
    log().warn("a long SMS from {} is still missing parts after {} s: submitting what came",
               text::mask_phone(groups[key].sender), settings.concat_wait.count() / 1000);
    submit_group(key);
  }
}

void Modem::Core::submit(const std::string& sender, std::string body, std::vector<int> indexes,
                         std::string message_id) {
  InboundMessage m;
  m.channel = ChannelKind::personal;
  m.identity_kind = "phone";
  m.sender = sender;
  m.text = std::move(body);
  m.message_id = std::move(message_id);
  m.received_at_ms = now_ms();
  for (int i : indexes) in_flight.insert(i);
  ++received;
  log().info("SMS from {} (SIM slots {}) submitted", text::mask_phone(sender), indexes.size());
  const InboundMessage kept = m;
  context->submit(std::move(m), [weak = weak_from_this(), kept, indexes](const SubmitResult& result) {
    auto core = weak.lock();
    if (!core) return;
    bool remove = true;
    switch (result.status) {
      case SubmitResult::Status::processed:
      case SubmitResult::Status::duplicate:
      case SubmitResult::Status::rate_limited:
        core->context->reply(kept, result.replies);
        break;
      case SubmitResult::Status::rejected:
        // Never accepted, whatever the number of tries: kept on the SIM it would only fill it.
        core->log().warn("the pipeline rejected an SMS from {}: {}; deleted from the SIM",
                         text::mask_phone(kept.sender), result.error);
        break;
      case SubmitResult::Status::unavailable:
        remove = false;
        core->log().warn("an SMS from {} could not be stored ({}); it stays on the SIM and is tried again",
                         text::mask_phone(kept.sender), result.error);
        break;
    }
    core->link->dispatch([core, indexes, remove] {
      if (remove) {
        core->post_remove(indexes);  // the slots leave in_flight once deleted
      } else {
        for (int i : indexes) core->in_flight.erase(i);
        core->schedule_resweep();
      }
    });
  });
}

void Modem::Core::schedule_resweep() {
  if (resweep_scheduled) return;
  resweep_scheduled = true;
  link->after(settings.resweep, [self = shared_from_this()] {
    self->resweep_scheduled = false;
    self->post([self] { return self->sweep(); });
  });
}

void Modem::Core::post_remove(std::vector<int> indexes) {
  auto self = shared_from_this();
  link->post({[self, indexes] { return self->remove(indexes); },
              [self, indexes] {
                // The line dropped first: the next sweep finds them again.
                for (int i : indexes) self->in_flight.erase(i);
              }});
}

awaitable<void> Modem::Core::remove(std::vector<int> indexes) {
  for (int i : indexes) {
    AtResult r = co_await link->command("AT+CMGD=" + std::to_string(i));
    if (!r.ok()) log().warn("cannot delete SIM slot {} (AT+CMGD): {}", i, r.describe());
    in_flight.erase(i);
  }
}

bool Modem::Core::keep_unreadable(const std::string& pdu, const std::string& error) {
  try {
    context->storage().write([&](Session& s) {
      s.execute("INSERT INTO adapter_modem_unreadable (adapter_id, pdu, error, received_at_ms) VALUES (?, ?, ?, ?)",
                {context->id(), pdu.substr(0, 1024), error, now_ms()});
    });
  } catch (const std::exception& e) {
    log().warn("an unreadable message on the SIM ({}) cannot be kept ({}): it stays on the SIM", error, e.what());
    return false;
  }
  log().warn("an unreadable message on the SIM ({}): kept in adapter_modem_unreadable and deleted from the SIM", error);
  return true;
}

void Modem::Core::status_report(const std::string& pdu, int length) {
  std::string error;
  auto report = decode_status_report(pdu, error, length);
  if (!report) {
    log().warn("an unreadable status report (+CDS): {}", error);
    return;
  }
  if (report->outcome == StatusReport::Outcome::pending) {
    log().debug("status report for TP-MR {}: {}", report->reference, report->reason);
    return;
  }
  worker.post([this, report = std::move(*report)] {
    std::string id;
    try {
      id = context->storage().read([&](Session& s) {
        const auto rows = s.query(
            "SELECT provider_id, recipient FROM adapter_modem_sent WHERE adapter_id = ? AND reference = ? "
            "ORDER BY sent_at_ms DESC LIMIT 16",
            {context->id(), std::int64_t{report.reference}});
        const std::string want = digits_tail(report.recipient.value, 8);
        for (const auto& row : rows)
          if (want.empty() || digits_tail(row.text(1), 8) == want) return row.text(0);
        return std::string();
      });
    } catch (const std::exception& e) {
      log().warn("cannot read the sent messages: {}", e.what());
      return;
    }
    if (id.empty()) {
      log().info("a status report for TP-MR {} matches no message sent from here", report.reference);
      return;
    }
    const bool delivered = report.outcome == StatusReport::Outcome::delivered;
    context->report_delivery(id, delivered, delivered ? std::string() : "未送达 / not delivered: " + report.reason);
    try {
      context->storage().write([&](Session& s) {
        s.execute("DELETE FROM adapter_modem_sent WHERE adapter_id = ? AND provider_id = ?", {context->id(), id});
      });
    } catch (const std::exception& e) {
      log().debug("cannot forget a reported message: {}", e.what());
    }
  });
}

Modem::Modem() : core_(std::make_shared<Core>()) {}

Modem::~Modem() {
  stop();
}

void Modem::configure(ConfigSection& config) {
  ModemSettings s;
  s.link.device = config.require_string("device");
  s.link.baud = static_cast<unsigned>(config.integer_or("baud", 115200, 300, 4000000));
  s.link.pin = config.string_or("pin", "");
  if (!s.link.pin.empty() && (s.link.pin.size() < 4 || s.link.pin.size() > 8 ||
                              s.link.pin.find_first_not_of("0123456789") != std::string::npos))
    config.error("pin", "must be the SIM's PIN, 4 to 8 digits (write it as \"${MODEM_PIN}\")");
  s.link.storage = config.string_or("storage", "SM");
  if (s.link.storage != "SM" && s.link.storage != "ME" && s.link.storage != "MT")
    config.error("storage", "must be \"SM\" (the SIM), \"ME\" (the modem) or \"MT\" (both)");
  s.smsc = config.string_or("smsc", "");
  if (!s.smsc.empty() &&
      (!s.smsc.starts_with("+") || s.smsc.size() < 4 || s.smsc.find_first_not_of("0123456789", 1) != std::string::npos))
    config.error("smsc", "must be the service centre's number in international form, e.g. \"+8613800100500\"");
  s.signature = config.string_or("signature", "");
  if (!text::valid_utf8(s.signature)) config.error("signature", "must be valid UTF-8");
  s.status_reports = config.boolean_or("status_reports", true);
  s.link.command_timeout = milliseconds(config.integer_or("command_timeout_ms", 5000, 100, 120000));
  s.send_timeout = milliseconds(config.integer_or("send_timeout_ms", 60000, 100, 600000));
  s.offline_wait = milliseconds(config.integer_or("offline_wait_ms", 30000, 0, 600000));
  s.link.reconnect_min = milliseconds(config.integer_or("reconnect_min_ms", 1000, 10, 600000));
  s.link.reconnect_max = milliseconds(config.integer_or("reconnect_max_ms", 60000, 10, 3600000));
  if (s.link.reconnect_max < s.link.reconnect_min) s.link.reconnect_max = s.link.reconnect_min;
  s.resweep = milliseconds(config.integer_or("resweep_ms", 30000, 10, 3600000));
  s.concat_wait = milliseconds(config.integer_or("concat_wait_s", 3600, 1, 7 * 86400) * 1000);
  core_->settings = std::move(s);
}

void Modem::start(AdapterContext& context) {
  core_->context = &context;
  context.storage().migrate("adapter.modem", {Migration{1, kSchemaV1}});
  Core* core = core_.get();
  ModemLink::Handlers handlers;
  handlers.ready = [core] {
    core->groups.clear();  // the SIM is listed again: it may be another SIM
    auto self = core->shared_from_this();
    core->post([self] { return self->sweep(); });
  };
  handlers.new_message = [core](int index) {
    auto self = core->shared_from_this();
    core->post([self, index] { return self->read_index(index); });
  };
  // Through the job queue, so that a +CDS is read after the send that produced it recorded its TP-MR.
  handlers.report = [core](std::string pdu, int length) {
    auto self = core->shared_from_this();
    core->post([self, pdu = std::move(pdu), length]() -> awaitable<void> {
      self->status_report(pdu, length);
      co_return;
    });
  };
  handlers.idle = [core] { core->expire_groups(); };
  core_->worker.start();
  core_->link = std::make_unique<ModemLink>(core_->settings.link, std::move(handlers), context.logger());
  core_->link->start();
}

void Modem::stop() {
  if (core_->link) core_->link->stop();
  core_->worker.stop();
}

SendResult Modem::send(const OutboundMessage& message) {
  Core& core = *core_;
  if (!core.link) return SendResult::retryable("the modem adapter has not started");
  std::string to = message.address;
  if (!to.starts_with("+")) to = text::normalise_phone(to).value_or(to);
  std::string error;
  SubmitOptions options;
  options.smsc = core.settings.smsc;
  options.status_report = core.settings.status_reports;
  auto pdus = encode_message(to, message.text, core.settings.signature, core.references.next8(), options, error);
  if (!pdus) return SendResult::permanent("短信无法编码 / cannot encode the SMS: " + error);
  // A modem being replugged is waited for here; a longer outage holds the message (not an
  // attempt), so however long the modem is away, nothing queued fails because of it.
  if (!core.link->wait_ready(core.settings.offline_wait)) {
    const auto h = core.link->health();
    return SendResult::gateway_down("调制解调器未连接 / the modem is not connected" +
                                        (h.contains("error") ? ": " + h["error"].get<std::string>() : std::string()),
                                    kOfflineRetryS);
  }
  const auto part_count = static_cast<int>(pdus->size());
  auto state = std::make_shared<SendState>();
  auto future = state->promise.get_future();
  auto self = core_;
  core.link->post({[self, state, pdus = std::move(*pdus), to] { return self->send_parts(state, pdus, to); },
                   [state] {
                     state->finish(SendResult::gateway_down(
                         "调制解调器已断开 / the modem disconnected before the SMS went out", kOfflineRetryS));
                   }});
  // Each command has its own deadline and a dropped line cancels the job: this bound only
  // guards against a modem that answers just often enough never to time out.
  const auto budget = (core.settings.send_timeout + core.settings.link.command_timeout) * (part_count + 8);
  if (future.wait_for(budget) != std::future_status::ready) {
    state->abandoned = true;
    state->finish(SendResult::retryable("调制解调器无响应 / the modem did not finish the send in time"));
  }
  return future.get();
}

nlohmann::json Modem::health() const {
  nlohmann::json h = core_->link ? core_->link->health() : nlohmann::json{{"state", "stopped"}};
  h["sms_parts_sent"] = core_->parts_sent.load();
  h["sms_received"] = core_->received.load();
  return h;
}

}  // namespace villagebot::adapters::modem

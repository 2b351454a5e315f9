#include "smpp.hpp"

#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

using namespace std::chrono;

std::uint8_t octet(ConfigSection& config, std::string_view key, std::uint8_t fallback) {
  return static_cast<std::uint8_t>(config.integer_or(key, fallback, 0, 255));
}

void check_length(ConfigSection& config, std::string_view key, const std::string& value, std::size_t max) {
  if (value.size() > max)
    config.error(key, "is longer than SMPP allows (" + std::to_string(max) + " characters) / 超过 SMPP 允许的长度");
}

std::string gsm7_octets(const std::string& utf8) {
  // Unpacked: one septet per octet, as SMPP carries data_coding 0.
  const auto septets = sms::gsm7_septets(utf8).value_or(std::vector<std::uint8_t>{});
  return std::string(septets.begin(), septets.end());
}

SendResult result_of(const smpp::SubmitOutcome& o, int throttle_retry_s) {
  using Kind = smpp::SubmitOutcome::Kind;
  switch (o.kind) {
    case Kind::ok:
      return SendResult::ok(o.message_id);
    case Kind::refused:
      // A fault of the SMSC itself may pass; a refusal of this message will not.
      if (o.status == smpp::status::system_error || o.status == smpp::status::submit_failed ||
          o.status == smpp::status::temporary_app_error)
        return SendResult::retryable("短信中心暂时无法接收 / the SMSC could not take it now: " +
                                     smpp::status_name(o.status));
      return SendResult::permanent("短信中心拒收 / the SMSC refused the message: " + smpp::status_name(o.status));
    case Kind::throttled:
      return SendResult::retryable(o.error, throttle_retry_s);
    case Kind::invalid:
      return SendResult::permanent(o.error);
    case Kind::not_bound:
      // No session to the SMSC (down, or refusing the bind): wait for it without using up attempts.
      return SendResult::gateway_down(o.error, 30);
    case Kind::disconnected:
    case Kind::timeout:
    case Kind::stopped:
      break;
  }
  return SendResult::retryable(o.error);
}

}  // namespace

std::optional<SmppAddress> smpp_destination(const std::string& address, const SmppSettings& settings) {
  const auto e164 = text::normalise_phone(address);
  if (!e164 || e164->size() < 2) return std::nullopt;
  SmppAddress out;
  out.npi = settings.dest_npi;
  if (settings.national_numbers && e164->starts_with("+86")) {
    out.digits = e164->substr(3);
    out.ton = settings.dest_ton;
  } else {
    out.digits = e164->substr(1);
    // A foreign number is international whatever the SMSC wants for its own country's.
    out.ton = settings.national_numbers ? std::uint8_t{1} : settings.dest_ton;
  }
  return out;
}

std::vector<smpp::Pdu> smpp_submits(const std::string& text, const SmppAddress& to, const SmppSettings& settings,
                                    sms::ConcatReference& references) {
  const auto segments = sms::split(text, settings.signature);
  std::vector<smpp::Pdu> out;
  if (segments.parts.empty()) return out;
  const bool gsm = segments.encoding == sms::Encoding::gsm7;
  auto octets = [gsm](const std::string& part) { return gsm ? gsm7_octets(part) : sms::ucs2_encode(part); };
  smpp::Pdu base;
  base.command_id = smpp::cmd::submit_sm;
  base.service_type = settings.service_type;
  base.source_addr_ton = settings.source_ton;
  base.source_addr_npi = settings.source_npi;
  base.source_addr = settings.source_addr;
  base.dest_addr_ton = to.ton;
  base.dest_addr_npi = to.npi;
  base.destination_addr = to.digits;
  base.registered_delivery = settings.registered_delivery ? 1 : 0;
  base.data_coding = gsm ? 0x00 : 0x08;
  const auto total = segments.parts.size();
  if (total == 1) {
    base.short_message = octets(segments.parts[0]);
    out.push_back(std::move(base));
    return out;
  }
  switch (settings.concatenation) {
    case SmppSettings::Concatenation::payload: {
      std::string whole;
      for (const auto& part : segments.parts) whole += octets(part);
      base.set_tlv(smpp::tag::message_payload, std::move(whole));
      out.push_back(std::move(base));
      return out;
    }
    case SmppSettings::Concatenation::udh: {
      const std::uint8_t ref = references.next8();
      for (std::size_t i = 0; i < total; ++i) {
        smpp::Pdu p = base;
        p.esm_class = smpp::kEsmUdhi;
        p.short_message = sms::udh_concat8(ref, static_cast<std::uint8_t>(total), static_cast<std::uint8_t>(i + 1)) +
                          octets(segments.parts[i]);
        out.push_back(std::move(p));
      }
      return out;
    }
    case SmppSettings::Concatenation::sar: {
      const std::uint16_t ref = references.next16();
      for (std::size_t i = 0; i < total; ++i) {
        smpp::Pdu p = base;
        p.short_message = octets(segments.parts[i]);
        p.set_tlv_integer(smpp::tag::sar_msg_ref_num, ref, 2);
        p.set_tlv_integer(smpp::tag::sar_total_segments, static_cast<std::uint32_t>(total), 1);
        p.set_tlv_integer(smpp::tag::sar_segment_seqnum, static_cast<std::uint32_t>(i + 1), 1);
        out.push_back(std::move(p));
      }
      return out;
    }
  }
  return out;
}

Smpp::~Smpp() {
  stop();
}

void Smpp::configure(ConfigSection& config) {
  settings_ = SmppSettings{};
  auto& s = settings_.session;
  s.host = config.require_string("host");
  s.port = static_cast<std::uint16_t>(config.integer_or("port", 2775, 1, 65535));
  s.system_id = config.require_string("system_id");
  s.password = config.require_string("password");
  s.system_type = config.string_or("system_type", "");
  s.address_range = config.string_or("address_range", "");
  check_length(config, "system_id", s.system_id, 15);
  check_length(config, "password", s.password, 8);
  check_length(config, "system_type", s.system_type, 12);
  check_length(config, "address_range", s.address_range, 40);
  s.window = static_cast<int>(config.integer_or("window", 10, 1, 1000));
  s.enquire_link = seconds(config.integer_or("enquire_link_s", 30, 1, 3600));
  s.response_timeout = milliseconds(config.integer_or("response_timeout_ms", 10000, 50, 120000));
  s.connect_timeout = milliseconds(config.integer_or("connect_timeout_ms", 5000, 50, 120000));
  s.reconnect_min = milliseconds(config.integer_or("reconnect_min_ms", 1000, 10, 3600000));
  s.reconnect_max = milliseconds(config.integer_or("reconnect_max_ms", 60000, 10, 3600000));
  if (s.reconnect_max < s.reconnect_min) config.error("reconnect_max_ms", "must not be below reconnect_min_ms");
  s.throttle_delay = milliseconds(config.integer_or("throttle_delay_ms", 1000, 1, 600000));
  s.throttle_retries = static_cast<int>(config.integer_or("throttle_retries", 5, 0, 100));
  s.bind_wait = milliseconds(config.integer_or("bind_wait_ms", 10000, 0, 600000));
  s.unbind_timeout = milliseconds(config.integer_or("unbind_timeout_ms", 1000, 10, 60000));

  settings_.signature = config.string_or("signature", "");
  const std::string concat = config.string_or("concatenation", "udh");
  if (concat == "udh")
    settings_.concatenation = SmppSettings::Concatenation::udh;
  else if (concat == "sar")
    settings_.concatenation = SmppSettings::Concatenation::sar;
  else if (concat == "payload")
    settings_.concatenation = SmppSettings::Concatenation::payload;
  else
    config.error("concatenation", "must be udh, sar or payload / 须为 udh、sar 或 payload");
  settings_.service_type = config.string_or("service_type", "");
  check_length(config, "service_type", settings_.service_type, 5);
  settings_.source_addr = config.string_or("source_addr", "");
  check_length(config, "source_addr", settings_.source_addr, 20);
  settings_.source_ton = octet(config, "source_ton", 0);
  settings_.source_npi = octet(config, "source_npi", 0);
  const std::string format = config.string_or("number_format", "international");
  if (format != "international" && format != "national")
    config.error("number_format",
                 "must be international (86138…, ton 1) or national (138…) / 须为 international 或 national");
  settings_.national_numbers = format == "national";
  settings_.dest_ton = octet(config, "dest_ton", settings_.national_numbers ? 2 : 1);
  settings_.dest_npi = octet(config, "dest_npi", 1);
  settings_.registered_delivery = config.boolean_or("registered_delivery", true);
  settings_.dedupe_window = seconds(config.integer_or("dedupe_window_s", 600, 0, 7 * 86400));
  settings_.parts_expire = seconds(config.integer_or("parts_expire_s", 86400, 60, 30 * 86400));
}

void Smpp::start(AdapterContext& context) {
  context_ = &context;
  context.storage().migrate(
      "adapter.smpp",
      {Migration{1,
                 "CREATE TABLE adapter_smpp_parts ("
                 "  adapter_id TEXT NOT NULL, source TEXT NOT NULL, reference INTEGER NOT NULL,"
                 "  total INTEGER NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, received_at_ms INTEGER NOT NULL,"
                 "  PRIMARY KEY (adapter_id, source, reference, total, seq));"
                 "CREATE TABLE adapter_smpp_inbound ("
                 "  adapter_id TEXT NOT NULL, fingerprint TEXT NOT NULL, message_id TEXT NOT NULL,"
                 "  acked_connection TEXT, seen_at_ms INTEGER NOT NULL,"
                 "  PRIMARY KEY (adapter_id, fingerprint));"
                 "CREATE INDEX adapter_smpp_inbound_seen ON adapter_smpp_inbound(seen_at_ms);"}});
  nonce_ = crypto::random_hex(8);
  jobs_ = std::make_shared<Jobs>();
  worker_ = std::thread([this] { worker_loop(); });
  std::shared_ptr<spdlog::logger> logger(&context.logger(), [](spdlog::logger*) {});
  session_ = std::make_unique<smpp::Session>(
      settings_.session,
      [this](smpp::Pdu pdu, std::uint64_t connection, smpp::Respond respond) {
        on_deliver(std::move(pdu), connection, std::move(respond));
      },
      logger);
  session_->start();
}

void Smpp::stop() {
  if (session_) session_->stop();
  {
    std::lock_guard lock(jobs_->mutex);
    jobs_->stopped = true;
    // Texts not yet answered are delivered again by the SMSC after the restart.
    jobs_->queue.clear();
  }
  jobs_->cv.notify_all();
  if (worker_.joinable()) worker_.join();
}

SendResult Smpp::send(const OutboundMessage& message) {
  if (!session_) return SendResult::retryable("the SMPP adapter is not started");
  const auto to = smpp_destination(message.address, settings_);
  if (!to)
    return SendResult::permanent("不是有效的手机号码 / not a valid phone number: " + text::mask_phone(message.address));
  auto pdus = smpp_submits(message.text, *to, settings_, references_);
  if (pdus.empty()) return SendResult::permanent("空短信 / an empty message");
  const int throttle_retry_s =
      static_cast<int>(std::max<std::int64_t>(1, duration_cast<seconds>(settings_.session.throttle_delay).count()));
  std::vector<std::string> ids;
  for (auto& pdu : pdus) {
    const auto o = session_->submit(std::move(pdu));
    if (o.kind != smpp::SubmitOutcome::Kind::ok) {
      if (!ids.empty())
        context_->logger().warn("part {} of {} to {} not taken ({}); the whole message is retried", ids.size() + 1,
                                pdus.size(), text::mask_phone(message.address), o.error);
      return result_of(o, throttle_retry_s);
    }
    ids.push_back(o.message_id.empty() ? std::string() : o.message_id);
  }
  return SendResult::ok_parts(std::move(ids));
}

nlohmann::json Smpp::health() const {
  nlohmann::json h = session_ ? session_->health() : nlohmann::json{{"state", "stopped"}};
  h["mo_messages"] = mo_messages_.load();
  h["mo_parts_stored"] = mo_parts_.load();
  h["receipts"] = receipts_.load();
  h["inbound_refused"] = rejected_in_.load();
  return h;
}

void Smpp::Jobs::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    queue.push_back(std::move(job));
  }
  cv.notify_one();
}

void Smpp::worker_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(jobs_->mutex);
      jobs_->cv.wait(lock, [this] { return jobs_->stopped || !jobs_->queue.empty(); });
      if (jobs_->stopped) return;
      job = std::move(jobs_->queue.front());
      jobs_->queue.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      context_->logger().error("SMPP inbound work failed: {}", e.what());
    }
  }
}

}  // namespace villagebot::adapters

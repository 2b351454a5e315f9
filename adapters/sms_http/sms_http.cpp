#include "sms_http.hpp"

#include <chrono>
#include <map>
#include <optional>

#include "callback.hpp"
#include "sms_callbacks.hpp"
#include "sms_gateway.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::sms_http {

namespace {

constexpr std::size_t kMaxCallbackBody = 64 * 1024;
constexpr std::int64_t kKeepPartsMs = 7LL * 24 * 3600 * 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool one_of(const std::string& value, const std::vector<std::string>& values) {
  const std::string v = text::ascii_lower(value);
  for (const auto& candidate : values)
    if (text::ascii_lower(candidate) == v) return true;
  return false;
}

// The server's own limit may be larger (a route can only raise it): ours is checked here too.
std::optional<HttpResponse> refused(const SmsHttpSettings& settings, const HttpRequest& request) {
  if (request.body.size() > kMaxCallbackBody)
    return HttpResponse::error(
        413, "body_too_large",
        "回调内容过大 / the callback body is larger than " + std::to_string(kMaxCallbackBody) + " bytes");
  if (!callback_authentic(settings, request))
    return HttpResponse::error(401, "bad_signature",
                               "回调未通过验证 / the callback's token or signature does not match");
  return std::nullopt;
}

HttpResponse bad_request(const std::string& why) {
  return HttpResponse::error(400, "bad_request", "回调格式不对 / malformed callback: " + why);
}

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m{{1,
                                         "CREATE TABLE adapter_sms_http_parts (\n"
                                         "  adapter_id TEXT NOT NULL,\n"
                                         "  message_key TEXT NOT NULL,\n"
                                         "  part INTEGER NOT NULL,\n"
                                         "  provider_id TEXT NOT NULL,\n"
                                         "  created_at_ms INTEGER NOT NULL,\n"
                                         "  PRIMARY KEY (adapter_id, message_key, part)\n"
                                         ");\n"}};
  return m;
}

}  // namespace

void SmsHttp::configure(ConfigSection& config) {
  settings_ = read_settings(config);
}

void SmsHttp::start(AdapterContext& context) {
  context_ = &context;
  context.storage().migrate("adapter.sms-http", migrations());
  const std::string id = context.id();
  const std::int64_t horizon = now_ms() - kKeepPartsMs;
  context.storage().write([&](Session& s) {
    s.execute("DELETE FROM adapter_sms_http_parts WHERE adapter_id = ? AND created_at_ms < ?", {id, horizon});
  });

  if (!settings_.report.enabled && !settings_.receive.enabled) return;
  if (settings_.auth == CallbackAuth::none)
    context.logger().warn(
        "!!! auth = \"none\": ANYONE who can reach /hooks/{}/ can mark messages delivered and send messages in the "
        "name of any villager. 回调未加验证：任何人都能冒充村民发短信。Use auth = \"token\" or \"hmac\" with a "
        "secret. !!!",
        id);
  for (const char* method : {"GET", "POST"}) {
    if (settings_.report.enabled)
      routes_.push_back(add_callback_route(
          context, method, "report", "SMS delivery reports from the gateway (sms-http)", kMaxCallbackBody,
          [this](const HttpRequest& req, const Responder& respond) { handle_report(req, respond); }));
    if (settings_.receive.enabled)
      routes_.push_back(add_callback_route(
          context, method, "receive", "Inbound SMS from the gateway (sms-http)", kMaxCallbackBody,
          [this](const HttpRequest& req, const Responder& respond) { handle_receive(req, respond); }));
  }
}

void SmsHttp::handle_report(const HttpRequest& request, const Responder& respond) {
  if (auto refusal = refused(settings_, request)) return respond(*refusal);
  std::string error;
  const auto reports = callback_fields(request, error, query_trusted(settings_, request));
  if (reports.empty()) return respond(bad_request(error));
  const auto& r = settings_.report;
  std::vector<Receipt> receipts;
  // Every report is checked before any is applied: a malformed batch changes nothing.
  for (const auto& fields : reports) {
    const auto id = fields.get(r.id_field);
    const auto status = fields.get(r.status_field);
    if (!id || id->empty()) return respond(bad_request("no " + r.id_field));
    if (!status) return respond(bad_request("no " + r.status_field));
    if (one_of(*status, r.delivered_values)) {
      receipts.push_back({*id, true, {}});
    } else if (one_of(*status, r.failed_values)) {
      std::string why = "短信未送达 / not delivered: " + *status;
      if (!r.error_field.empty())
        if (auto e = fields.get(r.error_field); e && !e->empty()) why += " (" + *e + ")";
      receipts.push_back({*id, false, quote_gateway(why)});
    }
    // Any other status (accepted, enroute …) is a step on the way: nothing to record.
  }
  report_and_answer(*context_, receipts, respond, HttpResponse::text(200, r.response));
}

void SmsHttp::handle_receive(const HttpRequest& request, const Responder& respond) {
  if (auto refusal = refused(settings_, request)) return respond(*refusal);
  std::string error;
  const auto messages = callback_fields(request, error, query_trusted(settings_, request));
  if (messages.empty()) return respond(bad_request(error));
  if (messages.size() != 1) return respond(bad_request("one message per request"));
  const auto& fields = messages.front();
  const auto& r = settings_.receive;
  const auto from = fields.get(r.from_field);
  if (!from || from->empty()) return respond(bad_request("no " + r.from_field));
  const auto e164 = text::normalise_phone(*from);
  if (!e164) return respond(bad_request(r.from_field + " is not a phone number"));
  const auto body = fields.get(r.text_field);
  if (!body || text::trim(*body).empty()) return respond(bad_request("no " + r.text_field));
  InboundMessage message;
  message.channel = ChannelKind::personal;
  message.identity_kind = "phone";
  message.sender = *e164;
  message.text = *body;
  message.received_at_ms = now_ms();
  if (!r.id_field.empty()) {
    const auto id = fields.get(r.id_field);
    if (!id || id->empty()) return respond(bad_request("no " + r.id_field));
    message.message_id = *id;
  } else {
    message.message_id = "sms-http-" + crypto::random_hex(12);
  }
  submit_and_reply(*context_, std::move(message), respond,
                   HttpResponse::text(200, r.response, r.response_content_type));
}

SendResult SmsHttp::send_one(const std::string& e164, const std::string& text, const std::string& id, std::size_t part,
                             std::size_t parts) {
  const auto request = build_request(settings_, request_values(settings_, e164, text, id, part, parts));
  const auto verdict = evaluate(settings_, context_->http_client().request(request), id);
  if (!verdict.id_found)
    context_->logger().warn(
        "the gateway took the message but its answer has no message id where message_id says; "
        "receipts are matched by our id {}",
        id);
  return verdict.result;
}

SendResult SmsHttp::send_parts(const std::string& e164, const std::vector<std::string>& texts, const std::string& key) {
  const std::string adapter = context_->id();
  auto& storage = context_->storage();
  std::map<std::int64_t, std::string> taken;
  try {
    storage.read([&](Session& s) {
      for (const auto& row :
           s.query("SELECT part, provider_id FROM adapter_sms_http_parts WHERE adapter_id = ? AND message_key = ?",
                   {adapter, key}))
        taken[row.integer(0)] = row.text(1);
    });
  } catch (const StorageError& e) {
    // Going on without the list would send again the parts the gateway already took.
    return SendResult::retryable("无法读取已发送的分段 / cannot read the parts already sent: " + std::string(e.what()));
  }
  auto forget = [&] {
    try {
      storage.write([&](Session& s) {
        s.execute("DELETE FROM adapter_sms_http_parts WHERE adapter_id = ? AND message_key = ?", {adapter, key});
      });
    } catch (const StorageError& e) {
      context_->logger().warn("cannot forget the parts of {}: {}", key, e.what());
    }
  };
  std::vector<std::string> ids;
  const std::size_t n = texts.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto part = static_cast<std::int64_t>(i + 1);
    if (auto it = taken.find(part); it != taken.end()) {
      ids.push_back(it->second);
      continue;
    }
    auto result = send_one(e164, texts[i], key + "-" + std::to_string(part), i + 1, n);
    if (result.status != SendResult::Status::sent) {
      result.error = "第" + std::to_string(part) + "/" + std::to_string(n) + "条 / part " + std::to_string(part) + "/" +
                     std::to_string(n) + ": " + result.error;
      if (result.status == SendResult::Status::failed) forget();
      return result;
    }
    try {
      storage.write([&](Session& s) {
        s.execute(
            "INSERT INTO adapter_sms_http_parts (adapter_id, message_key, part, provider_id, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            {adapter, key, part, result.provider_id, now_ms()});
      });
    } catch (const StorageError& e) {
      // The part is with the gateway; if a later part fails, a retry may send this one again.
      context_->logger().warn("cannot remember part {} of {}: {}", part, key, e.what());
    }
    ids.push_back(result.provider_id);
  }
  // The rows stay until the start() cleanup a week later: should the process stop before the
  // dispatcher records this outcome, the retry finds every part taken and sends none again.
  return SendResult::ok_parts(std::move(ids));
}

SendResult SmsHttp::send(const OutboundMessage& message) {
  const auto e164 = text::normalise_phone(message.address);
  if (!e164) return SendResult::permanent("不是手机号 / not a phone number: " + text::mask_phones_in(message.address));
  const auto texts = message_texts(settings_, message.text);
  const std::string key = message.idempotency_key.empty() ? "vb-" + crypto::random_hex(8) : message.idempotency_key;
  if (texts.size() == 1) return send_one(*e164, texts.front(), key, 1, 1);
  return send_parts(*e164, texts, key);
}

}  // namespace villagebot::adapters::sms_http

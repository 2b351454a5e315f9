#include "generic_webhook.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The answer to a message: {["duplicate":true,]"replies":[{"text":"..."}]}, written directly
// (the same text as nlohmann's) rather than through a JSON tree: one per message, on the path
// every villager waits on.
HttpResponse answer(const Replies& replies, bool duplicate) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  std::size_t size = 32;
  for (const auto& reply : replies) size += reply.text.size() + 16;
  r.body.reserve(size);
  r.body = duplicate ? R"({"duplicate":true,"replies":[)" : R"({"replies":[)";
  for (std::size_t i = 0; i < replies.size(); ++i) {
    r.body += i == 0 ? R"({"text":)" : R"(,{"text":)";
    text::append_json_string(r.body, replies[i].text);
    r.body += '}';
  }
  r.body += "]}";
  return r;
}

}  // namespace

std::string sign_generic(const std::string& secret, const std::string& timestamp, const std::string& body) {
  return "sha256=" + crypto::to_hex(crypto::hmac_sha256(secret, timestamp + "." + body));
}

std::optional<std::string> verify_generic(const GenericWebhookSettings& settings, const HttpRequest& request,
                                          std::int64_t now_s) {
  if (settings.secret.empty()) return std::nullopt;
  const std::string timestamp = request.header("x-villagebot-timestamp");
  const std::string signature = request.header("x-villagebot-signature");
  if (timestamp.empty() || signature.empty())
    return "this webhook is signed: send X-Villagebot-Timestamp and X-Villagebot-Signature";
  std::int64_t ts = 0;
  const auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc{} || end != timestamp.data() + timestamp.size())
    return "X-Villagebot-Timestamp must be unix seconds";
  if (ts < now_s - settings.max_skew_s || ts > now_s + settings.max_skew_s)
    return "the signature timestamp is more than " + std::to_string(settings.max_skew_s) +
           " s away from the server's clock (max_skew_s)";
  if (!crypto::constant_time_equal(signature, sign_generic(settings.secret, timestamp, request.body)))
    return "the signature does not match";
  return std::nullopt;
}

namespace {

// The four fields of the body, read by a SAX pass over it (no JSON tree: one per message, on
// the network thread). Values of other keys, nested anywhere, are checked as JSON and dropped.
class GenericBody final : public nlohmann::json_sax<nlohmann::json> {
 public:
  enum class Seen { absent, null, string, other };
  struct Field {
    Seen seen = Seen::absent;
    std::string value;
  };
  Field message_id, sender, text, chat;
  bool object = false;  // the top level is an object

  bool null() override { return scalar(Seen::null, nullptr); }
  bool boolean(bool /*unused*/) override { return scalar(Seen::other, nullptr); }
  bool number_integer(number_integer_t /*unused*/) override { return scalar(Seen::other, nullptr); }
  bool number_unsigned(number_unsigned_t /*unused*/) override { return scalar(Seen::other, nullptr); }
  bool number_float(number_float_t /*unused*/, const string_t& /*unused*/) override {
    return scalar(Seen::other, nullptr);
  }
  bool string(string_t& value) override { return scalar(Seen::string, &value); }
  bool binary(binary_t& /*unused*/) override { return scalar(Seen::other, nullptr); }
  bool start_object(std::size_t /*unused*/) override {
    if (depth_ == 0) object = true;
    return open();
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*unused*/) override { return open(); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    if (depth_ == 1)
      current_ = name == "message_id" ? &message_id
                 : name == "sender"   ? &sender
                 : name == "text"     ? &text
                 : name == "chat"     ? &chat
                                      : nullptr;
    return true;
  }
  bool parse_error(std::size_t /*unused*/, const std::string& /*unused*/,
                   const nlohmann::detail::exception& /*unused*/) override {
    return false;
  }

 private:
  // A value of a top-level key: the last one of a repeated key counts, as in a JSON tree.
  bool scalar(Seen seen, string_t* value) {
    if (depth_ == 1 && current_ != nullptr) {
      current_->seen = seen;
      if (value != nullptr)
        current_->value = std::move(*value);
      else
        current_->value.clear();
      current_ = nullptr;
    }
    return true;
  }
  bool open() {
    if (depth_ == 1 && current_ != nullptr) scalar(Seen::other, nullptr);  // an object or array: not a string
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  Field* current_ = nullptr;
};

}  // namespace

std::optional<InboundMessage> parse_generic(const std::string& body, std::string& error) {
  GenericBody doc;
  if (!nlohmann::json::sax_parse(body, &doc)) {
    error = "the body is not valid JSON";
    return std::nullopt;
  }
  if (!doc.object) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  auto field = [&](const char* name, bool required, GenericBody::Field& f, std::string& out) {
    if (f.seen == GenericBody::Seen::absent || f.seen == GenericBody::Seen::null) {
      if (required) error = std::string("\"") + name + "\" is required";
      return !required;
    }
    if (f.seen != GenericBody::Seen::string) {
      error = std::string("\"") + name + "\" must be a string";
      return false;
    }
    out = std::move(f.value);
    if (required && out.empty()) {
      error = std::string("\"") + name + "\" must not be empty";
      return false;
    }
    return true;
  };
  InboundMessage m;
  if (!field("message_id", true, doc.message_id, m.message_id) || !field("sender", true, doc.sender, m.sender) ||
      !field("text", false, doc.text, m.text) || !field("chat", false, doc.chat, m.chat_id))
    return std::nullopt;
  if (doc.text.seen == GenericBody::Seen::absent) {
    error = "\"text\" is required";
    return std::nullopt;
  }
  m.channel = m.chat_id.empty() ? ChannelKind::personal : ChannelKind::group;
  m.identity_kind = "phone";
  return m;
}

void GenericWebhook::configure(ConfigSection& config) {
  settings_.secret = config.string_or("secret", "");
  settings_.reply_url = config.string_or("reply_url", "");
  settings_.sms = config.boolean_or("sms", false);
  settings_.identity = config.string_or("identity", "phone");
  if (settings_.identity != "phone" && settings_.identity != "wecom" && settings_.identity != "dingtalk" &&
      settings_.identity != "feishu" && settings_.identity != "telegram" && settings_.identity != "slack")
    config.error("identity", "must be phone, wecom, dingtalk, feishu, telegram or slack");
  if (settings_.sms && settings_.identity != "phone") config.error("identity", "an SMS gateway knows people by phone");
  settings_.send_timeout_ms = config.integer_or("send_timeout_ms", settings_.send_timeout_ms, 10, 600000);
  settings_.max_skew_s = config.integer_or("max_skew_s", 300, 1, 3600);
  if (!settings_.reply_url.empty() && settings_.reply_url.rfind("http://", 0) != 0 &&
      settings_.reply_url.rfind("https://", 0) != 0)
    config.error("reply_url", "must be an http:// or https:// URL");
}

void GenericWebhook::start(AdapterContext& context) {
  context_ = &context;
  if (settings_.secret.empty())
    context.logger().warn("no secret set: anyone who can reach /hooks/{} can speak for any phone number", context.id());
  RouteSpec spec;
  spec.method = "POST";
  spec.path = "";
  spec.summary = "Generic webhook: {\"message_id\",\"sender\",\"text\"[,\"chat\"]} → {\"replies\":[{\"text\"}]}";
  spec.non_blocking = true;  // verifies, parses and submits; never waits
  spec.handler = [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); };
  route_ = context.routes().add(std::move(spec));

  // Delivery receipts for what send() posted to reply_url:
  // {"id": "<the id reply_url answered>", "status": "delivered"|"failed", "error": "..."}.
  RouteSpec status;
  status.method = "POST";
  status.path = "status";
  status.summary = "Generic webhook delivery receipt: {\"id\",\"status\":\"delivered\"|\"failed\"[,\"error\"]}";
  status.non_blocking = true;
  status.handler = [this](const HttpRequest& req, const Responder& respond) { handle_status(req, respond); };
  status_route_ = context.routes().add(std::move(status));
}

void GenericWebhook::handle_status(const HttpRequest& request, const Responder& respond) {
  if (auto why = verify_generic(settings_, request, unix_now())) {
    respond(HttpResponse::error(401, "bad_signature", *why));
    return;
  }
  const auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("id") || !body["id"].is_string() || !body.contains("status") ||
      !body["status"].is_string() || (body["status"] != "delivered" && body["status"] != "failed")) {
    respond(
        HttpResponse::error(400, "bad_request", "expected {\"id\": string, \"status\": \"delivered\" or \"failed\"}"));
    return;
  }
  const std::string error = body.contains("error") && body["error"].is_string() ? body["error"].get<std::string>() : "";
  // Answered once the receipt is written: a gateway told 503 sends it again.
  context_->report_delivery_stored(
      body["id"].get<std::string>(), body["status"] == "delivered", error, [respond](bool stored) {
        respond(stored ? HttpResponse::json(200, {{"ok", true}})
                       : HttpResponse::error(503, "unavailable", "the receipt could not be stored"));
      });
}

void GenericWebhook::handle(const HttpRequest& request, const Responder& respond) {
  if (auto why = verify_generic(settings_, request, unix_now())) {
    respond(HttpResponse::error(401, "bad_signature", *why));
    return;
  }
  std::string error;
  auto message = parse_generic(request.body, error);
  if (!message) {
    respond(HttpResponse::error(400, "bad_request", error));
    return;
  }
  message->identity_kind = settings_.identity;
  context_->submit(std::move(*message), [respond](const SubmitResult& result) {
    switch (result.status) {
      case SubmitResult::Status::processed:
      case SubmitResult::Status::rate_limited:
        respond(answer(result.replies, false));
        return;
      case SubmitResult::Status::duplicate:
        respond(answer(result.replies, true));
        return;
      case SubmitResult::Status::rejected:
        respond(HttpResponse::error(400, "bad_request", result.error));
        return;
      case SubmitResult::Status::unavailable:
        respond(HttpResponse::error(503, "unavailable", result.error));
        return;
    }
  });
}

SendResult GenericWebhook::send(const OutboundMessage& message) {
  if (settings_.reply_url.empty())
    return SendResult::permanent("adapter " + (context_ ? context_->id() : std::string("?")) +
                                 " has no reply_url configured");
  static std::atomic<std::uint64_t> counter{0};
  nlohmann::json body{{"message_id", message.idempotency_key.empty()
                                         ? "vb-" + std::to_string(unix_now()) + "-" + std::to_string(++counter)
                                         : message.idempotency_key},
                      {"text", message.text}};
  if (message.channel == ChannelKind::group)
    body["chat"] = message.address;
  else
    body["recipient"] = message.address;
  ClientRequest req;
  req.url = settings_.reply_url;
  req.timeout = std::chrono::milliseconds(settings_.send_timeout_ms);
  req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.headers = {{"Content-Type", "application/json"}};
  if (!message.idempotency_key.empty()) req.headers.emplace_back("Idempotency-Key", message.idempotency_key);
  if (!settings_.secret.empty()) {
    const std::string ts = std::to_string(unix_now());
    req.headers.emplace_back("X-Villagebot-Timestamp", ts);
    req.headers.emplace_back("X-Villagebot-Signature", sign_generic(settings_.secret, ts, req.body));
  }
  const auto res = context_->http_client().request(req);
  if (res.status == 0) return unreachable_or_retry(res, res.error);
  if (res.status >= 200 && res.status < 300) {
    // The receiver's id for this message, if it gives one: receipts refer to it.
    const auto answer = nlohmann::json::parse(res.body, nullptr, false);
    if (answer.is_object() && answer.contains("id") && answer["id"].is_string())
      return SendResult::ok(answer["id"].get<std::string>());
    return SendResult::ok();
  }
  if (res.status == 429 || res.status >= 500) {
    int retry_after = 0;
    for (const auto& [name, value] : res.headers)
      if (text::ascii_lower(name) == "retry-after") retry_after = std::atoi(value.c_str());
    return SendResult::retryable("reply_url answered " + std::to_string(res.status), std::max(0, retry_after));
  }
  return SendResult::permanent("reply_url answered " + std::to_string(res.status) + ": " + res.body.substr(0, 200));
}

nlohmann::json GenericWebhook::health() const {
  return {{"state", "running"}, {"signed", !settings_.secret.empty()}, {"reply_url", !settings_.reply_url.empty()}};
}

}  // namespace villagebot::adapters

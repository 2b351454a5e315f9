#include "feishu.hpp"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "chat_crypto.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

// "@_user_1 积分" → "积分": Feishu writes each mention in the text as @_user_ and a number.
std::string without_mentions(std::string text) {
  for (auto a = text.find("@_user_"); a != std::string::npos; a = text.find("@_user_")) {
    auto b = a + 7;
    while (b < text.size() && text[b] >= '0' && text[b] <= '9') ++b;
    text.erase(a, b - a);
  }
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : text.substr(first);
}

}  // namespace

FeishuEvent feishu_parse_event(const FeishuSettings& s, const HttpRequest& request) {
  json j = json::parse(request.body, nullptr, false);
  if (!j.is_object()) return {400, "expected a Feishu event (a JSON object)", {}, {}};
  const bool encrypted = j.contains("encrypt");
  if (!s.encrypt_key.empty()) {
    if (!encrypted || !j["encrypt"].is_string()) return {401, "events must be encrypted with the encrypt key", {}, {}};
    const std::string signature = request.header("x-lark-signature");
    const bool signed_request = !signature.empty();
    if (signed_request &&
        !crypto::constant_time_equal(
            feishu_event_signature(request.header("x-lark-request-timestamp"), request.header("x-lark-request-nonce"),
                                   s.encrypt_key, request.body),
            signature))
      return {401, "X-Lark-Signature does not match", {}, {}};
    const auto plain = feishu_decrypt(s.encrypt_key, j["encrypt"].get<std::string>());
    if (!plain) return {401, "the event does not decrypt with the encrypt key", {}, {}};
    j = json::parse(*plain, nullptr, false);
    if (!j.is_object()) return {400, "the decrypted event is not JSON", {}, {}};
    // Only the URL check comes unsigned; a message must be signed.
    if (!signed_request && string_member(j, "type") != "url_verification")
      return {401, "an event without X-Lark-Signature", {}, {}};
  } else if (encrypted) {
    return {400, "an encrypted event, but no encrypt_key is configured", {}, {}};
  }
  const std::string token =
      j.contains("header") && j["header"].is_object() ? string_member(j["header"], "token") : string_member(j, "token");
  if (!s.verification_token.empty() && !crypto::constant_time_equal(token, s.verification_token))
    return {401, "the verification token does not match", {}, {}};
  FeishuEvent out;
  if (string_member(j, "type") == "url_verification") {
    out.challenge = string_member(j, "challenge");
    if (out.challenge.empty()) return {400, "url_verification without a challenge", {}, {}};
    return out;
  }
  if (!j.contains("header") || !j["header"].is_object() ||
      string_member(j["header"], "event_type") != "im.message.receive_v1" || !j.contains("event") ||
      !j["event"].is_object())
    return out;  // other events: acknowledged
  const json& e = j["event"];
  if (!e.contains("sender") || !e["sender"].is_object() || string_member(e["sender"], "sender_type") != "user")
    return out;
  if (!e.contains("message") || !e["message"].is_object()) return {400, "an event without its message", {}, {}};
  const json& msg = e["message"];
  if (string_member(msg, "message_type") != "text") return out;
  const json content = json::parse(string_member(msg, "content"), nullptr, false);
  const json sender_id = e["sender"].value("sender_id", json::object());
  const std::string open_id = string_member(sender_id, "open_id");
  if (!content.is_object() || !content.contains("text") || !content["text"].is_string() || open_id.empty())
    return {400, "a text message without its text or sender", {}, {}};
  InboundMessage m;
  m.identity_kind = "feishu";
  m.sender = open_id;
  m.text = without_mentions(content["text"].get<std::string>());
  m.channel = string_member(msg, "chat_type") == "p2p" ? ChannelKind::personal : ChannelKind::group;
  if (m.channel == ChannelKind::group) m.chat_id = string_member(msg, "chat_id");
  m.message_id = msg.contains("message_id") ? string_member(msg, "message_id") : string_member(j["header"], "event_id");
  if (m.message_id.empty()) return {400, "a message without its id", {}, {}};
  out.message = std::move(m);
  return out;
}

SendResult feishu_result(const ClientResponse& response, bool* token_invalid) {
  if (response.status == 0) return unreachable_or_retry(response, "Feishu unreachable: " + response.error);
  if (response.status >= 500) return SendResult::retryable("Feishu answered HTTP " + std::to_string(response.status));
  const json body = json::parse(response.body, nullptr, false);
  if (!body.is_object()) return SendResult::permanent("Feishu answered HTTP " + std::to_string(response.status));
  // The messaging API says "code"; old bot webhooks say "StatusCode".
  const auto code = body.contains("code") ? integer_member(body, "code", -1) : integer_member(body, "StatusCode", -1);
  const std::string message = "Feishu code " + std::to_string(code) + ": " + string_member(body, "msg");
  if (code == 0) {
    std::string id;
    if (body.contains("data") && body["data"].is_object()) id = string_member(body["data"], "message_id");
    return SendResult::ok(id);
  }
  if (response.status == 429 || code == 9499 || code == 11232 || code == 99991400)
    return SendResult::retryable(message + " (rate limited)", 1);
  if (code == 99991663 || code == 99991661 || code == 99991668) {
    if (token_invalid != nullptr) *token_invalid = true;
    return SendResult::retryable(message + " (tenant access token)");
  }
  return SendResult::permanent(message);
}

void Feishu::configure(ConfigSection& config) {
  settings_ = FeishuSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  settings_.app_id = config.string_or("app_id", "");
  settings_.app_secret = config.string_or("app_secret", "");
  settings_.verification_token = config.string_or("verification_token", "");
  settings_.encrypt_key = config.string_or("encrypt_key", "");
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  if (settings_.app_id.empty() != settings_.app_secret.empty())
    config.error("app_secret", "the messaging API needs both app_id and app_secret");
  for (auto& r : config.tables("robots")) {
    FeishuRobot robot{{r->require_string("chat_id"), r->string_or("name", ""), r->string_or("org_unit", "")},
                      r->require_string("webhook_url"),
                      r->string_or("secret", "")};
    if (!robot.webhook_url.starts_with("https://") && !robot.webhook_url.starts_with("http://"))
      r->error("webhook_url", "must be the bot's https:// webhook address");
    settings_.robots.push_back(std::move(robot));
  }
  if (!settings_.app() && settings_.robots.empty())
    config.error("", "configure the app (app_id, app_secret) and/or robots ([[adapters.robots]])");
}

std::vector<GroupChat> Feishu::group_chats() const {
  std::vector<GroupChat> out;
  for (const auto& r : settings_.robots) out.push_back(r.chat);
  return out;
}

void Feishu::start(AdapterContext& context) {
  context_ = &context;
  if (!settings_.events()) return;
  route_ = add_callback_route(
      context, "POST", "events",
      "Feishu event subscription (encrypted, X-Lark-Signature and the verification token checked)", 256 * 1024,
      [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); });
}

void Feishu::handle(const HttpRequest& request, const Responder& respond) {
  auto event = feishu_parse_event(settings_, request);
  if (event.status != 200)
    return respond(
        HttpResponse::error(event.status, event.status == 401 ? "bad_signature" : "bad_request", event.error));
  if (!event.challenge.empty()) return respond(HttpResponse::json(200, {{"challenge", event.challenge}}));
  if (!event.message) return respond(HttpResponse::json(200, json::object()));
  submit_and_reply(*context_, *event.message, respond, HttpResponse::json(200, json::object()));
}

std::string Feishu::tenant_token(bool refresh, std::string* error) {
  std::lock_guard lock(token_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!refresh && !token_.empty() && now < token_expires_) return token_;
  ClientRequest req;
  req.url = settings_.api_base + "/open-apis/auth/v3/tenant_access_token/internal";
  req.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  req.body = json{{"app_id", settings_.app_id}, {"app_secret", settings_.app_secret}}.dump();
  req.timeout = settings_.timeout;
  const auto res = context_->http_client().request(req);
  const json body = json::parse(res.body, nullptr, false);
  if (res.status != 200 || !body.is_object() || body.value("code", -1) != 0 || !body.contains("tenant_access_token") ||
      !body["tenant_access_token"].is_string()) {
    *error = res.status == 0
                 ? "Feishu unreachable: " + res.error
                 : "Feishu gave no tenant access token (" +
                       (body.is_object()
                            ? "code " + std::to_string(body.value("code", -1)) + ": " + body.value("msg", std::string())
                            : "HTTP " + std::to_string(res.status)) +
                       ")";
    token_.clear();
    return {};
  }
  token_ = body["tenant_access_token"].get<std::string>();
  const auto valid = std::max<std::int64_t>(60, body.value("expire", std::int64_t{7200}) - 300);
  token_expires_ = now + std::chrono::seconds(valid);
  return token_;
}

SendResult Feishu::send(const OutboundMessage& message) {
  if (message.channel == ChannelKind::group) {
    const auto robot = std::find_if(settings_.robots.begin(), settings_.robots.end(),
                                    [&](const FeishuRobot& r) { return r.chat.chat_id == message.address; });
    if (robot != settings_.robots.end()) {
      json body{{"msg_type", "text"}, {"content", {{"text", message.text}}}};
      if (!robot->secret.empty()) {
        const std::string ts = std::to_string(static_cast<std::int64_t>(std::time(nullptr)));
        body["timestamp"] = ts;
        body["sign"] = feishu_bot_sign(robot->secret, ts);
      }
      ClientRequest req;
      req.url = robot->webhook_url;
      req.headers = {{"Content-Type", "application/json; charset=utf-8"}};
      req.body = body.dump();
      req.timeout = settings_.timeout;
      return feishu_result(context_->http_client().request(req));
    }
  }
  if (!settings_.app()) return SendResult::permanent("no Feishu bot for " + message.address + " and no app configured");
  const std::string id_type = message.channel == ChannelKind::group ? "chat_id" : "open_id";
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string error;
    const std::string token = tenant_token(attempt > 0, &error);
    if (token.empty()) return SendResult::retryable(error);
    ClientRequest req;
    req.url = settings_.api_base + "/open-apis/im/v1/messages?receive_id_type=" + id_type;
    req.headers = {{"Content-Type", "application/json; charset=utf-8"}, {"Authorization", "Bearer " + token}};
    req.body =
        json{{"receive_id", message.address}, {"msg_type", "text"}, {"content", json{{"text", message.text}}.dump()}}
            .dump();
    req.timeout = settings_.timeout;
    bool token_invalid = false;
    auto result = feishu_result(context_->http_client().request(req), &token_invalid);
    if (!token_invalid) return result;
  }
  return SendResult::retryable("Feishu refused a fresh tenant access token");
}

}  // namespace villagebot::adapters

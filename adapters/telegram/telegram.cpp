#include "telegram.hpp"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "chat_crypto.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

// Telegram takes at most 4096 characters (UTF-16 units; counted here in code points, which is
// never more for the Chinese and Latin text sent).
std::string fit(const std::string& text, std::size_t limit = 4096) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > limit - 1) return text.substr(0, i) + "…";
  }
  return text;
}

// true only for a JSON `true` (string_member and integer_member: adapters/common/callback.hpp).
bool true_member(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

std::string id_text(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_string()) return v.get<std::string>();
  return {};
}

}  // namespace

std::optional<InboundMessage> telegram_parse_update(const std::string& body, std::string& error) {
  const json u = json::parse(body, nullptr, false);
  if (!u.is_object() || !u.contains("update_id")) {
    error = "expected a Telegram Update (a JSON object with update_id)";
    return std::nullopt;
  }
  if (!u.contains("message") || !u["message"].is_object()) return std::nullopt;  // edits, callbacks …
  const json& m = u["message"];
  if (!m.contains("text") || !m["text"].is_string()) return std::nullopt;  // stickers, photos, joins
  if (!m.contains("from") || !m["from"].is_object() || !m.contains("chat") || !m["chat"].is_object()) {
    error = "a message without from or chat";
    return std::nullopt;
  }
  if (true_member(m["from"], "is_bot")) return std::nullopt;
  InboundMessage out;
  out.identity_kind = "telegram";
  out.sender = id_text(m["from"].value("id", json()));
  const std::string chat = id_text(m["chat"].value("id", json()));
  const std::string type = string_member(m["chat"], "type");
  if (out.sender.empty() || chat.empty()) {
    error = "a message without the sender's or the chat's id";
    return std::nullopt;
  }
  out.channel = type == "private" ? ChannelKind::personal : ChannelKind::group;
  if (out.channel == ChannelKind::group) out.chat_id = chat;
  std::string text = m["text"].get<std::string>();
  // "/积分@VillageBot" and "/积分" in a group: the command without the slash and the bot's name.
  if (text.starts_with("/")) {
    text = text.substr(1);
    const auto at = text.find('@');
    const auto space = text.find(' ');
    if (at != std::string::npos && (space == std::string::npos || at < space))
      text.erase(at, (space == std::string::npos ? text.size() : space) - at);
  }
  out.text = text;
  out.message_id = chat + ":" + id_text(m.value("message_id", json()));
  return out;
}

SendResult telegram_result(const ClientResponse& response) {
  if (response.status == 0) return unreachable_or_retry(response, "Telegram unreachable: " + response.error);
  const json body = json::parse(response.body, nullptr, false);
  const std::string description =
      body.is_object() ? string_member(body, "description") : std::string("HTTP ") + std::to_string(response.status);
  if (response.status == 200 && true_member(body, "ok")) {
    std::string id;
    if (body.contains("result") && body["result"].is_object() && body["result"].contains("message_id"))
      id = id_text(body["result"]["message_id"]);
    return SendResult::ok(id);
  }
  if (response.status == 429) {
    int after = 1;
    if (body.is_object() && body.contains("parameters") && body["parameters"].is_object())
      after =
          static_cast<int>(std::clamp<std::int64_t>(integer_member(body["parameters"], "retry_after", 1), 0, 86400));
    return SendResult::retryable("Telegram: " + description, after);
  }
  if (response.status >= 500) return SendResult::retryable("Telegram answered HTTP " + std::to_string(response.status));
  return SendResult::permanent("Telegram: " +
                               (description.empty() ? "HTTP " + std::to_string(response.status) : description));
}

void Telegram::configure(ConfigSection& config) {
  settings_ = TelegramSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  settings_.bot_token = config.require_string("bot_token");
  settings_.secret_token = config.string_or("secret_token", "");
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  if (!settings_.secret_token.empty() &&
      settings_.secret_token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
          std::string::npos)
    config.error("secret_token", "Telegram allows only A-Z, a-z, 0-9, _ and - (1 to 256 characters)");
  for (auto& g : config.tables("groups"))
    settings_.groups.push_back({g->require_string("chat_id"), g->string_or("name", ""), g->string_or("org_unit", "")});
}

void Telegram::start(AdapterContext& context) {
  context_ = &context;
  if (settings_.secret_token.empty()) {
    context.logger().warn("no secret_token: the webhook route is off (nothing unverified is accepted)");
    return;
  }
  route_ = add_callback_route(context, "POST", "webhook",
                              "Telegram webhook updates (X-Telegram-Bot-Api-Secret-Token checked)", 256 * 1024,
                              [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); });
}

void Telegram::handle(const HttpRequest& request, const Responder& respond) {
  if (!telegram_secret_valid(settings_.secret_token, request.header("x-telegram-bot-api-secret-token")))
    return respond(HttpResponse::error(401, "bad_signature", "X-Telegram-Bot-Api-Secret-Token does not match"));
  std::string error;
  auto message = telegram_parse_update(request.body, error);
  if (!message) {
    if (!error.empty()) return respond(HttpResponse::error(400, "bad_request", error));
    return respond(HttpResponse::json(200, {{"ok", true}}));
  }
  submit_and_reply(*context_, *message, respond, HttpResponse::json(200, {{"ok", true}}));
}

SendResult Telegram::send(const OutboundMessage& message) {
  ClientRequest req;
  req.url = settings_.api_base + "/bot" + settings_.bot_token + "/sendMessage";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = nlohmann::json{{"chat_id", message.address}, {"text", fit(message.text)}}.dump();
  req.timeout = settings_.timeout;
  return telegram_result(context_->http_client().request(req));
}

}  // namespace villagebot::adapters

#include "slack.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "chat_crypto.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

// "<@U024BE7LH> 积分" → "积分": mentions of the bot (or anyone) are not part of the command.
std::string without_mentions(std::string text) {
  for (auto a = text.find("<@"); a != std::string::npos; a = text.find("<@")) {
    const auto b = text.find('>', a);
    if (b == std::string::npos) break;
    text.erase(a, b - a + 1);
  }
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : text.substr(first);
}

int retry_after(const ClientResponse& r) {
  for (const auto& [k, v] : r.headers) {
    std::string key = k;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key == "retry-after" && !v.empty() && v.size() < 6 && v.find_first_not_of("0123456789") == std::string::npos)
      return std::stoi(v);
  }
  return 1;
}

}  // namespace

std::optional<SlackEvent> slack_parse_event(const std::string& body, std::string& error) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    error = "expected a Slack Events API request (a JSON object with a type)";
    return std::nullopt;
  }
  SlackEvent out;
  if (j["type"] == "url_verification") {
    if (!j.contains("challenge") || !j["challenge"].is_string()) {
      error = "url_verification without a challenge";
      return std::nullopt;
    }
    out.challenge = j["challenge"].get<std::string>();
    return out;
  }
  if (j["type"] != "event_callback" || !j.contains("event") || !j["event"].is_object()) return out;
  const json& e = j["event"];
  // Only people's new messages: not bots (our own posts come back as events), not edits or joins.
  if (string_member(e, "type") != "message" || e.contains("subtype") || e.contains("bot_id")) return out;
  if (string_member(e, "user").empty() || !e.contains("text") || !e["text"].is_string() ||
      string_member(e, "channel").empty()) {
    error = "a message event without user, text or channel";
    return std::nullopt;
  }
  InboundMessage m;
  m.identity_kind = "slack";
  m.sender = e["user"].get<std::string>();
  m.text = without_mentions(e["text"].get<std::string>());
  const std::string channel = e["channel"].get<std::string>();
  m.channel = string_member(e, "channel_type") == "im" ? ChannelKind::personal : ChannelKind::group;
  if (m.channel == ChannelKind::group) m.chat_id = channel;
  m.message_id = string_member(j, "event_id");  // what makes Slack's retries idempotent
  if (m.message_id.empty()) m.message_id = channel + ":" + string_member(e, "ts");
  out.message = std::move(m);
  return out;
}

SendResult slack_result(const ClientResponse& response, bool webhook) {
  if (response.status == 0) return unreachable_or_retry(response, "Slack unreachable: " + response.error);
  if (response.status == 429) return SendResult::retryable("Slack: rate limited", retry_after(response));
  if (response.status >= 500) return SendResult::retryable("Slack answered HTTP " + std::to_string(response.status));
  if (webhook) {  // incoming webhooks answer "ok", or an error word with a 4xx
    if (response.status == 200) return SendResult::ok();
    return SendResult::permanent("Slack webhook: " + response.body);
  }
  const json body = json::parse(response.body, nullptr, false);
  if (response.status == 200 && body.is_object() && body.contains("ok") && body["ok"] == true)
    return SendResult::ok(string_member(body, "ts"));
  std::string error = body.is_object() ? string_member(body, "error") : "HTTP " + std::to_string(response.status);
  if (error.empty()) error = "unknown";
  if (error == "ratelimited") return SendResult::retryable("Slack: ratelimited", retry_after(response));
  return SendResult::permanent("Slack: " + error);
}

void Slack::configure(ConfigSection& config) {
  settings_ = SlackSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  settings_.bot_token = config.string_or("bot_token", "");
  settings_.signing_secret = config.string_or("signing_secret", "");
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  for (auto& g : config.tables("groups")) {
    SlackGroup group{{g->require_string("chat_id"), g->string_or("name", ""), g->string_or("org_unit", "")},
                     g->string_or("webhook_url", "")};
    if (!group.webhook_url.empty() && !group.webhook_url.starts_with("https://") &&
        !group.webhook_url.starts_with("http://"))
      g->error("webhook_url", "must be the https:// URL Slack gave for the incoming webhook");
    if (group.webhook_url.empty() && settings_.bot_token.empty())
      g->error("webhook_url", "a group needs its incoming webhook, or the adapter a bot_token");
    settings_.groups.push_back(std::move(group));
  }
  if (settings_.bot_token.empty() && settings_.groups.empty())
    config.error("bot_token", "configure a bot_token and/or groups with incoming webhooks");
}

std::vector<GroupChat> Slack::group_chats() const {
  std::vector<GroupChat> out;
  for (const auto& g : settings_.groups) out.push_back(g.chat);
  return out;
}

void Slack::start(AdapterContext& context) {
  context_ = &context;
  if (settings_.signing_secret.empty()) return;
  route_ = add_callback_route(context, "POST", "events",
                              "Slack Events API (signing secret checked; url_verification answered)", 256 * 1024,
                              [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); });
}

void Slack::handle(const HttpRequest& request, const Responder& respond) {
  if (!slack_request_valid(settings_.signing_secret, request.header("x-slack-request-timestamp"), request.body,
                           request.header("x-slack-signature"), static_cast<std::int64_t>(std::time(nullptr))))
    return respond(HttpResponse::error(401, "bad_signature", "X-Slack-Signature does not match, or is too old"));
  std::string error;
  auto event = slack_parse_event(request.body, error);
  if (!event) return respond(HttpResponse::error(400, "bad_request", error));
  if (!event->challenge.empty()) return respond(HttpResponse::json(200, {{"challenge", event->challenge}}));
  if (!event->message) return respond(HttpResponse::json(200, {{"ok", true}}));
  submit_and_reply(*context_, *event->message, respond, HttpResponse::json(200, {{"ok", true}}));
}

SendResult Slack::send(const OutboundMessage& message) {
  ClientRequest req;
  req.timeout = settings_.timeout;
  req.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  if (message.channel == ChannelKind::group) {
    const auto g = std::find_if(settings_.groups.begin(), settings_.groups.end(),
                                [&](const SlackGroup& x) { return x.chat.chat_id == message.address; });
    if (g != settings_.groups.end() && !g->webhook_url.empty()) {
      req.url = g->webhook_url;
      req.body = json{{"text", message.text}}.dump();
      return slack_result(context_->http_client().request(req), true);
    }
  }
  if (settings_.bot_token.empty())
    return SendResult::permanent("no incoming webhook for " + message.address + " and no bot_token");
  req.url = settings_.api_base + "/chat.postMessage";
  req.headers.emplace_back("Authorization", "Bearer " + settings_.bot_token);
  req.body = json{{"channel", message.address}, {"text", message.text}}.dump();
  return slack_result(context_->http_client().request(req), false);
}

}  // namespace villagebot::adapters

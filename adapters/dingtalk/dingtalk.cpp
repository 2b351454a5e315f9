#include "dingtalk.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "chat_crypto.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<DingtalkInbound> dingtalk_parse_callback(const std::string& body, std::string& error) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    error = "expected a DingTalk robot callback (a JSON object)";
    return std::nullopt;
  }
  if (string_member(j, "msgtype") != "text" || !j.contains("text") || !j["text"].is_object() ||
      !j["text"].contains("content") || !j["text"]["content"].is_string()) {
    error = "only text messages are handled";
    return std::nullopt;
  }
  const std::string staff = string_member(j, "senderStaffId");
  const std::string msg_id = string_member(j, "msgId");
  const std::string conversation = string_member(j, "conversationId");
  if (staff.empty() || msg_id.empty() || conversation.empty()) {
    error = "a message without senderStaffId, msgId or conversationId";
    return std::nullopt;
  }
  DingtalkInbound out;
  auto& m = out.message;
  m.identity_kind = "dingtalk";
  m.sender = staff;
  std::string text = j["text"]["content"].get<std::string>();
  const auto first = text.find_first_not_of(" \t\r\n");
  m.text = first == std::string::npos ? std::string() : text.substr(first);
  m.message_id = msg_id;
  m.channel = string_member(j, "conversationType") == "2" ? ChannelKind::group : ChannelKind::personal;
  if (m.channel == ChannelKind::group) m.chat_id = conversation;
  out.session_webhook = string_member(j, "sessionWebhook");
  out.session_expires_ms = integer_member(j, "sessionWebhookExpiredTime", 0);
  return out;
}

SendResult dingtalk_result(const ClientResponse& response, int throttle_retry_s) {
  if (response.status == 0) return unreachable_or_retry(response, "DingTalk unreachable: " + response.error);
  if (response.status >= 500 || response.status == 429)
    return SendResult::retryable("DingTalk answered HTTP " + std::to_string(response.status));
  const json body = json::parse(response.body, nullptr, false);
  if (response.status != 200 || !body.is_object())
    return SendResult::permanent("DingTalk answered HTTP " + std::to_string(response.status));
  const auto code = integer_member(body, "errcode", -1);
  const std::string message = "DingTalk errcode " + std::to_string(code) + ": " + string_member(body, "errmsg");
  if (code == 0) return SendResult::ok();
  if (code == 130101) return SendResult::retryable(message + " (over 20 a minute)", throttle_retry_s);
  if (code == -1) return SendResult::retryable(message + " (system busy)", 1);
  return SendResult::permanent(message);
}

void Dingtalk::configure(ConfigSection& config) {
  settings_ = DingtalkSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  settings_.app_secret = config.string_or("app_secret", "");
  settings_.throttle_retry_s = static_cast<int>(config.integer_or("throttle_retry_s", 60, 0, 3600));
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  for (auto& r : config.tables("robots")) {
    DingtalkRobot robot{{r->require_string("chat_id"), r->string_or("name", ""), r->string_or("org_unit", "")},
                        r->require_string("access_token"),
                        r->string_or("secret", "")};
    if (!robot.secret.empty() && !robot.secret.starts_with("SEC"))
      r->error("secret", "is the robot's 加签 secret, starting with SEC");
    settings_.robots.push_back(std::move(robot));
  }
  if (settings_.robots.empty() && settings_.app_secret.empty())
    config.error("", "configure robots ([[adapters.robots]]) and/or the outgoing robot's app_secret");
}

std::vector<GroupChat> Dingtalk::group_chats() const {
  std::vector<GroupChat> out;
  for (const auto& r : settings_.robots) out.push_back(r.chat);
  return out;
}

void Dingtalk::start(AdapterContext& context) {
  context_ = &context;
  if (settings_.app_secret.empty()) return;
  route_ = add_callback_route(context, "POST", "callback",
                              "DingTalk outgoing robot callback (timestamp and sign headers checked)", 64 * 1024,
                              [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); });
}

void Dingtalk::handle(const HttpRequest& request, const Responder& respond) {
  if (!dingtalk_callback_valid(settings_.app_secret, request.header("timestamp"), request.header("sign"), now_ms()))
    return respond(HttpResponse::error(401, "bad_signature", "sign does not match, or timestamp is over an hour off"));
  std::string error;
  auto inbound = dingtalk_parse_callback(request.body, error);
  if (!inbound) return respond(HttpResponse::error(400, "bad_request", error));
  const InboundMessage m = inbound->message;
  if (!inbound->session_webhook.empty()) {
    std::lock_guard lock(sessions_mutex_);
    sessions_[m.channel == ChannelKind::group ? m.chat_id : m.sender] = {inbound->session_webhook,
                                                                         inbound->session_expires_ms};
  }
  submit_and_reply(*context_, std::move(inbound->message), respond, HttpResponse::json(200, json::object()));
}

SendResult Dingtalk::post(const std::string& url, const std::string& text, const std::vector<std::string>& mentions) {
  ClientRequest req;
  req.url = url;
  req.headers = {{"Content-Type", "application/json"}};
  json body{{"msgtype", "text"}, {"text", {{"content", text}}}};
  if (!mentions.empty()) {
    // DingTalk highlights an @ only when the text names the phone too.
    json phones = json::array();
    std::string content = text;
    for (const auto& p : mentions) {
      phones.push_back(mention_phone(p));
      content += " @" + mention_phone(p);
    }
    body["text"]["content"] = content;
    body["at"] = {{"atMobiles", phones}, {"isAtAll", false}};
  }
  req.body = body.dump();
  req.timeout = settings_.timeout;
  return dingtalk_result(context_->http_client().request(req), settings_.throttle_retry_s);
}

SendResult Dingtalk::send(const OutboundMessage& message) {
  // An answer to a conversation: its sessionWebhook while valid.
  {
    std::unique_lock lock(sessions_mutex_);
    const auto it = sessions_.find(message.address);
    if (it != sessions_.end() && it->second.second > now_ms() + 5000) {
      const std::string url = it->second.first;
      lock.unlock();
      return post(url, message.text);
    }
  }
  const auto robot = std::find_if(settings_.robots.begin(), settings_.robots.end(),
                                  [&](const DingtalkRobot& r) { return r.chat.chat_id == message.address; });
  if (robot == settings_.robots.end())
    return SendResult::permanent("no DingTalk robot for " + message.address +
                                 " and no valid session to answer it (sessions last about 90 minutes)");
  std::string url = settings_.api_base + "/robot/send?access_token=" + url_encode(robot->access_token);
  if (!robot->secret.empty()) {
    const std::string ts = std::to_string(now_ms());
    url += "&timestamp=" + ts + "&sign=" + url_encode(dingtalk_sign(robot->secret, ts));
  }
  return post(url, message.text, message.mentions);
}

}  // namespace villagebot::adapters

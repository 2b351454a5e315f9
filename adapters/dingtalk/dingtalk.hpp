#pragma once
// The DingTalk (钉钉) adapter (issue 10). Out: a group's custom robot (自定义机器人) — POST
// {api_base}/robot/send?access_token=<token>&timestamp=<ms>&sign=<urlencoded signature>
// {"msgtype":"text","text":{"content"},"at":{"atMobiles":[…]}} — the signature
// Base64(HMAC-SHA256(secret, timestamp + "\n" + secret)) over a fresh timestamp each time.
// In: the outgoing robot's (企业内部机器人) callback /hooks/<id>/callback, its `timestamp` and
// `sign` headers checked with the app secret and the timestamp within an hour, else 401; a text
// message is submitted with the sender's staff id (the directory's dingtalk_id), and the replies
// go back through the conversation's sessionWebhook while it is valid (else, for a group with a
// custom robot, through that robot).
//
// Errors: errcode 130101 (over 20 a minute) is retried after a minute; HTTP 5xx and network
// failures are retried; other errcodes (310000: signature, keyword or IP refused) fail with
// DingTalk's words.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct DingtalkRobot {
  GroupChat chat;            // chat_id: our name for the group (or its conversationId)
  std::string access_token;  // the robot webhook's access_token (secret)
  std::string secret;        // its 加签 secret (SEC…, secret)
};

struct DingtalkSettings {
  std::string api_base = "https://oapi.dingtalk.com";
  std::string app_secret;  // the outgoing robot's AppSecret (secret); "" = no callback route
  std::vector<DingtalkRobot> robots;
  int throttle_retry_s = 60;
  std::chrono::milliseconds timeout{10000};
};

// A callback's message and where to answer it; error set for a malformed body.
struct DingtalkInbound {
  InboundMessage message;
  std::string session_webhook;
  std::int64_t session_expires_ms = 0;
};
std::optional<DingtalkInbound> dingtalk_parse_callback(const std::string& body, std::string& error);
SendResult dingtalk_result(const ClientResponse& response, int throttle_retry_s);

class Dingtalk final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { route_.reset(); }
  [[nodiscard]] std::string identity_kind() const override { return "dingtalk"; }
  // A robot cannot start a private conversation: answers go through the conversation's session.
  [[nodiscard]] bool can_send_personal() const override { return false; }
  [[nodiscard]] bool can_send_group() const override { return !settings_.robots.empty(); }
  [[nodiscard]] std::vector<GroupChat> group_chats() const override;
  SendResult send(const OutboundMessage& message) override;

 private:
  void handle(const HttpRequest& request, const Responder& respond);
  SendResult post(const std::string& url, const std::string& text, const std::vector<std::string>& mentions = {});
  DingtalkSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration route_;
  // Where to answer a conversation: address (chat id or sender) → sessionWebhook and its expiry.
  std::mutex sessions_mutex_;
  std::map<std::string, std::pair<std::string, std::int64_t>> sessions_;
};

}  // namespace villagebot::adapters

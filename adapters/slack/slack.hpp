#pragma once
// The Slack adapter (issue 10). Out: a group chat with an incoming webhook (its URL is a secret)
// gets POST {"text"}; otherwise, and to a person, chat.postMessage with the bot token. 429 is
// retried after Retry-After, 5xx and network failures retried, other refusals fail with Slack's
// error code. In: the Events API at /hooks/<id>/events, every request verified with the signing
// secret (X-Slack-Signature over "v0:timestamp:body", X-Slack-Request-Timestamp within five
// minutes), else 401; url_verification answers the challenge; a message event from a person (not
// a bot, not an edit) is submitted with their Slack user id, and the replies go back through
// chat.postMessage to the same conversation.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct SlackGroup {
  GroupChat chat;           // chat_id: the channel id (C…)
  std::string webhook_url;  // its incoming webhook (secret); "" = chat.postMessage
};

struct SlackSettings {
  std::string api_base = "https://slack.com/api";
  std::string bot_token;       // xoxb-… (secret)
  std::string signing_secret;  // (secret); "" = no events route
  std::vector<SlackGroup> groups;
  std::chrono::milliseconds timeout{10000};
};

// What an Events API request asks: a challenge to echo, a message to submit, or nothing.
struct SlackEvent {
  std::string challenge;
  std::optional<InboundMessage> message;
};
std::optional<SlackEvent> slack_parse_event(const std::string& body, std::string& error);
SendResult slack_result(const ClientResponse& response, bool webhook);

class Slack final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { route_.reset(); }
  [[nodiscard]] std::string identity_kind() const override { return "slack"; }
  [[nodiscard]] bool can_send_personal() const override { return !settings_.bot_token.empty(); }
  [[nodiscard]] bool can_send_group() const override { return true; }
  [[nodiscard]] std::vector<GroupChat> group_chats() const override;
  SendResult send(const OutboundMessage& message) override;

 private:
  void handle(const HttpRequest& request, const Responder& respond);
  SlackSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration route_;
};

}  // namespace villagebot::adapters

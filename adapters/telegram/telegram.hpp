#pragma once
// The Telegram adapter (issue 10). Out: POST {api_base}/bot<token>/sendMessage
// {"chat_id","text"} to a person (their telegram_id) or a group (its chat id); 429 with
// parameters.retry_after is retried after that many seconds, 5xx and network failures are
// retried, any other refusal (blocked by the user, chat not found) fails with Telegram's words.
// In: the webhook /hooks/<id>/webhook (setWebhook with secret_token): the header
// X-Telegram-Bot-Api-Secret-Token must equal the configured secret (constant time), else 401. A
// text message from a private chat or a group is submitted with the sender's Telegram user id;
// the replies go back through sendMessage to the same chat.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct TelegramSettings {
  std::string api_base = "https://api.telegram.org";
  std::string bot_token;     // from @BotFather (secret)
  std::string secret_token;  // setWebhook's secret_token (secret); "" = no webhook route
  std::vector<GroupChat> groups;
  std::chrono::milliseconds timeout{10000};
};

// An update's text message, or nothing (edits, stickers, joins …); error set for a malformed body.
std::optional<InboundMessage> telegram_parse_update(const std::string& body, std::string& error);
SendResult telegram_result(const ClientResponse& response);

class Telegram final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { route_.reset(); }
  [[nodiscard]] std::string identity_kind() const override { return "telegram"; }
  [[nodiscard]] bool can_send_group() const override { return true; }
  [[nodiscard]] std::vector<GroupChat> group_chats() const override { return settings_.groups; }
  SendResult send(const OutboundMessage& message) override;

 private:
  void handle(const HttpRequest& request, const Responder& respond);
  TelegramSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration route_;
};

}  // namespace villagebot::adapters

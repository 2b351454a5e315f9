#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

// The generic webhook of PRODUCT.md §5: POST /hooks/{id} with
// {"message_id","sender","text"[,"chat"]}, answered {"replies":[...]}; signed
// with HMAC-SHA256 over "timestamp.body" when a secret is set.
struct GenericWebhookSettings {
  std::string secret;     // empty: requests need no signature
  std::string reply_url;  // where later messages for a sender are POSTed
  bool sms = false;       // the gateway behind it is SMS: opt-out applies
  // How senders and recipients are known: phone (default), or a chat platform's ids
  // (wecom, dingtalk, feishu, telegram, slack) when a bridge for that platform sits behind it.
  std::string identity = "phone";
  std::int64_t max_skew_s = 300;
  std::int64_t send_timeout_ms = 10000;  // a reply_url slower than this counts as a timeout (retried)
};

// "sha256=<hex>" for a body signed at `timestamp`.
std::string sign_generic(const std::string& secret, const std::string& timestamp, const std::string& body);

// nullopt when the request may pass, else the reason for a 401.
std::optional<std::string> verify_generic(const GenericWebhookSettings& settings, const HttpRequest& request,
                                          std::int64_t now_s);

// Parses the JSON body into a message, or returns the reason for a 400.
std::optional<InboundMessage> parse_generic(const std::string& body, std::string& error);

class GenericWebhook final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override {
    route_.reset();
    status_route_.reset();
  }
  [[nodiscard]] bool is_sms() const override { return settings_.sms; }
  [[nodiscard]] std::string identity_kind() const override { return settings_.identity; }
  [[nodiscard]] bool can_send_group() const override { return !settings_.sms; }
  SendResult send(const OutboundMessage& message) override;
  [[nodiscard]] nlohmann::json health() const override;

 private:
  void handle(const HttpRequest& request, const Responder& respond);
  void handle_status(const HttpRequest& request, const Responder& respond);
  GenericWebhookSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration route_;
  Registration status_route_;
};

}  // namespace villagebot::adapters

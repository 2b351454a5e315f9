#pragma once
// The Twilio SMS adapter (issue 11).
//
// Out: POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json, HTTP Basic auth (the
// account SID and auth token, or an API key SID and secret), a form with To (E.164), From or
// MessagingServiceSid, Body (the configured signature in front) and StatusCallback when a public
// URL is configured. Twilio splits and counts the segments itself. 201 with a sid is sent; 429 /
// error 20429, 5xx and network failures are retried (after Retry-After when given); 21610 (the
// recipient texted STOP) opts the person out and fails; any other refusal fails with Twilio's code
// and message.
//
// In: /hooks/<id>/sms (an incoming SMS) and /hooks/<id>/status (the StatusCallback), both signed
// with X-Twilio-Signature over public_url + the request target. An SMS is answered with an empty
// TwiML <Response/> once it is durable; the replies go out through the Messages API (the durable
// outbox), never inside the TwiML, so that they are retried like any other message.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "twilio_signature.hpp"
#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

struct TwilioSettings {
  std::string api_base = "https://api.twilio.com";
  std::string account_sid;            // AC…
  std::string auth_token;             // secret: signs the callbacks; sends too unless an API key is set
  std::string api_key_sid;            // SK… (optional): sends with this key instead of the auth token
  std::string api_key_secret;         // secret of the API key
  std::string from;                   // a Twilio number (E.164) or an alphanumeric sender id
  std::string messaging_service_sid;  // MG… (instead of, or with, from)
  std::string public_url;             // https://village.example.cn: what Twilio calls; "" = no routes
  std::string signature;              // 【幸福村】, put in front of every message
  std::chrono::milliseconds timeout{10000};
};

// Twilio's answer to a Messages API call: the verdict and Twilio's error code (0 when none).
struct TwilioOutcome {
  SendResult result;
  int code = 0;
};
TwilioOutcome twilio_result(const ClientResponse& response);

// The Messages API request for one message to `to` (E.164).
ClientRequest twilio_message_request(const TwilioSettings& settings, const std::string& adapter_id,
                                     const std::string& to, const std::string& text);

constexpr const char* kEmptyTwiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)";

class Twilio final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override;
  [[nodiscard]] bool is_sms() const override { return true; }
  // Counted by the planner in every message's parts: this adapter puts it in front of each.
  [[nodiscard]] std::string sms_signature() const override { return settings_.signature; }
  SendResult send(const OutboundMessage& message) override;
  [[nodiscard]] nlohmann::json health() const override;

 private:
  // Checks the signature and reads the parameters (form or JSON); nullopt after answering a refusal.
  std::optional<twilio::Params> verified_params(const HttpRequest& request, const Responder& respond);
  void handle_sms(const HttpRequest& request, const Responder& respond);
  void handle_status(const HttpRequest& request, const Responder& respond);
  void note_error(const std::string& error);

  TwilioSettings settings_;
  AdapterContext* context_ = nullptr;
  Registration sms_route_;
  Registration status_route_;

  std::atomic<std::int64_t> sent_{0};
  std::atomic<std::int64_t> retried_{0};
  std::atomic<std::int64_t> failed_{0};
  std::atomic<std::int64_t> opted_out_{0};
  std::atomic<std::int64_t> inbound_{0};
  std::atomic<std::int64_t> receipts_{0};
  std::atomic<std::int64_t> refused_{0};  // callbacks with a bad signature or body
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

}  // namespace villagebot::adapters

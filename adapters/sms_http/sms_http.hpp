#pragma once
// The sms-http adapter (issue 11): any HTTP SMS gateway described in config, as RapidPro's
// External channel does it. Out: one request per message (or per SMS part, split = "parts") built
// from the url, body and header templates; the answer is judged by the success matcher, the
// gateway's message id taken by a JSON pointer or a regex. In, under /hooks/<id>/ (GET or POST,
// authenticated by a token or an HMAC of the body): `report` (delivery reports → the outbox row
// delivered or failed) and `receive` (an inbound SMS → the pipeline; answered by SMS through
// send()). The parts already taken by the gateway are remembered in the database, so a retry
// after a failure mid-message sends only the rest.
#include <string>
#include <vector>

#include "sms_http_settings.hpp"
#include "villagebot/adapter.hpp"

namespace villagebot::adapters::sms_http {

class SmsHttp final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { routes_.clear(); }
  [[nodiscard]] std::string identity_kind() const override { return "phone"; }
  [[nodiscard]] bool is_sms() const override { return true; }
  [[nodiscard]] std::string sms_signature() const override { return settings_.signature; }
  SendResult send(const OutboundMessage& message) override;

  [[nodiscard]] const SmsHttpSettings& settings() const { return settings_; }

 private:
  void handle_report(const HttpRequest& request, const Responder& respond);
  void handle_receive(const HttpRequest& request, const Responder& respond);
  SendResult send_one(const std::string& e164, const std::string& text, const std::string& id, std::size_t part,
                      std::size_t parts);
  SendResult send_parts(const std::string& e164, const std::vector<std::string>& texts, const std::string& key);

  SmsHttpSettings settings_;
  AdapterContext* context_ = nullptr;
  std::vector<Registration> routes_;
};

}  // namespace villagebot::adapters::sms_http

#pragma once
// The Tencent Cloud SMS adapter (腾讯云短信, SendSms 2021-01-11; issue 11).
//
// Out: POST api_base with a JSON body, signed TC3-HMAC-SHA256: canonical request (POST, "/", "",
// "content-type:…\nhost:…\n", "content-type;host", hex SHA-256 of the body), string to sign
// "TC3-HMAC-SHA256\n<timestamp>\n<date>/sms/tc3_request\n<hex SHA-256 of the canonical request>",
// key chain HMAC("TC3" + SecretKey, date) → service → "tc3_request". The text goes into the
// template parameter of the message's kind (cloud_sms.hpp). SendStatusSet[0].Code "Ok" → sent with
// the SerialNo; frequency limits retried after their window; a refusal fails with Tencent's
// Message; FailedOperation.PhoneNumberInBlacklist (the number is on Tencent's do-not-disturb list,
// which Tencent says usually means the person unsubscribed) also opts the person out.
//
// In: callbacks set in the Tencent console (unsigned by Tencent, so guarded by a token):
//   https://<public base>/hooks/<id>/report?token=<callback_token>  (状态报告: receipts)
//   https://<public base>/hooks/<id>/reply?token=<callback_token>   (上行回复: texts from villagers)
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cloud_sms.hpp"
#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

// "2019-02-25" for a Unix time (UTC).
std::string tc3_date(std::int64_t unix_s);
std::string tc3_canonical_request(const std::string& content_type, const std::string& host, const std::string& payload);
std::string tc3_string_to_sign(std::int64_t unix_s, const std::string& service, const std::string& canonical_request);
// hex(HMAC-SHA256(SecretSigning, string to sign)).
std::string tc3_signature(const std::string& secret_key, const std::string& date, const std::string& service,
                          const std::string& string_to_sign);
// The Authorization header for a JSON POST to `host`.
std::string tc3_authorization(const std::string& secret_id, const std::string& secret_key, const std::string& service,
                              const std::string& host, const std::string& content_type, const std::string& payload,
                              std::int64_t unix_s);

struct TencentAnswer {
  SendResult result;
  std::string code;              // Tencent's code ("" when there was no JSON answer)
  bool refuses = false;          // the number is on the do-not-disturb list (unsubscribed)
  bool account_problem = false;  // no balance, suspended, marketing hours: the operator must act
};
TencentAnswer tencent_result(const ClientResponse& response);

struct TencentReceipt {
  std::string sid;
  bool delivered = false;
  std::string error;
};
// 状态报告: a JSON array; nullopt (error set) when malformed.
std::optional<std::vector<TencentReceipt>> tencent_parse_reports(const std::string& body, std::string& error);
// 上行回复: one JSON object or an array of them; nullopt (error set) when malformed, or when a
// reply lacks its time (Unix seconds): the time is part of the id that keeps a repeated push once.
std::optional<std::vector<InboundMessage>> tencent_parse_replies(const std::string& body, std::string& error);

struct TencentSettings {
  std::string api_base = "https://sms.tencentcloudapi.com/";
  std::string secret_id;
  std::string secret_key;  // secret
  std::string sdk_app_id;  // SmsSdkAppId, 1400…
  std::string sign_name;   // 签名, without 【】
  std::string region = "ap-guangzhou";
  std::string callback_token;  // secret; "" = no callback routes
  std::size_t max_parts = 5;
  std::chrono::milliseconds timeout{10000};
  cloud_sms::Templates templates;
  std::string host;  // of api_base, with its port when not the default: what is signed and sent
};

class TencentSms final : public Adapter {
 public:
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override { routes_.clear(); }
  [[nodiscard]] bool is_sms() const override { return true; }
  // The carrier puts 【sign_name】 in front of every SMS: the planner counts it in the parts.
  [[nodiscard]] std::string sms_signature() const override { return "【" + settings_.sign_name + "】"; }
  SendResult send(const OutboundMessage& message) override;

 private:
  SendResult send_piece(const OutboundMessage& message, const cloud_sms::SmsTemplate& tpl, const std::string& piece,
                        std::size_t index, std::size_t total);
  void handle_report(const HttpRequest& request, const Responder& respond);
  void handle_reply(const HttpRequest& request, const Responder& respond);

  TencentSettings settings_;
  AdapterContext* context_ = nullptr;
  cloud_sms::PartLedger ledger_{"tencent_sms_parts"};
  std::vector<Registration> routes_;
};

}  // namespace villagebot::adapters

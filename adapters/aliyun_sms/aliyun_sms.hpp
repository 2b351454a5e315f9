#pragma once
// The Aliyun SMS adapter (阿里云短信, Dysmsapi 2017-05-25; issue 11).
//
// Out: SendSms by POST (form) or GET to api_base, signed with the RPC signature v1:
// Signature = Base64(HMAC-SHA1(secret + "&", METHOD + "&" + pct("/") + "&" + pct(sorted query)))
// with pct = RFC 3986. The text goes into the variable of the template for the message's kind
// (cloud_sms.hpp). Code "OK" → sent with the BizId; throttling retried after a wait; a refusal
// (bad number, template, signature, key) fails with Aliyun's Message; an empty balance or a
// stopped account is retried after a long wait and logged as an error the operator must act on.
//
// In: Aliyun's HTTP batch push (消息回执 HTTP 批量推送), configured in the Aliyun console to
//   https://<public base>/hooks/<id>/report?token=<callback_token>  (SmsReport: receipts)
//   https://<public base>/hooks/<id>/up?token=<callback_token>      (SmsUp: texts from villagers)
// Aliyun does not sign them: the token (compared in constant time) is what keeps others out.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cloud_sms.hpp"
#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

// RFC 3986 percent-encoding as Aliyun signs it: space %20, '*' %2A, '~' kept.
std::string aliyun_percent_encode(std::string_view s);
// pct(key)=pct(value) joined by '&', sorted by key.
std::string aliyun_canonical_query(const std::map<std::string, std::string>& params);
std::string aliyun_string_to_sign(const std::string& method, const std::map<std::string, std::string>& params);
// Base64(HMAC-SHA1(secret + "&", string to sign)).
std::string aliyun_signature(const std::string& secret, const std::string& method,
                             const std::map<std::string, std::string>& params);

struct AliyunAnswer {
  SendResult result;
  std::string code;              // Aliyun's Code ("" when there was no JSON answer)
  bool account_problem = false;  // no balance, service stopped, own daily cap: the operator must act
};
AliyunAnswer aliyun_result(const ClientResponse& response);

struct AliyunReceipt {
  std::string biz_id;
  bool delivered = false;
  std::string error;  // err_code + " " + err_msg of a failure
};
// SmsReport: a JSON array of receipts; nullopt (error set) when malformed.
std::optional<std::vector<AliyunReceipt>> aliyun_parse_reports(const std::string& body, std::string& error);
// SmsUp: a JSON array of texts; nullopt (error set) when malformed.
std::optional<std::vector<InboundMessage>> aliyun_parse_up(const std::string& body, std::string& error);

struct AliyunSettings {
  std::string api_base = "https://dysmsapi.aliyuncs.com/";
  std::string access_key_id;
  std::string access_key_secret;  // secret
  std::string sign_name;          // 签名, without 【】
  std::string region = "cn-hangzhou";
  std::string method = "POST";
  std::string callback_token;  // secret; "" = no callback routes
  std::size_t max_parts = 5;
  std::chrono::milliseconds timeout{10000};
  cloud_sms::Templates templates;
};

class AliyunSms final : public Adapter {
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
  void handle_up(const HttpRequest& request, const Responder& respond);

  AliyunSettings settings_;
  AdapterContext* context_ = nullptr;
  cloud_sms::PartLedger ledger_{"aliyun_sms_parts"};
  std::vector<Registration> routes_;
};

}  // namespace villagebot::adapters

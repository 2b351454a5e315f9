#include "tencent_sms.hpp"

#include <ctime>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxPushBytes = 1024 * 1024;
constexpr std::size_t kMaxSessionContext = 500;  // Tencent: under 512 bytes
constexpr const char* kContentType = "application/json; charset=utf-8";
constexpr const char* kService = "sms";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const json kCallbackOk = {{"result", 0}, {"errmsg", "OK"}};

HttpResponse callback_refused(int status, const std::string& why) {
  return HttpResponse::json(status, {{"result", status}, {"errmsg", why}});
}

// host[:port] of a URL, the port kept when it is not the scheme's default (what the client sends as Host).
std::string host_of(const std::string& url) {
  const auto scheme_end = url.find("://");
  const bool https = url.starts_with("https://");
  const std::size_t from = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  std::string authority = url.substr(from, url.find('/', from) - from);
  if ((https && authority.ends_with(":443")) || (!https && authority.ends_with(":80")))
    authority = authority.substr(0, authority.rfind(':'));
  return authority;
}

std::string string_or_number(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return {};
}

// A member as text: a string as it is, a number as JSON writes it, else "" (null, absent, nested):
// an odd answer or push must not throw (a push would be lost whole with a 500).
std::string text_member(const json& item, const char* key) {
  if (!item.is_object()) return {};
  const auto it = item.find(key);
  if (it == item.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return {};
}

SendResult by_code(const std::string& code, const std::string& message, TencentAnswer& a) {
  // Tencent's Message can quote the number: it reaches logs and the outbox.
  const std::string words =
      "腾讯云短信 / Tencent Cloud SMS: " + code + (message.empty() ? "" : " " + text::mask_phones_in(message));
  auto is = [&](const char* prefix) { return code.starts_with(prefix); };
  if (is("RequestLimitExceeded")) return SendResult::retryable(words, 1);
  if (is("LimitExceeded.")) {
    // The window of the per-number limit Tencent names (its console sets the numbers).
    int wait = 60;
    if (code.find("ThirtySecond") != std::string::npos)
      wait = 30;
    else if (code.find("OneHour") != std::string::npos)
      wait = 600;
    else if (code.find("Daily") != std::string::npos)
      wait = 3600;
    return SendResult::retryable(words, wait);
  }
  if (code == "FailedOperation.InsufficientBalanceInSmsPackage" || is("UnauthorizedOperation.SerivceSuspend") ||
      is("UnauthorizedOperation.ServiceSuspend") || code == "FailedOperation.MarketingSendTimeConstraint") {
    a.account_problem = code != "FailedOperation.MarketingSendTimeConstraint";
    return SendResult::retryable(words, 1800);
  }
  if (is("InternalError")) return SendResult::retryable(words, code == "InternalError.Timeout" ? 0 : 2);
  if (code == "FailedOperation.PhoneNumberInBlacklist") a.refuses = true;
  // AuthFailure.*, InvalidParameterValue.*, FailedOperation.TemplateIncorrectOrUnapproved,
  // FailedOperation.SignatureIncorrectOrUnapproved, UnsupportedOperation.*, the blacklist …
  return SendResult::permanent(words);
}

}  // namespace

std::string tc3_date(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string tc3_canonical_request(const std::string& content_type, const std::string& host,
                                  const std::string& payload) {
  return "POST\n/\n\ncontent-type:" + content_type + "\nhost:" + host + "\n\ncontent-type;host\n" +
         crypto::sha256_hex(payload);
}

std::string tc3_string_to_sign(std::int64_t unix_s, const std::string& service, const std::string& canonical_request) {
  return "TC3-HMAC-SHA256\n" + std::to_string(unix_s) + "\n" + tc3_date(unix_s) + "/" + service + "/tc3_request\n" +
         crypto::sha256_hex(canonical_request);
}

std::string tc3_signature(const std::string& secret_key, const std::string& date, const std::string& service,
                          const std::string& string_to_sign) {
  const std::string secret_date = crypto::hmac_sha256("TC3" + secret_key, date);
  const std::string secret_service = crypto::hmac_sha256(secret_date, service);
  const std::string secret_signing = crypto::hmac_sha256(secret_service, "tc3_request");
  return crypto::to_hex(crypto::hmac_sha256(secret_signing, string_to_sign));
}

std::string tc3_authorization(const std::string& secret_id, const std::string& secret_key, const std::string& service,
                              const std::string& host, const std::string& content_type, const std::string& payload,
                              std::int64_t unix_s) {
  const std::string date = tc3_date(unix_s);
  const std::string signature =
      tc3_signature(secret_key, date, service,
                    tc3_string_to_sign(unix_s, service, tc3_canonical_request(content_type, host, payload)));
  return "TC3-HMAC-SHA256 Credential=" + secret_id + "/" + date + "/" + service +
         "/tc3_request, SignedHeaders=content-type;host, Signature=" + signature;
}

TencentAnswer tencent_result(const ClientResponse& response) {
  TencentAnswer a;
  if (response.status == 0) {
    a.result = unreachable_or_retry(response, "Tencent Cloud SMS unreachable: " + response.error);
    return a;
  }
  const json body = json::parse(response.body, nullptr, false);
  const json* r =
      body.is_object() && body.contains("Response") && body["Response"].is_object() ? &body["Response"] : nullptr;
  if (r == nullptr) {
    const std::string http = "Tencent Cloud SMS answered HTTP " + std::to_string(response.status);
    a.result = response.status >= 500 || response.status == 429 ? SendResult::retryable(http)
                                                                : SendResult::permanent(http + " without a Response");
    return a;
  }
  if (r->contains("Error") && (*r)["Error"].is_object()) {
    a.code = text_member((*r)["Error"], "Code");
    a.result = by_code(a.code, text_member((*r)["Error"], "Message"), a);
    return a;
  }
  if (!r->contains("SendStatusSet") || !(*r)["SendStatusSet"].is_array() || (*r)["SendStatusSet"].empty() ||
      !(*r)["SendStatusSet"][0].is_object()) {
    a.result = SendResult::retryable("Tencent Cloud SMS answered without SendStatusSet");
    return a;
  }
  const json& status = (*r)["SendStatusSet"][0];
  a.code = text_member(status, "Code");
  if (a.code == "Ok") {
    a.result = SendResult::ok(text_member(status, "SerialNo"));
    return a;
  }
  a.result = by_code(a.code, text_member(status, "Message"), a);
  return a;
}

std::optional<std::vector<TencentReceipt>> tencent_parse_reports(const std::string& body, std::string& error) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_array()) {
    error = "expected a JSON array of status reports";
    return std::nullopt;
  }
  std::vector<TencentReceipt> out;
  for (const auto& item : doc) {
    if (!item.is_object() || !item.contains("sid") || !item["sid"].is_string() ||
        item["sid"].get<std::string>().empty() || !item.contains("report_status") ||
        !item["report_status"].is_string()) {
      error = "every report needs sid and report_status (strings)";
      return std::nullopt;
    }
    TencentReceipt r;
    r.sid = item["sid"].get<std::string>();
    r.delivered = item["report_status"].get<std::string>() == "SUCCESS";
    if (!r.delivered)
      r.error = text::mask_phones_in(text::trim(text_member(item, "errmsg") + " " + text_member(item, "description")));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::vector<InboundMessage>> tencent_parse_replies(const std::string& body, std::string& error) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object()) doc = json::array({doc});
  if (!doc.is_array()) {
    error = "expected a JSON object (or an array of them) with mobile and text";
    return std::nullopt;
  }
  std::vector<InboundMessage> out;
  for (const auto& item : doc) {
    if (!item.is_object() || !item.contains("mobile") || !item["mobile"].is_string() || !item.contains("text") ||
        !item["text"].is_string()) {
      error = "every reply needs mobile and text (strings)";
      return std::nullopt;
    }
    const std::string mobile = item["mobile"].get<std::string>();
    const std::string nation = item.contains("nationcode") ? string_or_number(item["nationcode"]) : "86";
    const std::string content = item["text"].get<std::string>();
    std::optional<std::string> phone;
    if (nation == "86" || nation.empty())
      phone = text::normalise_phone(mobile);
    else if (!mobile.empty() && mobile.find_first_not_of("0123456789") == std::string::npos &&
             nation.find_first_not_of("0123456789") == std::string::npos && nation.size() + mobile.size() <= 15)
      phone = "+" + nation + mobile;
    if (!phone || !text::valid_utf8(content)) {
      error = "a reply with an invalid mobile or nationcode, or text that is not UTF-8";
      return std::nullopt;
    }
    InboundMessage m;
    m.channel = ChannelKind::personal;
    m.identity_kind = "phone";
    m.sender = *phone;
    m.text = content;
    // Tencent gives a reply no id: its number, time and text name it, so a push repeated is processed
    // once. Without the time (Unix seconds, always in Tencent's push) the id would repeat for the same
    // words on another day and drop that text as a duplicate: such a push is refused, not guessed at.
    const std::string time = item.contains("time") ? string_or_number(item["time"]) : std::string();
    if (time.empty() || time.size() > 12 || time.find_first_not_of("0123456789") != std::string::npos ||
        time == std::string(time.size(), '0')) {
      error = "every reply needs time (Unix seconds, an integer)";
      return std::nullopt;
    }
    m.message_id = "tencent-up:" + *phone + ":" + time + ":" + crypto::sha256_hex(content).substr(0, 16);
    out.push_back(std::move(m));
  }
  return out;
}

void TencentSms::configure(ConfigSection& config) {
  settings_ = TencentSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  if (!settings_.api_base.ends_with("/")) settings_.api_base += "/";
  settings_.host = host_of(settings_.api_base);
  settings_.secret_id = config.require_string("secret_id");
  settings_.secret_key = config.require_string("secret_key");
  settings_.sdk_app_id = config.require_string("sdk_app_id");
  settings_.sign_name = config.require_string("sign_name");
  if (settings_.sign_name.starts_with("【"))
    config.error("sign_name", "is the 签名 without 【】: the carrier adds the brackets");
  settings_.region = config.string_or("region", settings_.region);
  settings_.callback_token = config.string_or("callback_token", "");
  if (!settings_.callback_token.empty() && !cloud_sms::token_acceptable(settings_.callback_token))
    config.error("callback_token", "must be 16 to 128 of A-Z a-z 0-9 _ - (it goes into the callback URL)");
  settings_.max_parts = static_cast<std::size_t>(config.integer_or("max_parts", 5, 1, 10));
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  settings_.templates.configure(config, true);
  if (settings_.templates.size() == 0)
    config.error("templates",
                 "needs at least one [[adapters.templates]] (kind, code, param): carriers deliver "
                 "only approved templates");
}

void TencentSms::start(AdapterContext& context) {
  context_ = &context;
  ledger_.start(context.storage(), "adapter.tencent-sms");
  if (settings_.callback_token.empty()) {
    context.logger().warn("no callback_token: the receipt and reply routes are off (nothing unverified is accepted)");
    return;
  }
  cloud_sms::add_token_routes(
      context, routes_, "report", "Tencent Cloud SMS status reports (token checked)", kMaxPushBytes,
      [this](const HttpRequest& req, const Responder& respond) { handle_report(req, respond); });
  cloud_sms::add_token_routes(context, routes_, "reply", "Tencent Cloud SMS replies from villagers (token checked)",
                              kMaxPushBytes,
                              [this](const HttpRequest& req, const Responder& respond) { handle_reply(req, respond); });
}

void TencentSms::handle_report(const HttpRequest& request, const Responder& respond) {
  if (!cloud_sms::token_valid(settings_.callback_token, request))
    return respond(HttpResponse::error(401, "bad_token", "the callback token does not match"));
  std::string error;
  const auto receipts = tencent_parse_reports(request.body, error);
  if (!receipts) return respond(callback_refused(400, error));
  std::vector<Receipt> stored;
  for (const auto& r : *receipts) stored.push_back({r.sid, r.delivered, r.error});
  report_and_answer(*context_, stored, respond, HttpResponse::json(200, kCallbackOk));
}

void TencentSms::handle_reply(const HttpRequest& request, const Responder& respond) {
  if (!cloud_sms::token_valid(settings_.callback_token, request))
    return respond(HttpResponse::error(401, "bad_token", "the callback token does not match"));
  std::string error;
  auto messages = tencent_parse_replies(request.body, error);
  if (!messages) return respond(callback_refused(400, error));
  cloud_sms::submit_batch(*context_, std::move(*messages), respond, HttpResponse::json(200, kCallbackOk),
                          callback_refused(503, "暂时无法保存，请稍后重推 / could not store the reply, push again"));
}

SendResult TencentSms::send(const OutboundMessage& message) {
  const auto* tpl = settings_.templates.find(message.priority);
  if (tpl == nullptr) return SendResult::permanent(cloud_sms::refusal(message.priority));
  return cloud_sms::send_pieces(*context_, ledger_, message, *tpl, settings_.max_parts,
                                [&](const std::string& piece, std::size_t index, std::size_t total) {
                                  return send_piece(message, *tpl, piece, index, total);
                                });
}

SendResult TencentSms::send_piece(const OutboundMessage& message, const cloud_sms::SmsTemplate& tpl,
                                  const std::string& piece, std::size_t index, std::size_t total) {
  std::vector<std::string> params = tpl.params;
  params.at(static_cast<std::size_t>(std::stoi(tpl.param)) - 1) = piece;
  const auto phone = text::normalise_phone(message.address);
  json body{{"PhoneNumberSet", json::array({phone ? *phone : message.address})},
            {"SmsSdkAppId", settings_.sdk_app_id},
            {"SignName", settings_.sign_name},
            {"TemplateId", tpl.code},
            {"TemplateParamSet", params}};
  if (!message.idempotency_key.empty()) {
    std::string context = total > 1 ? message.idempotency_key + "#" + std::to_string(index) : message.idempotency_key;
    if (context.size() > kMaxSessionContext) context = "h" + crypto::sha256_hex(context).substr(0, 40);
    body["SessionContext"] = context;
  }
  const std::string payload = body.dump();
  const std::int64_t now = unix_now();
  ClientRequest req;
  req.method = "POST";
  req.url = settings_.api_base;
  req.timeout = settings_.timeout;
  req.body = payload;
  req.headers = {
      {"Host", settings_.host},
      {"Content-Type", kContentType},
      {"Authorization", tc3_authorization(settings_.secret_id, settings_.secret_key, kService, settings_.host,
                                          kContentType, payload, now)},
      {"X-TC-Action", "SendSms"},
      {"X-TC-Version", "2021-01-11"},
      {"X-TC-Timestamp", std::to_string(now)},
      {"X-TC-Region", settings_.region},
  };
  const TencentAnswer answer = tencent_result(context_->http_client().request(req));
  if (answer.account_problem)
    context_->logger().error(
        "腾讯云短信账户无法发送（{}）：请充值或处理欠费，短信会稍后重试。 / the Tencent Cloud SMS account cannot send "
        "({}): top it up or settle the arrears; messages are retried later.",
        answer.code, answer.code);
  if (answer.refuses) {
    // Tencent's do-not-disturb list is, in its words, usually the person's own unsubscription (TD):
    // every further SMS through it fails, so the person is opted out as if they had texted 退订;
    // alerts are still tried, and 订阅 undoes it.
    context_->logger().warn("{} is on Tencent's do-not-disturb list: opted out of non-essential SMS",
                            text::mask_phone(message.address));
    context_->opt_out(phone ? *phone : message.address);
  }
  return answer.result;
}

}  // namespace villagebot::adapters

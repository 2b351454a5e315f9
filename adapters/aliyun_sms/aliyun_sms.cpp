#include "aliyun_sms.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxPushBytes = 1024 * 1024;  // Aliyun batches receipts: a generous limit
constexpr std::size_t kMaxOutId = 64;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An idempotency key as OutId (Aliyun echoes it in the receipt): long keys become their hash.
std::string out_id_of(const std::string& key) {
  if (key.size() <= kMaxOutId) return key;
  return "h" + crypto::sha256_hex(key).substr(0, 40);
}

bool starts(const std::string& code, const char* prefix) {
  return code.starts_with(prefix);
}

// A member as text: a string as it is, a number as JSON writes it, else "" (null, absent, nested).
std::string text_member(const json& item, const char* key) {
  const auto it = item.find(key);
  if (it == item.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return {};
}

const json kPushOk = {{"code", 0}, {"msg", "成功"}};

HttpResponse push_refused(int status, const std::string& why) {
  return HttpResponse::json(status, {{"code", status}, {"msg", why}});
}

}  // namespace

std::string aliyun_percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::string aliyun_canonical_query(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [k, v] : params) {  // std::map: sorted by key, byte order, as Aliyun sorts
    if (!out.empty()) out += '&';
    out += aliyun_percent_encode(k) + "=" + aliyun_percent_encode(v);
  }
  return out;
}

std::string aliyun_string_to_sign(const std::string& method, const std::map<std::string, std::string>& params) {
  return method + "&" + aliyun_percent_encode("/") + "&" + aliyun_percent_encode(aliyun_canonical_query(params));
}

std::string aliyun_signature(const std::string& secret, const std::string& method,
                             const std::map<std::string, std::string>& params) {
  return crypto::base64_encode(crypto::hmac_sha1(secret + "&", aliyun_string_to_sign(method, params)));
}

AliyunAnswer aliyun_result(const ClientResponse& response) {
  AliyunAnswer a;
  if (response.status == 0) {
    a.result = unreachable_or_retry(response, "Aliyun SMS unreachable: " + response.error);
    return a;
  }
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("Code") && body["Code"].is_string()) a.code = body["Code"].get<std::string>();
  const std::string message = body.is_object() && body.contains("Message") && body["Message"].is_string()
                                  ? body["Message"].get<std::string>()
                                  : std::string();
  // Aliyun's Message can quote the number ("15000000000 invalid"): it reaches logs and the outbox.
  const std::string words =
      "阿里云短信 / Aliyun SMS: " + a.code + (message.empty() ? "" : " " + text::mask_phones_in(message));
  if (a.code.empty()) {
    const std::string http = "Aliyun SMS answered HTTP " + std::to_string(response.status);
    a.result = response.status >= 500 || response.status == 429 ? SendResult::retryable(http)
                                                                : SendResult::permanent(http + " without a Code");
    return a;
  }
  if (a.code == "OK") {
    const std::string biz_id =
        body.contains("BizId") && body["BizId"].is_string() ? body["BizId"].get<std::string>() : std::string();
    a.result = SendResult::ok(biz_id);
    return a;
  }
  const std::string& c = a.code;
  if (c == "isv.BUSINESS_LIMIT_CONTROL") {
    // Aliyun's per-number flow control: a minute, an hour or a day, which its Message names.
    int wait = 60;
    if (message.find("天级") != std::string::npos || message.find("day") != std::string::npos)
      wait = 3600;
    else if (message.find("小时级") != std::string::npos || message.find("hour") != std::string::npos)
      wait = 600;
    a.result = SendResult::retryable(words, wait);
  } else if (starts(c, "Throttling") || c == "ServiceUnavailable" || starts(c, "isp.") || c == "InternalError" ||
             c == "UnknownError") {
    a.result = SendResult::retryable(words, starts(c, "Throttling") ? 2 : 0);
  } else if (c == "isv.AMOUNT_NOT_ENOUGH" || c == "isv.OUT_OF_SERVICE" || c == "isv.DAY_LIMIT_CONTROL" ||
             c == "isv.MONTH_LIMIT_CONTROL") {
    a.account_problem = true;
    a.result = SendResult::retryable(words, 1800);
  } else if (response.status >= 500) {
    a.result = SendResult::retryable(words);
  } else {
    // isv.MOBILE_NUMBER_ILLEGAL, isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL,
    // isv.TEMPLATE_MISSING_PARAMETERS, isv.BLACK_KEY_CONTROL_LIMIT, isv.PARAM_LENGTH_LIMIT,
    // InvalidAccessKeyId.NotFound, SignatureDoesNotMatch …: sending again changes nothing.
    a.result = SendResult::permanent(words);
  }
  return a;
}

std::optional<std::vector<AliyunReceipt>> aliyun_parse_reports(const std::string& body, std::string& error) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_array()) {
    error = "expected a JSON array of SmsReport receipts";
    return std::nullopt;
  }
  std::vector<AliyunReceipt> out;
  for (const auto& item : doc) {
    if (!item.is_object() || !item.contains("biz_id") || !item["biz_id"].is_string() ||
        item["biz_id"].get<std::string>().empty() || !item.contains("success") || !item["success"].is_boolean()) {
      error = "every receipt needs biz_id (string) and success (boolean)";
      return std::nullopt;
    }
    AliyunReceipt r;
    r.biz_id = item["biz_id"].get<std::string>();
    r.delivered = item["success"].get<bool>();
    // A null or numeric err_code must not throw: the whole batch would be lost (500).
    if (!r.delivered)
      r.error = text::mask_phones_in(text::trim(text_member(item, "err_code") + " " + text_member(item, "err_msg")));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::vector<InboundMessage>> aliyun_parse_up(const std::string& body, std::string& error) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_array()) {
    error = "expected a JSON array of SmsUp messages";
    return std::nullopt;
  }
  std::vector<InboundMessage> out;
  for (const auto& item : doc) {
    // The sequence id names the message (a repeated push is processed once): an empty one would make
    // every such text a duplicate of the first.
    if (!item.is_object() || !item.contains("phone_number") || !item["phone_number"].is_string() ||
        !item.contains("content") || !item["content"].is_string() || !item.contains("sequence_id") ||
        !(item["sequence_id"].is_number_integer() ||
          (item["sequence_id"].is_string() && !item["sequence_id"].get_ref<const std::string&>().empty()))) {
      error = "every message needs phone_number, content (strings) and sequence_id";
      return std::nullopt;
    }
    const std::string raw_phone = item["phone_number"].get<std::string>();
    auto phone = text::normalise_phone(raw_phone);
    if (!phone && !raw_phone.empty() && raw_phone.size() <= 15 &&
        raw_phone.find_first_not_of("0123456789") == std::string::npos)
      phone = "+" + raw_phone;  // an international number: country code and number
    const std::string content = item["content"].get<std::string>();
    if (!phone || !text::valid_utf8(content)) {
      error = "a message with an invalid phone_number or content that is not UTF-8";
      return std::nullopt;
    }
    const auto& seq = item["sequence_id"];
    InboundMessage m;
    m.channel = ChannelKind::personal;
    m.identity_kind = "phone";
    m.sender = *phone;
    m.text = content;
    m.message_id = "aliyun-up:" + (seq.is_string() ? seq.get<std::string>() : std::to_string(seq.get<std::int64_t>()));
    out.push_back(std::move(m));
  }
  return out;
}

void AliyunSms::configure(ConfigSection& config) {
  settings_ = AliyunSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  if (!settings_.api_base.ends_with("/")) settings_.api_base += "/";
  settings_.access_key_id = config.require_string("access_key_id");
  settings_.access_key_secret = config.require_string("access_key_secret");
  settings_.sign_name = config.require_string("sign_name");
  if (settings_.sign_name.starts_with("【"))
    config.error("sign_name", "is the 签名 without 【】: the carrier adds the brackets");
  settings_.region = config.string_or("region", settings_.region);
  settings_.method = config.string_or("method", settings_.method);
  if (settings_.method != "POST" && settings_.method != "GET") config.error("method", "must be POST or GET");
  settings_.callback_token = config.string_or("callback_token", "");
  if (!settings_.callback_token.empty() && !cloud_sms::token_acceptable(settings_.callback_token))
    config.error("callback_token", "must be 16 to 128 of A-Z a-z 0-9 _ - (it goes into the callback URL)");
  settings_.max_parts = static_cast<std::size_t>(config.integer_or("max_parts", 5, 1, 10));
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  settings_.templates.configure(config, false);
  if (settings_.templates.size() == 0)
    config.error("templates",
                 "needs at least one [[adapters.templates]] (kind, code, param): carriers deliver "
                 "only approved templates");
}

void AliyunSms::start(AdapterContext& context) {
  context_ = &context;
  ledger_.start(context.storage(), "adapter.aliyun-sms");
  if (settings_.callback_token.empty()) {
    context.logger().warn("no callback_token: the receipt and inbound routes are off (nothing unverified is accepted)");
    return;
  }
  cloud_sms::add_token_routes(
      context, routes_, "report", "Aliyun SmsReport receipts (HTTP batch push; token checked)", kMaxPushBytes,
      [this](const HttpRequest& req, const Responder& respond) { handle_report(req, respond); });
  cloud_sms::add_token_routes(context, routes_, "up",
                              "Aliyun SmsUp texts from villagers (HTTP batch push; token checked)", kMaxPushBytes,
                              [this](const HttpRequest& req, const Responder& respond) { handle_up(req, respond); });
}

void AliyunSms::handle_report(const HttpRequest& request, const Responder& respond) {
  if (!cloud_sms::token_valid(settings_.callback_token, request))
    return respond(HttpResponse::error(401, "bad_token", "the callback token does not match"));
  std::string error;
  const auto receipts = aliyun_parse_reports(request.body, error);
  if (!receipts) return respond(push_refused(400, error));
  std::vector<Receipt> stored;
  for (const auto& r : *receipts) stored.push_back({r.biz_id, r.delivered, r.error});
  report_and_answer(*context_, stored, respond, HttpResponse::json(200, kPushOk));
}

void AliyunSms::handle_up(const HttpRequest& request, const Responder& respond) {
  if (!cloud_sms::token_valid(settings_.callback_token, request))
    return respond(HttpResponse::error(401, "bad_token", "the callback token does not match"));
  std::string error;
  auto messages = aliyun_parse_up(request.body, error);
  if (!messages) return respond(push_refused(400, error));
  cloud_sms::submit_batch(*context_, std::move(*messages), respond, HttpResponse::json(200, kPushOk),
                          push_refused(503, "暂时无法保存，请稍后重推 / could not store the messages, push again"));
}

SendResult AliyunSms::send(const OutboundMessage& message) {
  const auto* tpl = settings_.templates.find(message.priority);
  if (tpl == nullptr) return SendResult::permanent(cloud_sms::refusal(message.priority));
  return cloud_sms::send_pieces(*context_, ledger_, message, *tpl, settings_.max_parts,
                                [&](const std::string& piece, std::size_t index, std::size_t total) {
                                  return send_piece(message, *tpl, piece, index, total);
                                });
}

SendResult AliyunSms::send_piece(const OutboundMessage& message, const cloud_sms::SmsTemplate& tpl,
                                 const std::string& piece, std::size_t index, std::size_t total) {
  std::map<std::string, std::string> params{
      {"AccessKeyId", settings_.access_key_id},
      {"Action", "SendSms"},
      {"Format", "JSON"},
      {"PhoneNumbers", cloud_sms::national_or_international(message.address)},
      {"RegionId", settings_.region},
      {"SignName", settings_.sign_name},
      {"SignatureMethod", "HMAC-SHA1"},
      {"SignatureNonce", cloud_sms::uuid4()},
      {"SignatureVersion", "1.0"},
      {"TemplateCode", tpl.code},
      {"TemplateParam", json{{tpl.param, piece}}.dump()},
      {"Timestamp", cloud_sms::iso8601_utc(unix_now())},
      {"Version", "2017-05-25"},
  };
  if (!message.idempotency_key.empty())
    params["OutId"] =
        out_id_of(total > 1 ? message.idempotency_key + "#" + std::to_string(index) : message.idempotency_key);
  const std::string signature = aliyun_signature(settings_.access_key_secret, settings_.method, params);
  const std::string query = aliyun_canonical_query(params) + "&Signature=" + aliyun_percent_encode(signature);
  ClientRequest req;
  req.method = settings_.method;
  req.timeout = settings_.timeout;
  if (settings_.method == "GET") {
    req.url = settings_.api_base + "?" + query;
  } else {
    req.url = settings_.api_base;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = query;
  }
  const AliyunAnswer answer = aliyun_result(context_->http_client().request(req));
  if (answer.account_problem)
    context_->logger().error(
        "阿里云短信账户无法发送（{}）：请充值或在控制台调整发送限额，短信会稍后重试。 / the Aliyun SMS account cannot "
        "send "
        "({}): top it up or raise its limit in the console; messages are retried later.",
        answer.code, answer.code);
  return answer.result;
}

}  // namespace villagebot::adapters

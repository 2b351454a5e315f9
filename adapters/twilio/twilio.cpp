#include "twilio.hpp"

#include <cctype>
#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

constexpr std::size_t kCallbackBodyLimit = 64 * 1024;
// Twilio refuses a Body over 1600 characters (error 21617); a longer text is cut with … instead.
constexpr std::size_t kMaxBodyUnits = 1600;

std::string fit(const std::string& text) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;
    units += c >= 0xF0 ? 2 : 1;  // outside the BMP: a surrogate pair, as Twilio counts
    if (units > kMaxBodyUnits - 1) return text.substr(0, i) + "…";
  }
  return text;
}

std::string header_of(const ClientResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers)
    if (text::ascii_lower(n) == name) return v;
  return {};
}

bool hex_only(std::string_view s) {
  for (char c : s)
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return false;
  return true;
}

bool sid_like(std::string_view sid, std::string_view prefix) {
  return sid.size() == 34 && sid.starts_with(prefix) && hex_only(sid.substr(2));
}

// What to do about a refusal, for the officials reading the dead-letter list.
std::string hint(int code) {
  switch (code) {
    case 21211:
      return "号码格式不对，请核对 / the number is not valid: check it";
    case 21614:
      return "不是可收短信的手机号 / not a mobile number that can receive SMS";
    case 21408:
      return "请在 Twilio 控制台的 Geo Permissions 开通该国家/地区 / enable the region in Twilio's Geo Permissions";
    case 20003:
      return "Twilio 认证失败，请核对 account_sid 与 auth_token（或 API key）/ authentication failed: check "
             "account_sid and auth_token (or the API key)";
    default:
      return {};
  }
}

std::string json_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return {};
}

// A string member, or "" (a gateway's odd answer must not throw on a sender thread).
std::string member(const json& body, const char* key) {
  if (!body.is_object() || !body.contains(key) || !body[key].is_string()) return {};
  return body[key].get<std::string>();
}

// Twilio's messages quote the number (21211, 21408, 21614 …), and they reach /healthz and the logs.
// mask_phones_in knows Chinese numbers; any other E.164 number ("+447700900123") is masked too.
std::string masked(std::string_view message) {
  const std::string in = text::mask_phones_in(message);
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t end = i + 1;
    if (in[i] == '+')
      while (end < in.size() && std::isdigit(static_cast<unsigned char>(in[end])) != 0) ++end;
    if (in[i] == '+' && end - i - 1 >= 7) {
      out += text::mask_phone(std::string_view(in).substr(i, end - i));
      i = end;
    } else {
      out += in[i++];
    }
  }
  return out;
}

HttpResponse twiml() {
  return HttpResponse::text(200, kEmptyTwiml, "text/xml");
}

}  // namespace

TwilioOutcome twilio_result(const ClientResponse& response) {
  TwilioOutcome out;
  if (response.status == 0) {
    out.result = unreachable_or_retry(response, "Twilio 无法连接 / Twilio unreachable: " + response.error);
    return out;
  }
  const json body = json::parse(response.body, nullptr, false);
  if (response.status >= 200 && response.status < 300) {
    out.result = SendResult::ok(member(body, "sid"));
    return out;
  }
  std::string message;
  if (body.is_object()) {
    if (body.contains("code") && body["code"].is_number_integer()) out.code = body["code"].get<int>();
    message = masked(member(body, "message"));
  }
  const std::string what = "Twilio " +
                           (out.code != 0 ? std::to_string(out.code) : "HTTP " + std::to_string(response.status)) +
                           (message.empty() ? std::string() : ": " + message);
  if (response.status == 429 || out.code == 20429) {
    const int after = std::atoi(header_of(response, "retry-after").c_str());
    out.result = SendResult::retryable("Twilio 限流 / rate limited (" + what + ")", after > 0 ? after : 0);
    return out;
  }
  if (response.status >= 500) {
    out.result = SendResult::retryable(what);
    return out;
  }
  if (out.code == 21610) {
    out.result = SendResult::permanent(
        "收件人已回复 STOP 退订，已登记为退订 / the recipient replied STOP "
        "(unsubscribed) and is now opted out (" +
        what + ")");
    return out;
  }
  const std::string h = hint(out.code);
  out.result = SendResult::permanent(h.empty() ? what : what + " — " + h);
  return out;
}

ClientRequest twilio_message_request(const TwilioSettings& settings, const std::string& adapter_id,
                                     const std::string& to, const std::string& text) {
  twilio::Params form{{"To", to}};
  if (!settings.from.empty()) form.emplace_back("From", settings.from);
  if (!settings.messaging_service_sid.empty()) form.emplace_back("MessagingServiceSid", settings.messaging_service_sid);
  form.emplace_back("Body", fit(sms::with_signature(text, settings.signature)));
  if (!settings.public_url.empty())
    form.emplace_back("StatusCallback", settings.public_url + "/hooks/" + adapter_id + "/status");
  const bool key = !settings.api_key_sid.empty();
  const std::string user = key ? settings.api_key_sid : settings.account_sid;
  const std::string secret = key ? settings.api_key_secret : settings.auth_token;
  ClientRequest req;
  req.method = "POST";
  req.url = settings.api_base + "/2010-04-01/Accounts/" + settings.account_sid + "/Messages.json";
  req.headers = {{"Authorization", "Basic " + crypto::base64_encode(user + ":" + secret)},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = twilio::encode_form(form);
  req.timeout = settings.timeout;
  return req;
}

void Twilio::configure(ConfigSection& config) {
  settings_ = TwilioSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  settings_.account_sid = config.require_string("account_sid");
  if (!settings_.account_sid.empty() && !sid_like(settings_.account_sid, "AC"))
    config.error("account_sid", "must be the Account SID (AC and 32 hex digits) from the Twilio console");
  settings_.auth_token = config.require_string("auth_token");
  settings_.api_key_sid = config.string_or("api_key_sid", "");
  settings_.api_key_secret = config.string_or("api_key_secret", "");
  if (!settings_.api_key_sid.empty() && !sid_like(settings_.api_key_sid, "SK"))
    config.error("api_key_sid", "must be an API key SID (SK and 32 hex digits)");
  if (settings_.api_key_sid.empty() != settings_.api_key_secret.empty())
    config.error("api_key_secret", "api_key_sid and api_key_secret go together (or leave both out)");
  settings_.from = config.string_or("from", "");
  settings_.messaging_service_sid = config.string_or("messaging_service_sid", "");
  if (!settings_.messaging_service_sid.empty() && !sid_like(settings_.messaging_service_sid, "MG"))
    config.error("messaging_service_sid", "must be a Messaging Service SID (MG and 32 hex digits)");
  if (settings_.from.empty() && settings_.messaging_service_sid.empty())
    config.error("from", "is required (a Twilio number such as \"+15005550006\"), or messaging_service_sid");
  settings_.public_url = config.string_or("public_url", "");
  while (settings_.public_url.ends_with("/")) settings_.public_url.pop_back();
  if (!settings_.public_url.empty() &&
      ((!settings_.public_url.starts_with("https://") && !settings_.public_url.starts_with("http://")) ||
       settings_.public_url.find_first_of("?#") != std::string::npos))
    config.error("public_url",
                 "must be the address Twilio calls, such as \"https://village.example.cn\" (no query): Twilio signs "
                 "over the full URL");
  settings_.signature = config.string_or("signature", "");
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
}

void Twilio::start(AdapterContext& context) {
  context_ = &context;
  if (settings_.public_url.empty()) {
    context.logger().warn(
        "no public_url: the inbound SMS and status routes are off and no StatusCallback is asked for (Twilio signs "
        "over the public URL, so nothing could be verified)");
    return;
  }
  sms_route_ =
      add_callback_route(context, "POST", "sms", "Twilio incoming SMS (X-Twilio-Signature checked)", kCallbackBodyLimit,
                         [this](const HttpRequest& req, const Responder& respond) { handle_sms(req, respond); });
  status_route_ = add_callback_route(
      context, "POST", "status", "Twilio message status callbacks (X-Twilio-Signature checked)", kCallbackBodyLimit,
      [this](const HttpRequest& req, const Responder& respond) { handle_status(req, respond); });
}

void Twilio::stop() {
  sms_route_.reset();
  status_route_.reset();
}

void Twilio::note_error(const std::string& error) {
  std::lock_guard lock(error_mutex_);
  last_error_ = error;
}

std::optional<twilio::Params> Twilio::verified_params(const HttpRequest& request, const Responder& respond) {
  const std::string signature = request.header("x-twilio-signature");
  const std::string url = settings_.public_url + request.target;
  const auto refuse = [&](int status, std::string_view code, const std::string& message) {
    ++refused_;
    note_error(message);
    context_->logger().warn("refused a callback on {}: {}", request.path, message);
    respond(HttpResponse::error(status, code, message));
    return std::nullopt;
  };
  // The server's body limit only ever raises a route's: an SMS callback is a few hundred bytes.
  if (request.body.size() > kCallbackBodyLimit)
    return refuse(413, "body_too_large",
                  "请求体过大 / the body is larger than " + std::to_string(kCallbackBodyLimit) + " bytes");
  if (signature.empty())
    return refuse(401, "bad_signature", "缺少 X-Twilio-Signature / the X-Twilio-Signature header is missing");
  const std::string type = text::ascii_lower(request.header("content-type"));
  if (type.starts_with("application/json")) {
    if (!twilio::validate_body(settings_.auth_token, url, request.body, signature))
      return refuse(401, "bad_signature",
                    "签名或 bodySHA256 不符 / X-Twilio-Signature or bodySHA256 does not match this request");
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object()) return refuse(400, "bad_request", "请求体不是 JSON 对象 / the body is not a JSON object");
    twilio::Params params;
    for (const auto& [name, value] : body.items()) params.emplace_back(name, json_text(value));
    return params;
  }
  auto params = twilio::parse_form(request.body);
  if (!params) return refuse(400, "bad_request", "表单编码有误 / the form body has a bad %-escape");
  if (!twilio::validate(settings_.auth_token, url, *params, signature))
    return refuse(401, "bad_signature", "签名不符 / X-Twilio-Signature does not match this request");
  return params;
}

void Twilio::handle_sms(const HttpRequest& request, const Responder& respond) {
  auto params = verified_params(request, respond);
  if (!params) return;
  InboundMessage message;
  message.channel = ChannelKind::personal;
  message.identity_kind = "phone";
  message.sender = twilio::param(*params, "From");
  message.text = twilio::param(*params, "Body");
  message.message_id = twilio::param(*params, "MessageSid");
  if (message.message_id.empty()) message.message_id = twilio::param(*params, "SmsMessageSid");
  message.received_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (message.sender.empty() || message.message_id.empty())
    return respond(HttpResponse::error(400, "bad_request", "缺少 From 或 MessageSid / From or MessageSid is missing"));
  // A picture without text (MMS) has nothing to answer; Twilio still gets its TwiML.
  if (text::trim(message.text).empty()) return respond(twiml());
  ++inbound_;
  context_->logger().info("SMS {} from {}", message.message_id, text::mask_phone(message.sender));
  submit_and_reply(*context_, std::move(message), respond, twiml());
}

void Twilio::handle_status(const HttpRequest& request, const Responder& respond) {
  auto params = verified_params(request, respond);
  if (!params) return;
  const std::string sid = twilio::param(*params, "MessageSid").empty() ? twilio::param(*params, "SmsSid")
                                                                       : twilio::param(*params, "MessageSid");
  std::string status = twilio::param(*params, "MessageStatus");
  if (status.empty()) status = twilio::param(*params, "SmsStatus");
  const std::string code = twilio::param(*params, "ErrorCode");
  if (sid.empty() || status.empty())
    return respond(HttpResponse::error(400, "bad_request",
                                       "缺少 MessageSid 或 MessageStatus / MessageSid or MessageStatus is missing"));
  if (code == "21610") {
    const std::string to = twilio::param(*params, "To");
    if (!to.empty()) {
      ++opted_out_;
      context_->opt_out(to);
    }
  }
  // Only final states are receipts; queued, sending, sent and accepted are steps on the way.
  std::vector<Receipt> stored;
  if (status == "delivered") {
    ++receipts_;
    stored.push_back({sid, true});
  } else if (status == "undelivered" || status == "failed" || status == "canceled") {
    ++receipts_;
    const std::string error = "Twilio: " + status + (code.empty() ? std::string() : " (error " + code + ")");
    note_error(error);
    stored.push_back({sid, false, error});
  }
  report_and_answer(*context_, stored, respond, twiml());
}

SendResult Twilio::send(const OutboundMessage& message) {
  const auto to = text::normalise_phone(message.address);
  if (!to) {
    ++failed_;
    const std::string error = "不是有效的手机号 / not a phone number: " + text::mask_phone(message.address);
    note_error(error);
    return SendResult::permanent(error);
  }
  const auto outcome = twilio_result(
      context_->http_client().request(twilio_message_request(settings_, context_->id(), *to, message.text)));
  switch (outcome.result.status) {
    case SendResult::Status::sent:
      ++sent_;
      break;
    case SendResult::Status::retry:
    case SendResult::Status::held:
      ++retried_;
      note_error(outcome.result.error);
      break;
    case SendResult::Status::failed:
      ++failed_;
      note_error(outcome.result.error);
      break;
  }
  if (outcome.code == 21610) {
    ++opted_out_;
    context_->logger().info("{} replied STOP to Twilio: opted out", text::mask_phone(*to));
    context_->opt_out(*to);
  }
  return outcome.result;
}

nlohmann::json Twilio::health() const {
  std::lock_guard lock(error_mutex_);
  return {{"state", "running"},
          {"sent", sent_.load()},
          {"retried", retried_.load()},
          {"failed", failed_.load()},
          {"opted_out", opted_out_.load()},
          {"inbound", inbound_.load()},
          {"receipts", receipts_.load()},
          {"refused_callbacks", refused_.load()},
          {"routes", !settings_.public_url.empty()},
          {"last_error", last_error_}};
}

}  // namespace villagebot::adapters

#include "wecom.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "callback.hpp"
#include "chat_crypto.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::adapters {

namespace {

using nlohmann::json;

// WeCom texts are at most 2048 bytes: a longer one is cut at a character boundary.
std::string fit(const std::string& text, std::size_t limit = 2048) {
  if (text.size() <= limit) return text;
  const std::string more = "…";
  std::size_t cut = limit - more.size();
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + more;
}

// A base64 value that went through form decoding ('+' became ' ').
std::string base64_param(std::string v) {
  std::replace(v.begin(), v.end(), ' ', '+');
  return v;
}

}  // namespace

std::optional<std::string> xml_field(const std::string& xml, const std::string& tag) {
  constexpr std::string_view kCdata = "<![CDATA[", kCdataEnd = "]]>";
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  // The first <Tag> outside CDATA sections: a section is text, whatever tags a villager typed in it.
  std::size_t a = 0;
  for (std::size_t at = 0;;) {
    a = xml.find(open, at);
    if (a == std::string::npos) return std::nullopt;
    const auto cdata = xml.find(kCdata, at);
    if (cdata == std::string::npos || a < cdata) break;
    const auto end = xml.find(kCdataEnd, cdata + kCdata.size());
    if (end == std::string::npos) return std::nullopt;
    at = end + kCdataEnd.size();
  }
  const auto from = a + open.size();
  if (xml.compare(from, kCdata.size(), kCdata) == 0) {  // the value is the section, up to its end
    const auto end = xml.find(kCdataEnd, from + kCdata.size());
    if (end == std::string::npos || xml.compare(end + kCdataEnd.size(), close.size(), close) != 0) return std::nullopt;
    return xml.substr(from + kCdata.size(), end - from - kCdata.size());
  }
  const auto b = xml.find(close, from);
  if (b == std::string::npos) return std::nullopt;
  return xml.substr(from, b - from);
}

WecomCallback wecom_verify_url(const WecomSettings& s, const HttpRequest& request) {
  WecomCallback out;
  const std::string echostr = base64_param(request.query_param("echostr"));
  const std::string signature = request.query_param("msg_signature");
  if (!s.callback()) return {404, "this adapter has no callback configured (corp_id, token, encoding_aes_key)", {}, {}};
  if (echostr.empty() || signature.empty())
    return {400, "expected msg_signature, timestamp, nonce and echostr", {}, {}};
  const auto expected =
      wecom_signature(s.token, request.query_param("timestamp"), request.query_param("nonce"), echostr);
  if (!crypto::constant_time_equal(expected, signature)) return {401, "msg_signature does not match", {}, {}};
  const auto plain = wecom_decrypt(s.encoding_aes_key, echostr);
  if (!plain || plain->receive_id != s.corp_id) return {401, "echostr is not encrypted for this corp", {}, {}};
  out.echo = plain->message;
  return out;
}

WecomCallback wecom_parse_message(const WecomSettings& s, const HttpRequest& request) {
  if (!s.callback()) return {404, "this adapter has no callback configured (corp_id, token, encoding_aes_key)", {}, {}};
  const auto encrypted = xml_field(request.body, "Encrypt");
  const std::string signature = request.query_param("msg_signature");
  if (!encrypted || signature.empty()) return {400, "expected an XML body with <Encrypt> and msg_signature", {}, {}};
  const auto expected =
      wecom_signature(s.token, request.query_param("timestamp"), request.query_param("nonce"), *encrypted);
  if (!crypto::constant_time_equal(expected, signature)) return {401, "msg_signature does not match", {}, {}};
  const auto plain = wecom_decrypt(s.encoding_aes_key, *encrypted);
  if (!plain || plain->receive_id != s.corp_id) return {401, "the message is not encrypted for this corp", {}, {}};
  WecomCallback out;
  const std::string& xml = plain->message;
  const auto type = xml_field(xml, "MsgType");
  // Events (subscribe, enter_agent …) and pictures, voice, files: acknowledged, not submitted.
  if (!type || *type != "text") return out;
  const auto from = xml_field(xml, "FromUserName");
  const auto content = xml_field(xml, "Content");
  const auto id = xml_field(xml, "MsgId");
  if (!from || from->empty() || !content || !id || id->empty())
    return {400, "a text message without its fields", {}, {}};
  InboundMessage m;
  m.channel = ChannelKind::personal;
  m.identity_kind = "wecom";
  m.sender = *from;
  m.text = *content;
  m.message_id = *id;
  out.message = std::move(m);
  return out;
}

SendResult wecom_result(const ClientResponse& response, int throttle_retry_s, bool* token_invalid) {
  if (response.status == 0) return unreachable_or_retry(response, "WeCom unreachable: " + response.error);
  if (response.status >= 500 || response.status == 429)
    return SendResult::retryable("WeCom answered HTTP " + std::to_string(response.status));
  if (response.status != 200) return SendResult::permanent("WeCom answered HTTP " + std::to_string(response.status));
  const json body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("errcode") || !body["errcode"].is_number_integer())
    return SendResult::retryable("WeCom answered something that is not its JSON");
  const auto code = body["errcode"].get<std::int64_t>();
  const std::string message = "WeCom errcode " + std::to_string(code) + ": " + string_member(body, "errmsg");
  if (code == 0) {
    const std::string invalid = string_member(body, "invaliduser");
    if (!invalid.empty()) return SendResult::permanent("WeCom does not know the user " + invalid);
    return SendResult::ok(string_member(body, "msgid"));
  }
  if (code == 45009) return SendResult::retryable(message + " (over the frequency limit)", throttle_retry_s);
  if (code == -1) return SendResult::retryable(message + " (system busy)", 1);
  if (code == 40014 || code == 42001 || code == 41001) {
    if (token_invalid != nullptr) *token_invalid = true;
    return SendResult::retryable(message + " (access token)");
  }
  return SendResult::permanent(message);
}

void Wecom::configure(ConfigSection& config) {
  settings_ = WecomSettings{};
  settings_.api_base = config.string_or("api_base", settings_.api_base);
  while (settings_.api_base.ends_with("/")) settings_.api_base.pop_back();
  if (!settings_.api_base.starts_with("https://") && !settings_.api_base.starts_with("http://"))
    config.error("api_base", "must be an https:// URL");
  settings_.corp_id = config.string_or("corp_id", "");
  settings_.secret = config.string_or("secret", "");
  settings_.token = config.string_or("token", "");
  settings_.encoding_aes_key = config.string_or("encoding_aes_key", "");
  settings_.agent_id = config.integer_or("agent_id", 0, 0, 1LL << 40);
  settings_.throttle_retry_s = static_cast<int>(config.integer_or("throttle_retry_s", 60, 0, 3600));
  settings_.timeout = std::chrono::milliseconds(config.integer_or("timeout_ms", 10000, 100, 120000));
  if (!settings_.encoding_aes_key.empty() && settings_.encoding_aes_key.size() != 43)
    config.error("encoding_aes_key", "is the 43 characters WeCom shows as EncodingAESKey");
  const bool any_app = !settings_.secret.empty() || settings_.agent_id > 0;
  if (any_app && !settings_.app()) config.error("agent_id", "private messages need corp_id, secret and agent_id");
  for (auto& r : config.tables("robots")) {
    WecomRobot robot;
    robot.chat_id = r->require_string("chat_id");
    robot.name = r->string_or("name", robot.chat_id);
    robot.org_unit = r->string_or("org_unit", "");
    robot.key = r->require_string("key");
    robot.markdown = r->boolean_or("markdown", false);
    settings_.robots.push_back(std::move(robot));
  }
  if (settings_.robots.empty() && !settings_.app() && !settings_.callback())
    config.error("",
                 "configure robots ([[adapters.robots]]) and/or the application (corp_id, secret, agent_id, "
                 "token, encoding_aes_key)");
}

std::vector<GroupChat> Wecom::group_chats() const {
  std::vector<GroupChat> out;
  for (const auto& r : settings_.robots) out.push_back({r.chat_id, r.name, r.org_unit});
  return out;
}

void Wecom::start(AdapterContext& context) {
  context_ = &context;
  if (!settings_.callback()) return;
  for (const char* method : {"GET", "POST"}) {
    RouteSpec spec;
    spec.method = method;
    spec.path = "callback";
    spec.public_route = true;
    spec.max_body_bytes = 64 * 1024;
    spec.summary = std::string("WeCom application callback (") + method +
                   (std::string(method) == "GET" ? ": URL verification)" : ": an encrypted message)");
    spec.request_content_type = "text/xml";
    spec.response_content_type = "text/plain";
    spec.handler = [this](const HttpRequest& req, const Responder& respond) { handle(req, respond); };
    routes_.push_back(context.routes().add(std::move(spec)));
  }
}

void Wecom::handle(const HttpRequest& request, const Responder& respond) {
  if (request.method == "GET") {
    const auto r = wecom_verify_url(settings_, request);
    if (r.status != 200) return respond(HttpResponse::error(r.status, "bad_request", r.error));
    return respond(HttpResponse::text(200, r.echo));
  }
  auto r = wecom_parse_message(settings_, request);
  if (r.status != 200) {
    context_->logger().warn("callback refused: {}", r.error);
    return respond(HttpResponse::error(r.status, r.status == 401 ? "bad_signature" : "bad_request", r.error));
  }
  if (!r.message) return respond(HttpResponse::text(200, ""));
  submit_and_reply(*context_, *r.message, respond, HttpResponse::text(200, ""));
}

std::string Wecom::access_token(bool refresh, std::string* error) {
  std::lock_guard lock(token_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!refresh && !token_.empty() && now < token_expires_) return token_;
  ClientRequest req;
  req.method = "GET";
  req.url = settings_.api_base + "/cgi-bin/gettoken?corpid=" + url_encode(settings_.corp_id) +
            "&corpsecret=" + url_encode(settings_.secret);
  req.timeout = settings_.timeout;
  const auto res = context_->http_client().request(req);
  const json body = json::parse(res.body, nullptr, false);
  if (res.status != 200 || !body.is_object() || body.value("errcode", -2) != 0 || !body.contains("access_token") ||
      !body["access_token"].is_string()) {
    *error = res.status == 0 ? "WeCom unreachable: " + res.error
                             : "WeCom gave no access token (" +
                                   (body.is_object() ? "errcode " + std::to_string(body.value("errcode", -2)) + ": " +
                                                           body.value("errmsg", std::string())
                                                     : "HTTP " + std::to_string(res.status)) +
                                   ")";
    token_.clear();
    return {};
  }
  token_ = body["access_token"].get<std::string>();
  // Valid expires_in seconds (7200); taken again five minutes early.
  const auto valid = std::max<std::int64_t>(60, body.value("expires_in", std::int64_t{7200}) - 300);
  token_expires_ = now + std::chrono::seconds(valid);
  ++tokens_fetched_;
  return token_;
}

SendResult Wecom::send(const OutboundMessage& message) {
  return message.channel == ChannelKind::group ? send_group(message) : send_personal(message);
}

SendResult Wecom::send_group(const OutboundMessage& message) {
  const auto robot = std::find_if(settings_.robots.begin(), settings_.robots.end(),
                                  [&](const WecomRobot& r) { return r.chat_id == message.address; });
  if (robot == settings_.robots.end())
    return SendResult::permanent("no WeCom robot is configured for the group chat " + message.address);
  ClientRequest req;
  req.url = settings_.api_base + "/cgi-bin/webhook/send?key=" + url_encode(robot->key);
  req.headers = {{"Content-Type", "application/json"}};
  if (robot->markdown) {
    // Markdown takes up to 4096 bytes and has no mentioned_mobile_list.
    req.body = json{{"msgtype", "markdown"}, {"markdown", {{"content", fit(message.text, 4096)}}}}.dump();
    req.timeout = settings_.timeout;
    return wecom_result(context_->http_client().request(req), settings_.throttle_retry_s);
  }
  json text{{"content", fit(message.text)}};
  // @ the people it is for (their phones): WeCom notifies them in the group.
  if (!message.mentions.empty()) {
    json phones = json::array();
    for (const auto& p : message.mentions) phones.push_back(mention_phone(p));
    text["mentioned_mobile_list"] = phones;
  }
  req.body = json{{"msgtype", "text"}, {"text", text}}.dump();
  req.timeout = settings_.timeout;
  return wecom_result(context_->http_client().request(req), settings_.throttle_retry_s);
}

SendResult Wecom::send_personal(const OutboundMessage& message) {
  if (!settings_.app()) return SendResult::permanent("this WeCom adapter has no application for private messages");
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string error;
    const std::string token = access_token(attempt > 0, &error);
    if (token.empty()) return SendResult::retryable(error);
    ClientRequest req;
    req.url = settings_.api_base + "/cgi-bin/message/send?access_token=" + url_encode(token);
    req.headers = {{"Content-Type", "application/json"}};
    // WeCom drops a repeat of the same content to the same user within the interval: a retry
    // after a lost answer does not show twice.
    req.body = json{{"touser", message.address},     {"msgtype", "text"},
                    {"agentid", settings_.agent_id}, {"text", {{"content", fit(message.text)}}},
                    {"enable_duplicate_check", 1},   {"duplicate_check_interval", 1800}}
                   .dump();
    req.timeout = settings_.timeout;
    bool token_invalid = false;
    auto result = wecom_result(context_->http_client().request(req), settings_.throttle_retry_s, &token_invalid);
    if (!token_invalid) return result;
  }
  return SendResult::retryable("WeCom refused a fresh access token");
}

nlohmann::json Wecom::health() const {
  return {{"state", "running"},
          {"robots", settings_.robots.size()},
          {"application", settings_.app()},
          {"callback", settings_.callback()},
          {"access_tokens_fetched", tokens_fetched_.load()}};
}

}  // namespace villagebot::adapters

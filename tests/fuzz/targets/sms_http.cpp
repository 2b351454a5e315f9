// Fuzz target: the sms-http gateway's callbacks and answers (adapters/sms_http): delivery reports
// and inbound SMS as a form, a JSON object or array, or a query string; the token and HMAC checks;
// and the gateway's answer to a send (success matcher, message id, the quoted error).
// Input: a mode byte ('0'…'2'), then fields separated by 0x1F.
//   0  body, query, Content-Type, auth header: a callback, checked with a token
//   1  body, query, Content-Type, auth header: a callback, checked with an HMAC of the body
//   2  HTTP status, body, Retry-After: the gateway's answer to a send
// Invariants: a callback's fields are valid UTF-8 (or the callback is refused, saying why); the query
// is not read where it was not signed; only the secret's token or HMAC passes, and a correctly
// signed callback always does; the gateway's words are quoted on one line of valid UTF-8, at most
// 200 bytes and "…"; a send is `sent` only for a success status, with an id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "sms_callbacks.hpp"
#include "sms_gateway.hpp"
#include "sms_http_settings.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters::sms_http;

constexpr const char* kSecret = "s3cret-token-0123456789";

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

SmsHttpSettings settings(CallbackAuth auth) {
  SmsHttpSettings s;
  s.auth = auth;
  s.secret = kSecret;
  s.auth_header = auth == CallbackAuth::hmac ? "X-Villagebot-Signature" : "X-Villagebot-Token";
  s.report.enabled = true;
  s.report.id_field = "msgid";
  s.report.status_field = "stat";
  s.report.error_field = "err";
  s.receive.enabled = true;
  s.receive.from_field = "mobile";
  s.receive.text_field = "content";
  s.receive.id_field = "/data/mo_id";
  return s;
}

HttpRequest request(const std::string& body, const std::string& query, const std::string& type,
                    const std::string& header_name, const std::string& header) {
  HttpRequest r;
  r.method = body.empty() ? "GET" : "POST";
  r.body = body;
  r.query = query;
  r.target = "/hooks/sms/report" + (query.empty() ? std::string() : "?" + query);
  if (!type.empty()) r.headers["content-type"] = type;
  if (!header.empty()) r.headers[lower(header_name)] = header;
  return r;
}

void fields(const SmsHttpSettings& s, const HttpRequest& r) {
  const bool trusted = query_trusted(s, r);
  if (s.auth == CallbackAuth::hmac && !r.body.empty()) check(!trusted);
  std::string error;
  const auto entries = callback_fields(r, error, trusted);
  check(entries.empty() == !error.empty());
  if (entries.size() > 1) check(entries.front().object.is_object());
  for (const auto& f : entries) {
    check(f.object.is_null() || f.object.is_object());
    if (!trusted) check(f.query.empty());
    for (const auto& [k, v] : f.form) check(text::valid_utf8(k) && text::valid_utf8(v));
    for (const auto& [k, v] : f.query) check(text::valid_utf8(k) && text::valid_utf8(v));
    for (const char* name : {"msgid", "stat", "err", "mobile", "content", "/data/mo_id", "/data/msgid", "/0", "/", "",
                             "~", "/a~1b", "/a~2"}) {
      const auto v = f.get(name);
      if (v) check(text::valid_utf8(*v));
    }
  }
}

// What a token check may accept: the secret in the header (a "Bearer " in front), else in the query.
bool token_given(const HttpRequest& r, const std::string& header_name) {
  const std::string h = r.header(header_name);
  return h == kSecret || h == std::string("Bearer ") + kSecret || parse_form(r.query)["token"] == kSecret;
}

void token(const std::string& body, const std::string& query, const std::string& type, const std::string& header) {
  const SmsHttpSettings s = settings(CallbackAuth::token);
  const HttpRequest r = request(body, query, type, s.auth_header, header);
  if (callback_authentic(s, r)) check(token_given(r, s.auth_header));
  fields(s, r);
  check(callback_authentic(s, request(body, query, type, s.auth_header, kSecret)));
  check(callback_authentic(s, request(body, query, type, s.auth_header, std::string("Bearer ") + kSecret)));
  check(callback_authentic(s, request(body, std::string("token=") + kSecret + "&" + query, type, s.auth_header, "")));
  check(!callback_authentic(s, request(body, query, type, s.auth_header, std::string(kSecret) + "x")));
  check(callback_authentic(settings(CallbackAuth::none), r));
}

void hmac(const std::string& body, const std::string& query, const std::string& type, const std::string& header) {
  const SmsHttpSettings s = settings(CallbackAuth::hmac);
  const HttpRequest r = request(body, query, type, s.auth_header, header);
  check(signed_payload(r) == (body.empty() ? query : body));
  const std::string mac = crypto::hmac_sha256(kSecret, signed_payload(r));
  if (callback_authentic(s, r)) {
    std::string given = text::trim(header);
    if (given.starts_with("sha256=")) given = given.substr(7);
    check(lower(given) == crypto::to_hex(mac) || given == crypto::base64_encode(mac));
  }
  fields(s, r);
  for (const std::string& good : {crypto::to_hex(mac), "sha256=" + crypto::to_hex(mac), crypto::base64_encode(mac),
                                  " sha256=" + lower(crypto::to_hex(mac)) + " "})
    check(callback_authentic(s, request(body, query, type, s.auth_header, good)));
  const std::string other = crypto::to_hex(crypto::hmac_sha256("another secret", signed_payload(r)));
  check(!callback_authentic(s, request(body, query, type, s.auth_header, other)));
  // Signed over the body, the request does not pass with another body.
  if (!body.empty())
    check(!callback_authentic(s, request(body + "&x=1", query, type, s.auth_header, crypto::to_hex(mac))));
}

void answer(const std::string& status, const std::string& body, const std::string& retry_after) {
  const std::string quoted = quote_gateway(body);
  check(!quoted.empty() && text::valid_utf8(quoted));
  check(quoted.find_first_of("\r\n\t") == std::string::npos);
  check(quoted.size() <= 200 + std::string("…").size());

  ClientResponse response;
  response.status = status_of(status);
  response.body = body;
  if (!retry_after.empty()) response.headers.emplace_back("Retry-After", retry_after);
  for (int variant = 0; variant < 3; ++variant) {
    SmsHttpSettings s = settings(CallbackAuth::token);
    check(s.success.status.add("2xx"));
    check(s.retry_status.add("429") && s.retry_status.add("5xx"));
    if (variant == 0) {
      s.success.pointer = "/code";
      s.success.equals = "0";
      s.message_id.pointer = "/data/msgid";
    } else if (variant == 1) {
      s.success.contains = "result=0";
      s.message_id.regex_source = R"(msgid=(\w+))";
      s.message_id.regex = std::regex(s.message_id.regex_source);
    }
    const auto verdict = evaluate(s, response, "our-id-1");
    const auto& result = verdict.result;
    check(result.retry_after_s >= 0 && result.retry_after_s <= 86400);
    if (result.status == SendResult::Status::sent) {
      check(response.status >= 200 && response.status < 300);
      check(!result.provider_id.empty());
      if (variant == 2) check(result.provider_id == "our-id-1" && verdict.id_found);
    } else {
      check(!result.error.empty() && text::valid_utf8(result.error));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    const auto f = split(rest, 4);
    token(f[0], f[1], f[2], f[3]);
  } else if (mode == 1) {
    const auto f = split(rest, 4);
    hmac(f[0], f[1], f[2], f[3]);
  } else {
    const auto f = split(rest, 3);
    answer(f[0], f[1], f[2]);
  }
  return 0;
}

// Fuzz target: Twilio's signed callbacks (adapters/twilio: twilio_signature): the form body,
// X-Twilio-Signature over the public URL and the parameters, the bodySHA256 of a JSON body, the
// URL's default-port variants, and the Messages API's answers. Input: a mode byte ('0'…'3'), then
// fields separated by 0x1F.
//   0  body, request target, signature: a form callback (an SMS or a status callback)
//   1  body, request target, signature: a JSON-bodied callback
//   2  URL: its variants and query values
//   3  HTTP status, body, Retry-After: an answer of the Messages API
// Invariants: a callback passes only with the auth token's signature over one of the URL's variants
// (and, for JSON, the body's SHA-256 in the URL), and a correctly signed one always passes;
// encode_form and parse_form are inverse; an answer's verdict is valid UTF-8 and never throws.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twilio.hpp"
#include "twilio_signature.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;

constexpr const char* kAuthToken = "12345";
constexpr const char* kPublicUrl = "https://mycompany.com";

bool signed_by_token(const std::string& url, const twilio::Params& params, const std::string& signature) {
  for (const auto& v : twilio::url_variants(url))
    if (signature == twilio::compute_signature(kAuthToken, v, params)) return true;
  return false;
}

void form_callback(const std::string& body, const std::string& target, const std::string& signature) {
  const std::string url = kPublicUrl + target;
  const auto params = twilio::parse_form(body);
  if (!params) return;  // a bad %-escape: 400
  if (twilio::validate(kAuthToken, url, *params, signature)) check(signed_by_token(url, *params, signature));
  check(!twilio::validate(kAuthToken, url, *params, ""));
  check(!twilio::validate("", url, *params, signature));
  for (const auto& v : twilio::url_variants(url))
    check(twilio::validate(kAuthToken, url, *params, twilio::compute_signature(kAuthToken, v, *params)));
  const std::string good = twilio::compute_signature(kAuthToken, url, *params);
  check(!twilio::validate("54321", url, *params, good));
  // The form as Twilio would write it reads back the same, and carries the same signature.
  const auto again = twilio::parse_form(twilio::encode_form(*params));
  check(again && *again == *params);
  check(twilio::signing_string(url, *params).starts_with(url));
  (void)twilio::param(*params, "From");
  (void)twilio::param(*params, "Body");
}

void json_callback(const std::string& body, const std::string& target, const std::string& signature) {
  const std::string url = kPublicUrl + target;
  if (twilio::validate_body(kAuthToken, url, body, signature)) {
    check(twilio::query_value(url, "bodySHA256") == crypto::sha256_hex(body));
    check(signed_by_token(url, {}, signature));
  }
  // As Twilio sends it: the body's hash in the URL, the URL signed.
  const std::string signed_url =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "bodySHA256=" + crypto::sha256_hex(body);
  const std::string good = twilio::compute_signature(kAuthToken, signed_url, {});
  if (signed_url.find('#') == std::string::npos &&
      twilio::query_value(signed_url, "bodySHA256") == crypto::sha256_hex(body)) {
    check(twilio::validate_body(kAuthToken, signed_url, body, good));
    check(!twilio::validate_body(kAuthToken, signed_url, body + " ", good));
  }
  check(!twilio::validate_body(kAuthToken, url + "", body, ""));
}

void url(const std::string& u) {
  const auto variants = twilio::url_variants(u);
  check(!variants.empty() && variants.size() <= 2 && variants.front() == u);
  if (variants.size() == 2) check(variants[1] != u);
  for (const char* name : {"bodySHA256", "foo", "", "a b"}) {
    const auto v = twilio::query_value(u, name);
    if (v) check(u.find('?') != std::string::npos);
  }
}

void answer(const std::string& status, const std::string& body, const std::string& retry_after) {
  ClientResponse response;
  response.status = status_of(status);
  response.body = body;
  if (!retry_after.empty()) response.headers.emplace_back("Retry-After", retry_after);
  const auto outcome = twilio_result(response);
  check(outcome.result.retry_after_s >= 0);
  check(text::valid_utf8(outcome.result.error));
  if (outcome.result.status == SendResult::Status::sent) check(response.status >= 200 && response.status < 300);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 4;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    const auto f = split(rest, 3);
    form_callback(f[0], f[1], f[2]);
  } else if (mode == 1) {
    const auto f = split(rest, 3);
    json_callback(f[0], f[1], f[2]);
  } else if (mode == 2) {
    url(std::string(rest));
  } else {
    const auto f = split(rest, 3);
    answer(f[0], f[1], f[2]);
  }
  return 0;
}

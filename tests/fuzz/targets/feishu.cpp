// Fuzz target: the Feishu / Lark (飞书) event subscription (adapters/feishu, adapters/common/
// chat_crypto): the {"encrypt"} body, X-Lark-Signature, the decrypted event (url_verification,
// im.message.receive_v1), the cipher, and Feishu's API answers. Input: a mode byte ('0'…'4'), then
// fields separated by 0x1F.
//   0  body, timestamp, nonce, signature: a raw request, checked with the fixed encrypt key
//   1  plaintext event: encrypted with the fixed key, then sent signed, unsigned and badly signed
//   2  plaintext, IV (16 bytes): decrypt(encrypt(x)) == x; and the input decrypted as it is
//   3  body: an unencrypted event with only a verification token configured
//   4  HTTP status, body: an answer of the messaging API
// Invariants: never throws; a message passes only with the right X-Lark-Signature and the
// verification token, an unsigned request only as a url_verification; a parsed message has a
// sender and an id and is valid UTF-8, a chat when it is a group's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat_crypto.hpp"
#include "feishu.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace {

using villagebot::fuzz::check;
using villagebot::fuzz::split;
using villagebot::fuzz::status_of;

using namespace villagebot;
using namespace villagebot::adapters;
using nlohmann::json;

constexpr const char* kEncryptKey = "test key";
constexpr const char* kVerification = "verif-token";
constexpr const char* kIv = "0123456789abcdef";
constexpr const char* kTimestamp = "1732838400";
constexpr const char* kNonce = "n-1";

FeishuSettings settings(bool encrypted) {
  FeishuSettings s;
  s.app_id = "cli_test";
  s.app_secret = "app-secret";
  s.verification_token = kVerification;
  if (encrypted) s.encrypt_key = kEncryptKey;
  return s;
}

HttpRequest request(const std::string& body, const std::string& timestamp, const std::string& nonce,
                    const std::string& signature) {
  HttpRequest r;
  r.method = "POST";
  r.body = body;
  r.headers["content-type"] = "application/json";
  if (!timestamp.empty()) r.headers["x-lark-request-timestamp"] = timestamp;
  if (!nonce.empty()) r.headers["x-lark-request-nonce"] = nonce;
  if (!signature.empty()) r.headers["x-lark-signature"] = signature;
  return r;
}

// The token an event carries (schema 2.0: header.token; 1.0: token), read leniently.
std::string token_of(const json& j) {
  const json* at = &j;
  if (j.contains("header") && j["header"].is_object()) at = &j["header"];
  const auto it = at->find("token");
  return it != at->end() && it->is_string() ? it->get<std::string>() : std::string();
}

void check_event(const FeishuEvent& e) {
  check(e.status == 200 || e.status == 400 || e.status == 401);
  check((e.status == 200) == e.error.empty());
  if (e.status != 200) check(!e.message && e.challenge.empty());
  check(!(e.message && !e.challenge.empty()));
  if (e.message) {
    const InboundMessage& m = *e.message;
    check(!m.sender.empty() && !m.message_id.empty());
    check(m.identity_kind == "feishu");
    check(text::valid_utf8(m.sender) && text::valid_utf8(m.message_id) && text::valid_utf8(m.text) &&
          text::valid_utf8(m.chat_id));
    check(m.text.empty() || m.text[0] != ' ');
  }
  if (!e.challenge.empty()) check(text::valid_utf8(e.challenge));
}

void raw(const std::string& body, const std::string& timestamp, const std::string& nonce,
         const std::string& signature) {
  const auto e = feishu_parse_event(settings(true), request(body, timestamp, nonce, signature));
  check_event(e);
  // Anything but a url_verification needs the encrypt key's signature over this very body.
  if (e.message) check(signature == feishu_event_signature(timestamp, nonce, kEncryptKey, body));
  if (const auto plain = feishu_decrypt(kEncryptKey, body)) {
    const auto again = feishu_encrypt(kEncryptKey, *plain, kIv);
    check(again && feishu_decrypt(kEncryptKey, *again) == plain);
  }
}

void encrypted_event(const std::string& plain) {
  const auto encrypted = feishu_encrypt(kEncryptKey, plain, kIv);
  check(encrypted.has_value());
  check(feishu_decrypt(kEncryptKey, *encrypted) == plain);
  const std::string body = json{{"encrypt", *encrypted}}.dump();
  const std::string signature = feishu_event_signature(kTimestamp, kNonce, kEncryptKey, body);
  const json doc = json::parse(plain, nullptr, false);
  const bool right_token = doc.is_object() && token_of(doc) == kVerification;

  const auto e = feishu_parse_event(settings(true), request(body, kTimestamp, kNonce, signature));
  check_event(e);
  if (e.message || !e.challenge.empty()) check(right_token);
  if (!doc.is_object()) check(e.status == 400);

  const auto unsigned_e = feishu_parse_event(settings(true), request(body, "", "", ""));
  check_event(unsigned_e);
  check(!unsigned_e.message);
  check(unsigned_e.challenge == e.challenge);

  std::string wrong = signature;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  check(feishu_parse_event(settings(true), request(body, kTimestamp, kNonce, wrong)).status == 401);
  check(feishu_parse_event(settings(true), request(body, kTimestamp, "n-2", signature)).status == 401);
  // The plaintext sent without encryption: refused while an encrypt key is configured.
  if (doc.is_object() && !doc.contains("encrypt"))
    check(feishu_parse_event(settings(true), request(plain, kTimestamp, kNonce,
                                                     feishu_event_signature(kTimestamp, kNonce, kEncryptKey, plain)))
              .status == 401);
}

void cipher(const std::string& plain, const std::string& iv_field, std::string_view whole) {
  const std::string iv = (iv_field + std::string(16, '\0')).substr(0, 16);
  const auto encrypted = feishu_encrypt(kEncryptKey, plain, iv);
  check(encrypted.has_value());
  check(feishu_decrypt(kEncryptKey, *encrypted) == plain);
  (void)feishu_decrypt(kEncryptKey, whole);
  (void)feishu_decrypt(whole, plain);
}

void unencrypted(const std::string& body) {
  const auto e = feishu_parse_event(settings(false), request(body, "", "", ""));
  check_event(e);
  if (e.message || !e.challenge.empty()) {
    const json doc = json::parse(body, nullptr, false);
    check(doc.is_object() && !doc.contains("encrypt") && token_of(doc) == kVerification);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = static_cast<unsigned char>(data[0] - '0') % 5;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 0: {
      const auto f = split(rest, 4);
      raw(f[0], f[1], f[2], f[3]);
      break;
    }
    case 1:
      encrypted_event(std::string(rest));
      break;
    case 2: {
      const auto f = split(rest, 2);
      cipher(f[0], f[1], rest);
      break;
    }
    case 3:
      unencrypted(std::string(rest));
      break;
    default: {
      const auto f = split(rest, 2);
      ClientResponse response;
      response.status = status_of(f[0]);
      response.body = f[1];
      bool token_invalid = false;
      const auto result = feishu_result(response, &token_invalid);
      check(result.retry_after_s >= 0);
      if (result.status == SendResult::Status::sent) check(response.status > 0 && response.status < 500);
      break;
    }
  }
  return 0;
}

#pragma once
// The chat platforms' signature and encryption schemes, as pure functions for the adapters and
// their tests (each reproduces the vendors' published examples: tests/adapters/vectors/).
//
//   WeCom (企业微信) callbacks   msg_signature = hex(SHA1(sorted(token, timestamp, nonce, encrypt)
//                                concatenated)); AES-256-CBC with key = Base64(EncodingAESKey + "="),
//                                IV = the key's first 16 bytes, PKCS#7 to 32 bytes; plaintext =
//                                16 random bytes + 4-byte big-endian length + message + receive id
//   DingTalk (钉钉) robot         Base64(HMAC-SHA256(secret, timestamp_ms + "\n" + secret)), URL-encoded
//                                in the query of a custom robot's webhook; the outgoing robot's
//                                callback header `sign` is the same with the app secret, its
//                                `timestamp` within an hour
//   Feishu/Lark (飞书) bot        Base64(HMAC-SHA256(key = timestamp_s + "\n" + secret, message = ""))
//   Feishu/Lark events           X-Lark-Signature = hex(SHA256(timestamp + nonce + encrypt_key + body));
//                                {"encrypt"}: AES-256-CBC, key = SHA256(encrypt_key), IV = the first
//                                16 bytes of the Base64-decoded ciphertext, PKCS#7
//   Slack Events API             X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing secret,
//                                "v0:" + timestamp + ":" + body)), X-Slack-Request-Timestamp within 5 min
//   Telegram webhooks            X-Telegram-Bot-Api-Secret-Token equal to the configured secret
//                                (compared in constant time)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace villagebot::adapters {

// A phone as the Chinese platforms take it for @-mentions: "+8613800000001" → "13800000001"
// (other countries keep their +code).
std::string mention_phone(std::string_view e164);

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_encode(std::string_view s);
std::string sha1_hex(std::string_view data);

// ---- WeCom
std::string wecom_signature(std::string_view token, std::string_view timestamp, std::string_view nonce,
                            std::string_view encrypted);
struct WecomPlain {
  std::string message;
  std::string receive_id;  // the corp id (or the app's suite id) the message was encrypted for
};
// nullopt: not Base64, a bad key (43 characters), bad padding or a length that does not fit.
std::optional<WecomPlain> wecom_decrypt(std::string_view encoding_aes_key, std::string_view encrypted_base64);
// `random16`: 16 bytes (tests fix them; the adapter draws them).
std::optional<std::string> wecom_encrypt(std::string_view encoding_aes_key, std::string_view message,
                                         std::string_view receive_id, std::string_view random16);

// ---- DingTalk
std::string dingtalk_sign(std::string_view secret, std::string_view timestamp_ms);  // Base64, not URL-encoded
// The outgoing robot's callback: the headers `timestamp` (ms) and `sign`, within an hour of now.
bool dingtalk_callback_valid(std::string_view app_secret, std::string_view timestamp_ms, std::string_view sign,
                             std::int64_t now_ms);

// ---- Feishu / Lark
std::string feishu_bot_sign(std::string_view secret, std::string_view timestamp_s);
std::string feishu_event_signature(std::string_view timestamp, std::string_view nonce, std::string_view encrypt_key,
                                   std::string_view body);
std::optional<std::string> feishu_decrypt(std::string_view encrypt_key, std::string_view encrypted_base64);
std::optional<std::string> feishu_encrypt(std::string_view encrypt_key, std::string_view plain,
                                          std::string_view iv16);  // for tests: a platform's event

// ---- Slack
std::string slack_signature(std::string_view signing_secret, std::string_view timestamp, std::string_view body);
bool slack_request_valid(std::string_view signing_secret, std::string_view timestamp, std::string_view body,
                         std::string_view signature, std::int64_t now_s);

// ---- Telegram
bool telegram_secret_valid(std::string_view configured, std::string_view header);

}  // namespace villagebot::adapters

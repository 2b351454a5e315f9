// The chat platforms' signature and encryption schemes reproduce the vendors' published examples
// (tests/adapters/vectors/signatures.json) and reject tampered bodies, wrong secrets and stale
// timestamps (issue 10).
#include "chat_crypto.hpp"

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "villagebot/crypto.hpp"

namespace villagebot::adapters {
namespace {

using nlohmann::json;

const json& vectors() {
  static const json v = [] {
    std::ifstream in(VILLAGEBOT_SOURCE_DIR "/tests/adapters/vectors/signatures.json");
    return json::parse(in);
  }();
  return v;
}

std::string s(const json& j, const char* key) {
  return j.at(key).get<std::string>();
}

TEST(ChatCrypto, SlackReproducesTheDocumentedSignatureAndRejectsTamperingAndStaleRequests) {
  const json& v = vectors().at("slack_request_signing");
  const auto secret = s(v, "signing_secret"), ts = s(v, "timestamp"), body = s(v, "body");
  EXPECT_EQ(slack_signature(secret, ts, body), s(v, "expected"));
  const std::int64_t now = std::stoll(ts) + 10;
  EXPECT_TRUE(slack_request_valid(secret, ts, body, s(v, "expected"), now));
  EXPECT_FALSE(slack_request_valid(secret, ts, body + "&x=1", s(v, "expected"), now)) << "tampered body";
  EXPECT_FALSE(slack_request_valid("wrong-secret", ts, body, s(v, "expected"), now)) << "wrong secret";
  EXPECT_FALSE(slack_request_valid(secret, ts, body, s(v, "expected"), std::stoll(ts) + 301)) << "stale";
  EXPECT_FALSE(slack_request_valid(secret, ts, body, s(v, "expected"), std::stoll(ts) - 301)) << "from the future";
  EXPECT_FALSE(slack_request_valid(secret, "12ab", body, s(v, "expected"), now)) << "not a number";
  EXPECT_FALSE(slack_request_valid("", ts, body, s(v, "expected"), now)) << "no secret configured";
}

TEST(ChatCrypto, DingTalkRobotSignAndCallbackWindow) {
  const json& v = vectors().at("dingtalk_custom_robot_sign");
  const auto secret = s(v, "secret"), ts = s(v, "timestamp_ms");
  EXPECT_EQ(dingtalk_sign(secret, ts), s(v, "expected_base64"));
  EXPECT_EQ(url_encode(dingtalk_sign(secret, ts)), s(v, "expected_urlencoded"));
  const std::int64_t now = std::stoll(ts) + 60 * 1000;
  EXPECT_TRUE(dingtalk_callback_valid(secret, ts, s(v, "expected_base64"), now));
  EXPECT_FALSE(dingtalk_callback_valid("SECother", ts, s(v, "expected_base64"), now));
  EXPECT_FALSE(dingtalk_callback_valid(secret, ts, s(v, "expected_base64"), std::stoll(ts) + 3601 * 1000))
      << "more than an hour old";
  EXPECT_FALSE(dingtalk_callback_valid(secret, std::to_string(std::stoll(ts) + 1), s(v, "expected_base64"), now))
      << "another timestamp";
}

TEST(ChatCrypto, FeishuBotSignEventDecryptionAndEventSignature) {
  const json& bot = vectors().at("feishu_custom_bot_sign");
  EXPECT_EQ(feishu_bot_sign(s(bot, "secret"), s(bot, "timestamp_s")), s(bot, "expected"));
  EXPECT_NE(feishu_bot_sign("other", s(bot, "timestamp_s")), s(bot, "expected"));
  const json& ev = vectors().at("feishu_event_decrypt");
  EXPECT_EQ(feishu_decrypt(s(ev, "encrypt_key"), s(ev, "encrypt")), s(ev, "expected_plaintext"));
  EXPECT_FALSE(feishu_decrypt("wrong key", s(ev, "encrypt")).has_value());
  EXPECT_FALSE(feishu_decrypt(s(ev, "encrypt_key"), "not base64!").has_value());
  EXPECT_FALSE(feishu_decrypt(s(ev, "encrypt_key"), "").has_value());
  // Round trip of an event as the platform would send it, and its signature header.
  const std::string event = R"({"schema":"2.0","header":{"event_type":"im.message.receive_v1"}})";
  const auto enc = feishu_encrypt("k", event, "0123456789abcdef");
  ASSERT_TRUE(enc.has_value());
  EXPECT_EQ(feishu_decrypt("k", *enc), event);
  const std::string body = json{{"encrypt", *enc}}.dump();
  const auto sig = feishu_event_signature("1700000000", "nonce", "k", body);
  EXPECT_EQ(sig, crypto::sha256_hex("1700000000nonce" + std::string("k") + body));
  EXPECT_NE(feishu_event_signature("1700000000", "nonce", "k", body + " "), sig);
}

TEST(ChatCrypto, WecomReproducesTheOfficialVerifyUrlExampleAndRoundTrips) {
  const json& v = vectors().at("wecom_callback_verify_url");
  EXPECT_EQ(wecom_signature(s(v, "token"), s(v, "timestamp"), s(v, "nonce"), s(v, "echostr")), s(v, "msg_signature"));
  const auto plain = wecom_decrypt(s(v, "encoding_aes_key"), s(v, "echostr"));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->message, s(v, "expected_plaintext"));
  EXPECT_EQ(plain->receive_id, s(v, "receive_id"));
  EXPECT_NE(wecom_signature("other", s(v, "timestamp"), s(v, "nonce"), s(v, "echostr")), s(v, "msg_signature"));
  // A wrong key fails (padding), a short key is refused, garbage is refused.
  EXPECT_FALSE(wecom_decrypt("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", s(v, "echostr")).has_value());
  EXPECT_FALSE(wecom_decrypt("short", s(v, "echostr")).has_value());
  EXPECT_FALSE(wecom_decrypt(s(v, "encoding_aes_key"), "@@@").has_value());
  // What the adapter sends back encrypted decrypts to itself, with the receive id.
  const std::string xml = "<xml><Content><![CDATA[您家当前积分：120 分]]></Content></xml>";
  const auto enc = wecom_encrypt(s(v, "encoding_aes_key"), xml, "ww1234", "0123456789abcdef");
  ASSERT_TRUE(enc.has_value());
  const auto back = wecom_decrypt(s(v, "encoding_aes_key"), *enc);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->message, xml);
  EXPECT_EQ(back->receive_id, "ww1234");
}

TEST(ChatCrypto, TelegramSecretTokenIsComparedExactly) {
  EXPECT_TRUE(telegram_secret_valid("s3cret-Token_1", "s3cret-Token_1"));
  EXPECT_FALSE(telegram_secret_valid("s3cret-Token_1", "s3cret-Token_2"));
  EXPECT_FALSE(telegram_secret_valid("s3cret-Token_1", ""));
  EXPECT_FALSE(telegram_secret_valid("", "")) << "no secret configured: nothing is valid";
}

}  // namespace
}  // namespace villagebot::adapters

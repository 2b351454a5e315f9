#include "villagebot/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

// Vectors from the RFCs and from /work/shared/test-vectors/signatures.json,
// copied here so that the tests do not depend on files outside the repository.

namespace villagebot::crypto {
namespace {

TEST(Crypto, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256("abc").size(), 32U);
  EXPECT_EQ(to_hex(sha256("abc")), sha256_hex("abc"));
}

TEST(Crypto, Sha256OfTencentPayload) {
  // The payload holds the literal six characters \u672a, not the CJK character.
  const std::string payload =
      R"({"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]})";
  EXPECT_EQ(sha256_hex(payload), "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, HmacSha256LongKeyRfc4231Case6) {
  // Keys longer than the block size are hashed first.
  const std::string key(131, '\xaa');
  EXPECT_EQ(to_hex(hmac_sha256(key, "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, HmacSha1Rfc2202Case2) {
  EXPECT_EQ(to_hex(hmac_sha1("Jefe", "what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Crypto, HmacWithEmptyKeyAndMessage) {
  EXPECT_EQ(to_hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Crypto, SlackRequestSigning) {
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const std::string timestamp = "1531420618";
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
      "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
      "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
      "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const std::string expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

  const std::string signature = "v0=" + to_hex(hmac_sha256(secret, "v0:" + timestamp + ":" + body));
  EXPECT_EQ(signature, expected);
  EXPECT_TRUE(constant_time_equal(signature, expected));
  // One changed byte in the body must break the signature.
  std::string tampered = body;
  tampered.back() = 'd';
  EXPECT_FALSE(constant_time_equal("v0=" + to_hex(hmac_sha256(secret, "v0:" + timestamp + ":" + tampered)), expected));
}

TEST(Crypto, DingtalkCustomRobotSign) {
  const std::string secret = "SECtest";
  const std::string timestamp_ms = "1577262236757";
  EXPECT_EQ(base64_encode(hmac_sha256(secret, timestamp_ms + "\n" + secret)),
            "Za/ne6w2koB8B4ROVlgTNd/X+/FbyDpZrXLz57xNZSA=");
}

TEST(Crypto, FeishuCustomBotSignUsesEmptyMessage) {
  EXPECT_EQ(base64_encode(hmac_sha256(std::string("1599360473") + "\n" + "test", "")),
            "NVcdmaRhTlOqmXksontxmKEP4AYWAMD5VOczwSqarks=");
}

TEST(Crypto, TwilioRequestValidation) {
  const std::string data =
      "https://mycompany.com/myapp.php?foo=1&bar=2"
      "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212";
  EXPECT_EQ(base64_encode(hmac_sha1("12345", data)), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST(Crypto, Base64Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain) << encoded;
  }
}

TEST(Crypto, Base64RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    const std::string part = all.substr(0, len);
    EXPECT_EQ(base64_decode(base64_encode(part)), part) << len;
  }
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
}

TEST(Crypto, Base64RejectsInvalidInput) {
  const char* invalid[] = {
      "Zg",        // missing padding
      "Zg=",       // wrong length
      "Zm9v\n",    // whitespace
      "Zm 9v",     // space inside
      "Zm9-",      // url-safe alphabet is not the standard one
      "Zm9_",      //
      "Z===",      // too much padding
      "====",      //
      "Zg==Zm9v",  // padding in the middle
      "Zm=v",      // '=' followed by data
      "Zh==",      // non-zero bits under the padding
      "Zm9=",      //
      "Zm9v\xc3\xa9",
  };
  for (const char* text : invalid) {
    EXPECT_FALSE(base64_decode(text).has_value()) << text;
  }
}

TEST(Crypto, HexRoundTripAndRejection) {
  EXPECT_EQ(to_hex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(from_hex("0001abff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(from_hex("0001ABFF"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(from_hex(""), std::string());
  EXPECT_FALSE(from_hex("abc").has_value());   // odd length
  EXPECT_FALSE(from_hex("zz").has_value());    // not hex
  EXPECT_FALSE(from_hex("0x12").has_value());  // no prefix allowed
  EXPECT_FALSE(from_hex("1 ").has_value());
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("abc", ""));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Crypto, RandomHexHasTheRequestedLengthAndVaries) {
  EXPECT_EQ(random_hex(0), "");
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    const std::string r = random_hex(16);
    ASSERT_EQ(r.size(), 32U);
    EXPECT_TRUE(from_hex(r).has_value()) << r;
    seen.insert(r);
  }
  EXPECT_EQ(seen.size(), 16U);
}

}  // namespace
}  // namespace villagebot::crypto

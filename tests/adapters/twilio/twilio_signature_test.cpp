// Twilio's request validation reproduces Twilio's published examples (tests/adapters/vectors/
// signatures.json: the form case, the same URL with :443, repeated names, a JSON body) and rejects
// tampered parameters, a wrong token, a wrong URL and a body that does not match its hash; the
// Messages API answers map to sent / retry / failed as Twilio means them.
#include "twilio_signature.hpp"

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "twilio.hpp"
#include "villagebot/crypto.hpp"

namespace villagebot::adapters {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using twilio::Params;

const json& vectors() {
  static const json v = [] {
    std::ifstream in(VILLAGEBOT_SOURCE_DIR "/tests/adapters/vectors/signatures.json");
    return json::parse(in);
  }();
  return v.at("twilio_request_validation");
}

std::string s(const json& j, const char* key) {
  return j.at(key).get<std::string>();
}

Params form_params() {
  Params p;
  for (const auto& [k, v] : vectors().at("params").items()) p.emplace_back(k, v.get<std::string>());
  return p;
}

std::string with_port_443(const std::string& url) {
  return "https://mycompany.com:443" + url.substr(std::string("https://mycompany.com").size());
}

TEST(TwilioSignature, ReproducesTwilioExamples) {
  const json& v = vectors();
  const std::string token = s(v, "auth_token");
  const std::string url = s(v, "url");
  EXPECT_EQ(twilio::compute_signature(token, url, form_params()), s(v, "expected"));
  EXPECT_EQ(twilio::compute_signature(token, with_port_443(url), form_params()),
            s(v, "same_url_with_port_443_expected"));

  Params repeated;
  for (const auto& pair : v.at("repeated_key_case").at("params"))
    repeated.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  EXPECT_THAT(twilio::signing_string(url, repeated), HasSubstr("Digits1234Digits5678"));
  EXPECT_EQ(twilio::compute_signature(token, url, repeated), s(v.at("repeated_key_case"), "expected"));

  const json& j = v.at("json_body_case");
  EXPECT_EQ(crypto::sha256_hex(s(j, "body")), s(j, "body_sha256_hex"));
  EXPECT_EQ(twilio::compute_signature(token, s(j, "signed_url"), {}), s(j, "expected"));
}

TEST(TwilioSignature, AcceptsTheUrlWithAndWithoutTheDefaultPort) {
  const json& v = vectors();
  const std::string token = s(v, "auth_token");
  const std::string url = s(v, "url");
  // Signed without the port, received at a URL that writes it (and the other way round).
  EXPECT_TRUE(twilio::validate(token, url, form_params(), s(v, "expected")));
  EXPECT_TRUE(twilio::validate(token, url, form_params(), s(v, "same_url_with_port_443_expected")));
  EXPECT_TRUE(twilio::validate(token, with_port_443(url), form_params(), s(v, "expected")));
  EXPECT_TRUE(twilio::validate(token, with_port_443(url), form_params(), s(v, "same_url_with_port_443_expected")));
  // A port that is not the default is part of the address.
  EXPECT_FALSE(
      twilio::validate(token, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", form_params(), s(v, "expected")));
  EXPECT_EQ(twilio::url_variants("http://a.cn/x"), (std::vector<std::string>{"http://a.cn/x", "http://a.cn:80/x"}));
  EXPECT_EQ(twilio::url_variants("https://a.cn:443"), (std::vector<std::string>{"https://a.cn:443", "https://a.cn"}));
  EXPECT_EQ(twilio::url_variants("https://[::1]:8443/x").size(), 1u);
}

TEST(TwilioSignature, RejectsTamperedParametersWrongTokenAndWrongUrl) {
  const json& v = vectors();
  const std::string token = s(v, "auth_token");
  const std::string url = s(v, "url");
  const std::string good = s(v, "expected");
  ASSERT_TRUE(twilio::validate(token, url, form_params(), good));

  Params tampered = form_params();
  tampered[2].second = "9999";  // Digits
  EXPECT_FALSE(twilio::validate(token, url, tampered, good));
  Params added = form_params();
  added.emplace_back("Body", "hi");
  EXPECT_FALSE(twilio::validate(token, url, added, good));
  EXPECT_FALSE(twilio::validate("54321", url, form_params(), good));
  EXPECT_FALSE(twilio::validate(token, "https://mycompany.com/myapp.php?foo=1&bar=3", form_params(), good));
  EXPECT_FALSE(twilio::validate(token, "http://mycompany.com/myapp.php?foo=1&bar=2", form_params(), good));
  EXPECT_FALSE(twilio::validate(token, url, form_params(), ""));
  EXPECT_FALSE(twilio::validate("", url, form_params(), good));
  EXPECT_FALSE(twilio::validate(token, url, form_params(), good.substr(0, good.size() - 1)));
}

TEST(TwilioSignature, JsonBodiesAreCheckedAgainstTheirHash) {
  const json& v = vectors();
  const std::string token = s(v, "auth_token");
  const json& j = v.at("json_body_case");
  EXPECT_TRUE(twilio::validate_body(token, s(j, "signed_url"), s(j, "body"), s(j, "expected")));
  // The same signature with another body: the URL's hash no longer matches.
  EXPECT_FALSE(
      twilio::validate_body(token, s(j, "signed_url"), R"({"property": "other", "boolean": true})", s(j, "expected")));
  EXPECT_FALSE(twilio::validate_body("54321", s(j, "signed_url"), s(j, "body"), s(j, "expected")));
  // Without bodySHA256 in the URL there is nothing to check the body against.
  EXPECT_FALSE(twilio::validate_body(token, s(v, "url"), s(j, "body"), s(j, "expected")));
}

TEST(TwilioSignature, FormBodiesDecodeAsBrowsersEncodeThem) {
  auto p = twilio::parse_form("From=%2B8613800000001&Body=%E7%A7%AF%E5%88%86+now&Empty=&Flag&Body=2");
  ASSERT_TRUE(p);
  EXPECT_EQ(twilio::param(*p, "From"), "+8613800000001");
  EXPECT_EQ(twilio::param(*p, "Body"), "积分 now");
  EXPECT_EQ(twilio::param(*p, "Empty"), "");
  ASSERT_EQ(p->size(), 5u);
  EXPECT_FALSE(twilio::parse_form("Body=%zz"));
  EXPECT_FALSE(twilio::parse_form("Body=%4"));
  EXPECT_EQ(twilio::encode_form({{"To", "+86 138"}, {"Body", "积"}}), "To=%2B86%20138&Body=%E7%A7%AF");
  const auto round = twilio::parse_form(twilio::encode_form({{"Body", "a&b=c+d 积分"}}));
  ASSERT_TRUE(round);
  EXPECT_EQ(twilio::param(*round, "Body"), "a&b=c+d 积分");
  EXPECT_EQ(twilio::query_value("https://a.cn/x?foo=1&bodySHA256=ab%43", "bodySHA256"), "abC");
  EXPECT_FALSE(twilio::query_value("https://a.cn/x", "bodySHA256"));
}

ClientResponse answer(int status, const std::string& body, std::vector<std::pair<std::string, std::string>> h = {}) {
  ClientResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(h);
  return r;
}

TEST(TwilioSend, AnswersMapToSentRetryAndFailedWithTwiliosReason) {
  auto o = twilio_result(answer(201, R"({"sid":"SM0123","status":"queued","num_segments":"1"})"));
  EXPECT_EQ(o.result.status, SendResult::Status::sent);
  EXPECT_EQ(o.result.provider_id, "SM0123");

  o = twilio_result(
      answer(429, R"({"code":20429,"message":"Too Many Requests","status":429})", {{"Retry-After", "7"}}));
  EXPECT_EQ(o.result.status, SendResult::Status::retry);
  EXPECT_EQ(o.result.retry_after_s, 7);
  o = twilio_result(answer(400, R"({"code":20429,"message":"Too Many Requests","status":400})"));
  EXPECT_EQ(o.result.status, SendResult::Status::retry);
  EXPECT_EQ(twilio_result(answer(503, "<html>busy</html>")).result.status, SendResult::Status::retry);
  o = twilio_result(answer(400, R"({"code":"x","message":42})"));
  EXPECT_EQ(o.result.status, SendResult::Status::failed) << "an odd answer fails plainly";
  EXPECT_THAT(o.result.error, HasSubstr("HTTP 400"));
  ClientResponse down;
  down.error = "connection refused";
  down.unreachable = true;
  EXPECT_EQ(twilio_result(down).result.status, SendResult::Status::held) << "unreachable: held, not an attempt";

  o = twilio_result(
      answer(400, R"({"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400})"));
  EXPECT_EQ(o.result.status, SendResult::Status::failed);
  EXPECT_EQ(o.code, 21610);
  EXPECT_THAT(o.result.error, HasSubstr("STOP"));
  EXPECT_THAT(o.result.error, HasSubstr("21610"));

  for (const auto& [code, message] : std::vector<std::pair<int, std::string>>{
           {21211, "The 'To' number +86123 is not a valid phone number."},
           {21614, "'To' number is not a valid mobile number"},
           {21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"},
           {20003, "Authenticate"}}) {
    o = twilio_result(answer(code == 20003 ? 401 : 400, json{{"code", code}, {"message", message}}.dump()));
    EXPECT_EQ(o.result.status, SendResult::Status::failed) << code;
    EXPECT_THAT(o.result.error, HasSubstr(std::to_string(code)));
    EXPECT_THAT(o.result.error, HasSubstr(message));
  }
}

TEST(TwilioSend, TheNumberTwilioQuotesInARefusalIsMasked) {
  // 21211 and 21408 quote the To number; the reason goes to the outbox, the log and /healthz.
  auto o = twilio_result(answer(
      400, R"({"code":21211,"message":"The 'To' number +8613800000001 is not a valid phone number.","status":400})"));
  EXPECT_EQ(o.result.status, SendResult::Status::failed);
  EXPECT_THAT(o.result.error, HasSubstr("The 'To' number 138****0001 is not a valid phone number."));
  EXPECT_THAT(o.result.error, Not(HasSubstr("13800000001")));
  o = twilio_result(answer(
      400,
      R"({"code":21408,"message":"Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +447700900123.","status":400})"));
  EXPECT_THAT(o.result.error, HasSubstr("+44****23"));
  EXPECT_THAT(o.result.error, Not(HasSubstr("7700900")));
  EXPECT_THAT(o.result.error, HasSubstr("Geo Permissions"));
  o = twilio_result(answer(503, R"({"code":30001,"message":"Queue overflow for +15005550006"})"));
  EXPECT_EQ(o.result.status, SendResult::Status::retry);
  EXPECT_THAT(o.result.error, Not(HasSubstr("5005550")));
}

TEST(TwilioSend, TheRequestCarriesBasicAuthAndTheFormFields) {
  TwilioSettings settings;
  settings.api_base = "https://api.twilio.test";
  settings.account_sid = "AC0123456789abcdef0123456789abcdef";
  settings.auth_token = "token";
  settings.from = "+15005550006";
  settings.public_url = "https://village.example.cn";
  settings.signature = "【幸福村】";
  auto req = twilio_message_request(settings, "tw", "+8613800000001", "明天停水。");
  EXPECT_EQ(req.url, "https://api.twilio.test/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  const auto form = twilio::parse_form(req.body);
  ASSERT_TRUE(form);
  EXPECT_EQ(twilio::param(*form, "To"), "+8613800000001");
  EXPECT_EQ(twilio::param(*form, "From"), "+15005550006");
  EXPECT_EQ(twilio::param(*form, "Body"), "【幸福村】明天停水。");
  EXPECT_EQ(twilio::param(*form, "StatusCallback"), "https://village.example.cn/hooks/tw/status");
  EXPECT_EQ(req.headers[0].second, "Basic " + crypto::base64_encode("AC0123456789abcdef0123456789abcdef:token"));

  // With an API key and a Messaging Service, no public URL: no StatusCallback.
  settings.api_key_sid = "SK0123456789abcdef0123456789abcdef";
  settings.api_key_secret = "key-secret";
  settings.from.clear();
  settings.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  settings.public_url.clear();
  settings.signature.clear();
  req = twilio_message_request(settings, "tw", "+8613800000001", std::string(2000, 'a'));
  const auto form2 = twilio::parse_form(req.body);
  ASSERT_TRUE(form2);
  EXPECT_EQ(twilio::param(*form2, "MessagingServiceSid"), "MG0123456789abcdef0123456789abcdef");
  EXPECT_EQ(twilio::param(*form2, "From"), "");
  EXPECT_EQ(twilio::param(*form2, "StatusCallback"), "");
  EXPECT_EQ(twilio::param(*form2, "Body").size(), 1599u + std::string("…").size()) << "cut to Twilio's 1600";
  EXPECT_EQ(req.headers[0].second, "Basic " + crypto::base64_encode("SK0123456789abcdef0123456789abcdef:key-secret"));
}

}  // namespace
}  // namespace villagebot::adapters

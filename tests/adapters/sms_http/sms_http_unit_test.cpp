// The sms-http adapter's parts without a server: templates and their escaping, config mistakes
// reported with file, line and key, the success matcher and the message-id extractor on the
// answers real gateways give, and the texts a long message becomes.
#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "sms_callbacks.hpp"
#include "sms_gateway.hpp"
#include "sms_http.hpp"
#include "sms_template.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::sms_http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHard = "A&B = \"引号\"\n中文";

Template parse(const std::string& source) {
  std::string error;
  auto t = Template::parse(source, error);
  EXPECT_TRUE(t.has_value()) << error;
  return t.value_or(Template{});
}

TEST(SmsHttpTemplate, EveryValueIsEscapedForItsPlace) {
  const TemplateValues v{{"text", kHard}, {"to", "+8613800000001"}};
  EXPECT_EQ(parse("https://g/send?to={{to}}&m={{ text }}").render(v, Escape::url),
            "https://g/send?to=%2B8613800000001&m=A%26B%20%3D%20%22%E5%BC%95%E5%8F%B7%22%0A%E4%B8%AD%E6%96%87");
  EXPECT_EQ(parse(R"({"m":"{{text}}"})").render(v, Escape::json), "{\"m\":\"A&B = \\\"引号\\\"\\n中文\"}");
  EXPECT_EQ(parse("{{text}}").render(v, Escape::raw), kHard);
  // A form body read back gives the text exactly.
  EXPECT_EQ(parse_form(parse("m={{text}}&to={{to}}").render(v, Escape::url)).at("m"), kHard);
  EXPECT_EQ(parse_form("a=x+y%21&b=&c").at("a"), "x y!");
}

TEST(SmsHttpTemplate, UnknownVariablesAndUnclosedBracesAreRefused) {
  std::string error;
  EXPECT_FALSE(Template::parse("to={{phone}}", error));
  EXPECT_THAT(error, HasSubstr("{{phone}}"));
  EXPECT_FALSE(Template::parse("to={{to", error));
  EXPECT_THAT(error, HasSubstr("{{"));
  // Single braces are JSON, not variables.
  EXPECT_TRUE(Template::parse(R"({"a":{"b":"{{id}}"}})", error));
}

// The errors configure() records for one [[adapters]] entry.
std::vector<std::string> config_errors(const std::string& body) {
  auto cfg = config::load_string("[[adapters]]\nid = \"sms\"\ntype = \"sms-http\"\n" + body, "village.toml");
  EXPECT_EQ(cfg.adapters.size(), 1u);
  if (cfg.adapters.empty()) return *cfg.errors;
  SmsHttp adapter;
  adapter.configure(*cfg.adapters[0].section);
  config::finish_section(*cfg.adapters[0].section);
  return *cfg.errors;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(SmsHttpConfig, MistakesAreReportedWithTheFileLineAndKey) {
  const std::string good = "url = \"https://gw.example/send\"\n";
  EXPECT_EQ(joined(config_errors(good)), "");

  EXPECT_THAT(joined(config_errors("method = \"POST\"\n")),
              HasSubstr("village.toml:1: key 'adapters[0].url': is required"));
  EXPECT_THAT(joined(config_errors(good + "method = \"DELETE\"\n")),
              HasSubstr("village.toml:5: key 'adapters[0].method': must be \"GET\", \"POST\" or \"PUT\""));
  EXPECT_THAT(joined(config_errors(good + "[adapters.message_id]\npointer = \"data/msgid\"\n")),
              HasSubstr("village.toml:6: key 'adapters[0].message_id.pointer': is not a JSON pointer"));
  EXPECT_THAT(joined(config_errors(good + "[adapters.message_id]\nregex = \"id=([0-9\"\n")),
              HasSubstr("key 'adapters[0].message_id.regex': is not a valid regular expression"));
  EXPECT_THAT(joined(config_errors(good + "[adapters.message_id]\nregex = \"id=[0-9]+\"\n")),
              HasSubstr("key 'adapters[0].message_id.regex': must have exactly one group"));
  EXPECT_THAT(joined(config_errors(good + "[adapters.success]\npointer = \"/code\"\n")),
              HasSubstr("key 'adapters[0].success.pointer': needs `equals`"));
  EXPECT_THAT(joined(config_errors(good + "[adapters.success]\nstatus = [\"200\", \"abc\"]\n")),
              HasSubstr("key 'adapters[0].success.status': 'abc' is not an HTTP status"));
  EXPECT_THAT(joined(config_errors(good + "body = \"to={{phone}}\"\n")),
              HasSubstr("key 'adapters[0].body': unknown variable {{phone}}"));
  EXPECT_THAT(joined(config_errors(good + "content_type = \"json\"\nbody = '{\"text\":{{text}}}'\n")),
              HasSubstr("key 'adapters[0].body': is not JSON once its variables are filled in"));
  EXPECT_THAT(joined(config_errors(good + "content_type = \"xml\"\n")), HasSubstr("key 'adapters[0].content_type'"));
  EXPECT_THAT(joined(config_errors(good + "method = \"GET\"\nbody = \"a={{text}}\"\n")),
              HasSubstr("key 'adapters[0].body': a GET request has no body"));
  EXPECT_THAT(joined(config_errors(good + "headers = [\"Authorization Bearer x\"]\n")),
              HasSubstr("key 'adapters[0].headers'"));
  EXPECT_THAT(joined(config_errors(good + "split = \"bytes\"\n")), HasSubstr("key 'adapters[0].split'"));
  // Callbacks need a secret unless auth = "none" says otherwise.
  EXPECT_THAT(joined(config_errors(good + "[adapters.receive]\nfrom_field = \"mobile\"\n")),
              HasSubstr("key 'adapters[0].secret': is required"));
  EXPECT_EQ(joined(config_errors(good + "auth = \"none\"\n[adapters.receive]\nfrom_field = \"mobile\"\n")), "");
  // A misspelt key is not silently ignored.
  EXPECT_THAT(joined(config_errors(good + "mehtod = \"GET\"\n")), HasSubstr("mehtod"));
}

TEST(SmsHttpConfig, EveryDocumentedKeyIsAccepted) {
  ::setenv("SMS_HTTP_UNIT_TOKEN", "t0ken", 1);
  ::setenv("SMS_HTTP_UNIT_SECRET", "0123456789abcdef0123", 1);
  const std::string full =
      "url = \"https://sms.example.cn/api/send?cid={{id}}\"\nmethod = \"PUT\"\ncontent_type = \"json\"\n"
      "body = '{\"mobile\":\"{{to_national}}\",\"content\":\"{{text}}\",\"n\":{{part}},\"of\":{{parts}},"
      "\"e164\":\"{{to}}\",\"sign\":\"{{from}}\"}'\n"
      "headers = [\"Authorization: Bearer ${SMS_HTTP_UNIT_TOKEN}\", \"X-Trace: {{id}}\"]\n"
      "from = \"106900\"\nsignature = \"【幸福村】\"\nmax_length = 300\nsplit = \"parts\"\ntimeout_ms = 5000\n"
      "retry_status = [\"429\", \"500\", \"503\"]\ncost_per_segment = 0.05\n"
      "auth = \"hmac\"\nsecret = \"${SMS_HTTP_UNIT_SECRET}\"\nauth_header = \"X-Sign\"\nauth_query = \"t\"\n"
      "[adapters.success]\nstatus = [\"200\", \"201\"]\ncontains = \"ok\"\npointer = \"/code\"\nequals = \"0\"\n"
      "[adapters.message_id]\nregex = 'msgid=(\\w+)'\n"
      "[adapters.report]\nid_field = \"/data/msgid\"\nstatus_field = \"stat\"\nerror_field = \"err\"\n"
      "delivered_values = [\"DELIVRD\"]\nfailed_values = [\"UNDELIV\"]\nresponse = \"ok\"\n"
      "[adapters.receive]\nfrom_field = \"mobile\"\ntext_field = \"content\"\nid_field = \"mo_id\"\n"
      "response = \"{\\\"code\\\":0}\"\nresponse_content_type = \"application/json\"\n";
  EXPECT_EQ(joined(config_errors(full)), "");
}

// Settings as the adapter reads them, for the matcher tests.
SmsHttpSettings settings_of(const std::string& body) {
  auto cfg = config::load_string("[[adapters]]\nid = \"sms\"\ntype = \"sms-http\"\nurl = \"http://g/\"\n" + body,
                                 "village.toml");
  auto s = read_settings(*cfg.adapters.at(0).section);
  EXPECT_EQ(joined(*cfg.errors), "");
  return s;
}

ClientResponse answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  ClientResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(SmsHttpMatcher, AJsonGatewayIsJudgedByItsCodeAndItsIdTakenByPointer) {
  const auto s = settings_of(
      "[adapters.success]\nstatus = [\"200\", \"201\"]\npointer = \"/code\"\nequals = \"0\"\n"
      "[adapters.message_id]\npointer = \"/data/msgid\"\n");
  auto v = evaluate(s, answer(200, R"({"code":"0","data":{"msgid":"G-42"}})"), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::sent);
  EXPECT_EQ(v.result.provider_id, "G-42");
  // Numbers compare as JSON writes them; a numeric id becomes its digits.
  v = evaluate(s, answer(201, R"({"code":0,"data":{"msgid":9007199254740993}})"), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::sent);
  EXPECT_EQ(v.result.provider_id, "9007199254740993");
  // No id where the pointer says: sent, under our own id, and flagged for a warning.
  v = evaluate(s, answer(200, R"({"code":"0"})"), "vb-1");
  EXPECT_EQ(v.result.provider_id, "vb-1");
  EXPECT_FALSE(v.id_found);
  // 200 with another code is the gateway's refusal, in its words, the phone masked.
  v = evaluate(s, answer(200, R"({"code":"1001","msg":"余额不足 13800000001"})"), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::failed);
  EXPECT_THAT(v.result.error, HasSubstr("余额不足 138****0001"));
  EXPECT_THAT(v.result.error, Not(HasSubstr("13800000001")));
  // 202 is not among the success codes here.
  EXPECT_EQ(evaluate(s, answer(202, R"({"code":"0"})"), "vb-1").result.status, SendResult::Status::failed);
  // Not JSON at all.
  EXPECT_EQ(evaluate(s, answer(200, "<html>busy</html>"), "vb-1").result.status, SendResult::Status::failed);
}

TEST(SmsHttpMatcher, ATextGatewayIsJudgedBySubstringAndItsIdTakenByRegex) {
  const auto s = settings_of(
      "[adapters.success]\ncontains = \"result=0\"\n[adapters.message_id]\nregex = 'msgid=([A-Za-z0-9]+)'\n");
  auto v = evaluate(s, answer(200, "result=0&msgid=ab12CD"), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::sent);
  EXPECT_EQ(v.result.provider_id, "ab12CD");
  v = evaluate(s, answer(200, "result=-3&desc=blacklisted"), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::failed);
  EXPECT_THAT(v.result.error, HasSubstr("result=-3&desc=blacklisted"));
}

TEST(SmsHttpMatcher, BusyIsRetriedAfterRetryAfterAndOtherRefusalsAreFinal) {
  const auto s = settings_of("");
  auto v = evaluate(s, answer(503, "busy", {{"retry-after", "7"}}), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::retry);
  EXPECT_EQ(v.result.retry_after_s, 7);
  EXPECT_EQ(evaluate(s, answer(429, "slow down"), "vb-1").result.status, SendResult::Status::retry);
  ClientResponse unreachable;
  unreachable.error = "cannot connect to 10.0.0.1:80";
  unreachable.unreachable = true;
  // Unreachable: held (the gateway is down), not an attempt used up (issue 13); a timeout after
  // the request went out is an attempt.
  EXPECT_EQ(evaluate(s, unreachable, "vb-1").result.status, SendResult::Status::held);
  ClientResponse timed_out;
  timed_out.error = "no valid response: timed out";
  EXPECT_EQ(evaluate(s, timed_out, "vb-1").result.status, SendResult::Status::retry);
  // A long answer is cut at a character, never inside one, and its phones masked before the cut.
  std::string body = "无效号码 13800000001 ";
  while (body.size() < 1000) body += "错误";
  v = evaluate(s, answer(400, body), "vb-1");
  EXPECT_EQ(v.result.status, SendResult::Status::failed);
  EXPECT_THAT(v.result.error, HasSubstr("HTTP 400"));
  EXPECT_THAT(v.result.error, HasSubstr("138****0001"));
  EXPECT_LT(v.result.error.size(), 320u);
  EXPECT_TRUE(text::valid_utf8(v.result.error));
  // Without a message_id extractor the id we sent is the provider id.
  EXPECT_EQ(evaluate(s, answer(200, "ok"), "vb-9").result.provider_id, "vb-9");
}

TEST(SmsHttpTexts, TheSignatureCountsAndALongTextIsCutOrSplitIntoSmsParts) {
  auto s = settings_of("signature = \"【幸福村】\"\nsplit = \"parts\"\n");
  std::string text;
  for (int i = 0; i < 30; ++i) text += "明天上午停水";  // 180 characters
  auto parts = message_texts(s, text);
  const auto expected = sms::split(text, "【幸福村】");
  ASSERT_EQ(parts, expected.parts);
  EXPECT_EQ(parts.size(), 3u);  // 185 UCS-2 units / 67 per part
  std::string joined_parts;
  for (const auto& p : parts) joined_parts += p;
  EXPECT_EQ(joined_parts, "【幸福村】" + text);

  s = settings_of("signature = \"【幸福村】\"\nmax_length = 20\n");
  parts = message_texts(s, text);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(text::length_u32(parts[0]), 20u);
  EXPECT_TRUE(parts[0].starts_with("【幸福村】明天"));
  EXPECT_TRUE(parts[0].ends_with("…"));
  EXPECT_EQ(national_number("+8613800000001"), "13800000001");
  EXPECT_EQ(national_number("+447700900123"), "447700900123");
}

TEST(SmsHttpCallbacks, FieldsComeFromJsonFormOrQueryAndTokensAreCheckedWholly) {
  HttpRequest req;
  req.method = "POST";
  req.query = "token=s3cret-token-0123456789&extra=1";
  req.headers["content-type"] = "application/json";
  req.body = R"([{"data":{"msgid":"m1"},"stat":"DELIVRD"},{"data":{"msgid":7},"stat":"UNDELIV"}])";
  std::string error;
  auto fields = callback_fields(req, error, true);
  ASSERT_EQ(fields.size(), 2u) << error;
  EXPECT_EQ(fields[0].get("/data/msgid"), "m1");
  EXPECT_EQ(fields[1].get("/data/msgid"), "7");
  EXPECT_EQ(fields[1].get("stat"), "UNDELIV");
  EXPECT_EQ(fields[0].get("extra"), "1");

  req.headers["content-type"] = "application/x-www-form-urlencoded";
  req.body = "from=13800000001&text=%E7%A7%AF%E5%88%86";
  fields = callback_fields(req, error, true);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].get("text"), "积分");
  req.body = "text=%FF%FE";
  EXPECT_TRUE(callback_fields(req, error, true).empty());
  EXPECT_THAT(error, HasSubstr("UTF-8"));
  req.body = "\xff";
  EXPECT_TRUE(callback_fields(req, error, true).empty());

  auto s = settings_of("secret = \"s3cret-token-0123456789\"\n");
  EXPECT_TRUE(callback_authentic(s, req));  // the query's token
  req.query = "token=s3cret-token-012345678";
  EXPECT_FALSE(callback_authentic(s, req));  // a prefix is not the token
  req.headers["x-villagebot-token"] = "s3cret-token-0123456789";
  EXPECT_TRUE(callback_authentic(s, req));

  s = settings_of("auth = \"hmac\"\nsecret = \"s3cret-token-0123456789\"\nauth_header = \"X-Sign\"\n");
  req.body = "msgid=1&stat=DELIVRD";
  req.headers["x-sign"] = "sha256=" + crypto::to_hex(crypto::hmac_sha256("s3cret-token-0123456789", req.body));
  EXPECT_TRUE(callback_authentic(s, req));
  req.headers["x-sign"] = crypto::base64_encode(crypto::hmac_sha256("s3cret-token-0123456789", req.body));
  EXPECT_TRUE(callback_authentic(s, req));
  req.body += "&x=1";
  EXPECT_FALSE(callback_authentic(s, req));
}

TEST(SmsHttpCallbacks, AnHmacSignatureCoversTheQueryOfABodilessPostAndIsNeverGoodForAnotherMessage) {
  const std::string secret = "s3cret-token-0123456789";
  const auto s = settings_of("auth = \"hmac\"\nsecret = \"" + secret + "\"\nauth_header = \"X-Sign\"\n");
  auto sign = [&](const std::string& payload) { return crypto::to_hex(crypto::hmac_sha256(secret, payload)); };

  // A POST without a body is signed over its query, like a GET: the signature over "" (the same for
  // every bodiless request) does not let a forged query in.
  HttpRequest post;
  post.method = "POST";
  post.query = "mobile=13800000001&content=%E7%A7%AF%E5%88%86&mo_id=forged";
  post.headers["x-sign"] = sign("");
  EXPECT_EQ(signed_payload(post), post.query);
  EXPECT_FALSE(callback_authentic(s, post));
  post.headers["x-sign"] = sign(post.query);
  EXPECT_TRUE(callback_authentic(s, post));
  EXPECT_TRUE(query_trusted(s, post));
  std::string error;
  auto fields = callback_fields(post, error, query_trusted(s, post));
  ASSERT_EQ(fields.size(), 1u) << error;
  EXPECT_EQ(fields[0].get("content"), "积分");
  // The signature of one query is not good for another.
  post.query = "mobile=13800000001&content=%E7%A7%AF%E5%88%86&mo_id=forged2";
  EXPECT_FALSE(callback_authentic(s, post));

  // With a body, the body is what is signed, so no field is read from the (unsigned) query.
  HttpRequest with_body;
  with_body.method = "POST";
  with_body.headers["content-type"] = "application/x-www-form-urlencoded";
  with_body.body = "stat=DELIVRD";
  with_body.query = "msgid=someone-elses";
  with_body.headers["x-sign"] = sign(with_body.body);
  EXPECT_TRUE(callback_authentic(s, with_body));
  EXPECT_FALSE(query_trusted(s, with_body));
  fields = callback_fields(with_body, error, query_trusted(s, with_body));
  ASSERT_EQ(fields.size(), 1u) << error;
  EXPECT_EQ(fields[0].get("stat"), "DELIVRD");
  EXPECT_EQ(fields[0].get("msgid"), std::nullopt);

  // A token authenticates the caller, not the content: the query's fields are read as before.
  const auto token = settings_of("secret = \"" + secret + "\"\n");
  EXPECT_TRUE(query_trusted(token, with_body));
}

}  // namespace
}  // namespace villagebot::adapters::sms_http

// The Tencent Cloud SMS adapter: TC3-HMAC-SHA256 reproduces Tencent's published example; against a
// local HTTPS server impersonating sms.tencentcloudapi.com (which re-computes every request's
// signature itself) a message goes out with its kind's template and parameter position, frequency
// limits are retried, a refusal fails with Tencent's words (and the do-not-disturb list opts the
// person out), a kind without a template is refused without a request, a status report marks a
// message delivered, and 积分 texted back (上行回复) is answered by SMS; the callbacks want the
// token and a well-formed body.
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_http.hpp"
#include "platform_fixture.hpp"
#include "tencent_sms.hpp"
#include "testkit.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

json vectors() {
  std::ifstream in(std::string(VILLAGEBOT_SOURCE_DIR) + "/tests/adapters/vectors/signatures.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(TencentSignature, ReproducesTencentsPublishedExample) {
  const json e = vectors().at("tencent_tc3_hmac_sha256");
  const std::string payload = e["payload"];
  EXPECT_EQ(crypto::sha256_hex(payload), e["payload_sha256_hex"].get<std::string>());
  const std::string canonical = adapters::tc3_canonical_request(e["content_type"], e["host"], payload);
  EXPECT_EQ(crypto::sha256_hex(canonical), e["canonical_request_sha256_hex"].get<std::string>());
  const std::int64_t ts = e["timestamp"];
  EXPECT_EQ(adapters::tc3_date(ts), e["date_utc"].get<std::string>());
  const std::string to_sign = adapters::tc3_string_to_sign(ts, e["service"], canonical);
  EXPECT_EQ(adapters::tc3_signature(e["secret_key"], e["date_utc"], e["service"], to_sign),
            e["expected_signature_hex"].get<std::string>());
  EXPECT_EQ(adapters::tc3_authorization(e["secret_id"], e["secret_key"], e["service"], e["host"], e["content_type"],
                                        payload, ts),
            "TC3-HMAC-SHA256 Credential=" + e["secret_id"].get<std::string>() + "/2019-02-25/cvm/tc3_request, " +
                "SignedHeaders=content-type;host, Signature=" + e["expected_signature_hex"].get<std::string>());
}

TEST(TencentResult, FrequencyLimitsWaitRefusalsFailTheBlacklistOptsOut) {
  auto answer = [](const json& body) {
    return adapters::tencent_result(ClientResponse{200, "", body.dump(), {}, false});
  };
  auto status = [](const std::string& code, const std::string& message) {
    return json{{"Response",
                 {{"SendStatusSet",
                   {{{"SerialNo", code == "Ok" ? "5000:104571066915705365784949619" : ""},
                     {"PhoneNumber", "+8613800000001"},
                     {"Fee", 1},
                     {"SessionContext", ""},
                     {"Code", code},
                     {"Message", message},
                     {"IsoCode", "CN"}}}},
                  {"RequestId", "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}}};
  };
  auto error = [](const std::string& code, const std::string& message) {
    return json{{"Response", {{"Error", {{"Code", code}, {"Message", message}}}, {"RequestId", "r"}}}};
  };
  auto ok = answer(status("Ok", "send success"));
  EXPECT_EQ(ok.result.status, SendResult::Status::sent);
  EXPECT_EQ(ok.result.provider_id, "5000:104571066915705365784949619");

  EXPECT_EQ(answer(error("RequestLimitExceeded", "请求的次数超过了频率限制。")).result.status,
            SendResult::Status::retry);
  auto thirty =
      answer(status("LimitExceeded.PhoneNumberThirtySecondLimit", "单个手机号30秒内下发短信条数超过设定的上限"));
  EXPECT_EQ(thirty.result.status, SendResult::Status::retry);
  EXPECT_EQ(thirty.result.retry_after_s, 30);
  EXPECT_EQ(answer(status("LimitExceeded.PhoneNumberDailyLimit", "日上限")).result.retry_after_s, 3600);
  EXPECT_EQ(answer(error("InternalError.Timeout", "超时")).result.status, SendResult::Status::retry);
  auto money = answer(status("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足"));
  EXPECT_EQ(money.result.status, SendResult::Status::retry);
  EXPECT_TRUE(money.account_problem);

  for (const auto& body : {error("AuthFailure.SignatureFailure", "The provided credentials could not be validated."),
                           status("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"),
                           status("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配"),
                           status("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误"),
                           status("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", "混合")}) {
    auto r = answer(body);
    EXPECT_EQ(r.result.status, SendResult::Status::failed) << body.dump();
    EXPECT_FALSE(r.refuses);
  }
  auto black = answer(status("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中"));
  EXPECT_EQ(black.result.status, SendResult::Status::failed);
  EXPECT_THAT(black.result.error, HasSubstr("手机号在免打扰名单库中"));
  EXPECT_TRUE(black.refuses);
  EXPECT_EQ(adapters::tencent_result(ClientResponse{502, "", "<html/>", {}, false}).result.status,
            SendResult::Status::retry);

  // Tencent's words can quote the number: masked before they reach the log and the outbox.
  auto quoted = answer(status("InvalidParameterValue.IncorrectPhoneNumber", "手机号+8613800000001格式错误"));
  EXPECT_THAT(quoted.result.error, HasSubstr("手机号138****0001格式错误"));
  EXPECT_THAT(quoted.result.error, Not(HasSubstr("13800000001")));
  // An odd answer (a number where a string belongs) fails plainly instead of throwing.
  auto odd = answer(json{{"Response", {{"Error", {{"Code", 7}, {"Message", nullptr}}}}}});
  EXPECT_EQ(odd.result.status, SendResult::Status::failed);
  EXPECT_THAT(odd.result.error, HasSubstr("7"));
}

TEST(TencentCallbacks, MalformedCallbacksAreRefusedWhole) {
  std::string error;
  EXPECT_FALSE(adapters::tencent_parse_reports("{", error));
  EXPECT_FALSE(adapters::tencent_parse_reports(R"([{"sid":"x"}])", error));
  EXPECT_FALSE(adapters::tencent_parse_replies(R"({"mobile":"13800000001"})", error));
  EXPECT_FALSE(adapters::tencent_parse_replies(R"("积分")", error));
  auto one = adapters::tencent_parse_replies(
      R"({"extend":"","mobile":"13800000001","nationcode":"86","sign":"幸福村","text":"积分","time":1480569031})",
      error);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].sender, "+8613800000001");
  // The same reply pushed twice has the same id; another text from the same number at the same second does not.
  auto again =
      adapters::tencent_parse_replies(R"([{"mobile":"13800000001","nationcode":"86","text":"积分","time":1480569031},)"
                                      R"({"mobile":"13800000001","nationcode":"86","text":"排班","time":1480569031}])",
                                      error);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[0].message_id, (*one)[0].message_id);
  EXPECT_NE((*again)[1].message_id, (*one)[0].message_id);
  // The same words on another day are another message.
  auto later = adapters::tencent_parse_replies(R"({"mobile":"13800000001","text":"积分","time":1480655431})", error);
  ASSERT_TRUE(later);
  EXPECT_NE((*later)[0].message_id, (*one)[0].message_id);
  // Without a usable time the id could not tell them apart: the push is refused whole.
  for (const char* time :
       {"", R"(,"time":null)", R"(,"time":"yesterday")", R"(,"time":1.5)", R"(,"time":-3)", R"(,"time":0)"}) {
    error.clear();
    EXPECT_FALSE(adapters::tencent_parse_replies(
        std::string(
            R"([{"mobile":"13800000001","text":"好","time":1480569031},{"mobile":"13800000001","text":"积分")") +
            time + "}]",
        error))
        << time;
    EXPECT_THAT(error, HasSubstr("time"));
  }
  EXPECT_TRUE(adapters::tencent_parse_replies(R"({"mobile":"13800000001","text":"积分","time":"1480569031"})", error))
      << "a time written as a string of digits is still a time";

  // Receipts with a null or numeric errmsg / description are read, not thrown on (a 500 loses the batch).
  auto reports = adapters::tencent_parse_reports(
      R"([{"sid":"a","report_status":"FAIL","errmsg":null,"description":404},)"
      R"({"sid":"b","report_status":"FAIL","errmsg":"MK:0001","description":"空号13800000001"},)"
      R"({"sid":"c","report_status":"FAIL","errmsg":[1]}])",
      error);
  ASSERT_TRUE(reports) << error;
  ASSERT_EQ(reports->size(), 3u);
  EXPECT_EQ((*reports)[0].error, "404");
  EXPECT_EQ((*reports)[1].error, "MK:0001 空号138****0001");
  EXPECT_EQ((*reports)[2].error, "");
  EXPECT_FALSE((*reports)[2].delivered);
}

// ---- against a local server impersonating Tencent Cloud

constexpr const char* kSecretId = "AKIDvillagebotTEST";
constexpr const char* kSecretKey = "villagebot-test-secret-key";
constexpr const char* kToken = "tencent-Token_0123456789";

std::string header(const ReceivedRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// The test's own TC3 check, from what arrived: the body, the Host and Content-Type headers sent.
bool signature_holds(const ReceivedRequest& r) {
  const std::string ts = header(r, "x-tc-timestamp");
  if (ts.empty()) return false;
  const std::time_t t = static_cast<std::time_t>(std::stoll(ts));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  const std::string canonical = "POST\n/\n\ncontent-type:" + header(r, "content-type") + "\nhost:" + header(r, "host") +
                                "\n\ncontent-type;host\n" + crypto::sha256_hex(r.body);
  const std::string to_sign =
      "TC3-HMAC-SHA256\n" + ts + "\n" + date + "/sms/tc3_request\n" + crypto::sha256_hex(canonical);
  const std::string k1 = crypto::hmac_sha256(std::string("TC3") + kSecretKey, date);
  const std::string k2 = crypto::hmac_sha256(k1, "sms");
  const std::string k3 = crypto::hmac_sha256(k2, "tc3_request");
  const std::string expected = "TC3-HMAC-SHA256 Credential=" + std::string(kSecretId) + "/" + date +
                               "/sms/tc3_request, SignedHeaders=content-type;host, Signature=" +
                               crypto::to_hex(crypto::hmac_sha256(k3, to_sign));
  return header(r, "authorization") == expected;
}

json sent_ok(int serial) {
  return {{"Response",
           {{"SendStatusSet",
             {{{"SerialNo", "5000:" + std::to_string(serial)},
               {"PhoneNumber", "+8613800000001"},
               {"Fee", 1},
               {"Code", "Ok"},
               {"Message", "send success"},
               {"IsoCode", "CN"}}}},
            {"RequestId", "req"}}}};
}

class Tencent : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    ::setenv("VB_TEST_TENCENT_KEY", kSecretKey, 1);
    start_platform([this](const ReceivedRequest& r) {
      std::lock_guard lock(mutex_);
      if (r.method != "POST" || header(r, "x-tc-action") != "SendSms" || header(r, "x-tc-version") != "2021-01-11" ||
          header(r, "x-tc-region") != "ap-guangzhou" || !signature_holds(r)) {
        ++bad_signatures_;
        return FakeResponse{200, R"({"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"}}})"};
      }
      sends_.push_back(json::parse(r.body));
      if (!answers_.empty()) {
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      return FakeResponse{200, sent_ok(++serial_).dump()};
    });
    testkit::Options so;
    so.plugins = {"points"};
    so.extra_toml = std::string("[[adapters]]\nid = \"tc\"\ntype = \"tencent-sms\"\napi_base = \"") + api_->url("/") +
                    "\"\nsecret_id = \"" + kSecretId +
                    "\"\nsecret_key = \"${VB_TEST_TENCENT_KEY}\"\nsdk_app_id = \"1400006666\"\nsign_name = \"幸福村\"\n"
                    "callback_token = \"" +
                    kToken +
                    "\"\n\n[[adapters.templates]]\nkind = \"reply\"\ncode = \"200001\"\n"
                    "\n[[adapters.templates]]\nkind = \"emergency\"\ncode = \"200003\"\nparam = 2\n"
                    "params = [\"幸福村\", \"\"]\n" +
                    client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }

  std::vector<json> sends() {
    std::lock_guard lock(mutex_);
    return sends_;
  }
  std::int64_t send(const std::string& text, Priority priority, const std::string& to = "+8613800000001") {
    OutboundMessage m;
    m.adapter_id = "tc";
    m.address = to;
    m.text = text;
    m.priority = priority;
    return server_->runtime().messenger().send(m);
  }
  bool has_status(std::int64_t id, const std::string& status, const std::string& error_like = "%") {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) + " AND status = '" +
                          status + "' AND last_error LIKE '" + error_like + "'") == 1;
  }
  testkit::HttpResult callback(const std::string& path, const std::string& body, const std::string& token = kToken) {
    return server_->request("POST", "/hooks/tc/" + path + (token.empty() ? "" : "?token=" + token), body,
                            {{"Content-Type", "application/json"}});
  }
  void answer_next(std::vector<FakeResponse> answers) {
    std::lock_guard lock(mutex_);
    answers_ = std::move(answers);
  }

  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
  std::vector<json> sends_;
  int serial_ = 0;
  int bad_signatures_ = 0;
};

TEST_F(Tencent, AMessageGoesOutSignedWithItsTemplateAndAStatusReportMarksItDelivered) {
  const auto id = send("明天停水。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return has_status(id, "sent"); }));
  ASSERT_EQ(sends().size(), 1u);
  const json b = sends()[0];
  EXPECT_EQ(bad_signatures_, 0);
  EXPECT_EQ(b["PhoneNumberSet"], json::array({"+8613800000001"}));
  EXPECT_EQ(b["SmsSdkAppId"], "1400006666");
  EXPECT_EQ(b["SignName"], "幸福村");
  EXPECT_EQ(b["TemplateId"], "200003");
  EXPECT_EQ(b["TemplateParamSet"], json::array({"幸福村", "明天停水。"})) << "the text at the template's position 2";
  EXPECT_FALSE(b.value("SessionContext", std::string()).empty());
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE provider_id = '5000:1'"), 1);

  const std::string report = json::array({{{"user_receive_time", "2026-11-30 10:00:05"},
                                           {"nationcode", "86"},
                                           {"mobile", "13800000001"},
                                           {"report_status", "SUCCESS"},
                                           {"errmsg", "DELIVRD"},
                                           {"description", "用户短信送达成功"},
                                           {"sid", "5000:1"}}})
                                 .dump();
  EXPECT_EQ(callback("report", report, "wrong-token-0123456789").status, 401);
  EXPECT_EQ(callback("report", report, "").status, 401);
  EXPECT_EQ(callback("report", "[{\"sid\":", kToken).status, 400);
  EXPECT_EQ(callback("report", R"({"sid":"5000:1","report_status":"SUCCESS"})", kToken).status, 400);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(has_status(id, "sent"));
  auto r = callback("report", report);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["result"], 0);
  ASSERT_TRUE(eventually([&] { return has_status(id, "delivered"); }));
}

TEST_F(Tencent, AReportWithANullErrmsgIsTakenAndTheSignNameCountsInTheParts) {
  // 66 characters fit one SMS (70); with 【幸福村】 in front, which the carrier adds, 71 take two.
  std::string text;
  for (int i = 0; i < 11; ++i) text += "明天上午停水";
  const auto id = send(text, Priority::emergency);
  ASSERT_TRUE(eventually([&] { return has_status(id, "sent"); }));
  EXPECT_EQ(server_->count("SELECT segments FROM core_outbox WHERE id = " + std::to_string(id)), 2);
  const json report = json::array({{{"mobile", "13800000001"},
                                    {"report_status", "FAIL"},
                                    {"errmsg", nullptr},
                                    {"description", 13800000001LL},
                                    {"sid", "5000:1"}}});
  const auto r = callback("report", report.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return has_status(id, "failed", "%138****0001%"); }));
}

TEST_F(Tencent, FrequencyLimitsAreRetriedRefusalsFailAndTheBlacklistOptsThePersonOut) {
  answer_next({FakeResponse{
      200,
      R"({"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"请求的次数超过了频率限制。"},"RequestId":"r"}})"}});
  const auto id = send("明天停水。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return has_status(id, "sent"); }));
  EXPECT_EQ(sends().size(), 2u) << "throttled once, then sent";

  auto refused = [](const std::string& code, const std::string& message) {
    return FakeResponse{
        200, json{{"Response",
                   {{"SendStatusSet", {{{"SerialNo", ""}, {"Code", code}, {"Message", message}}}}, {"RequestId", "r"}}}}
                 .dump()};
  };
  answer_next({refused("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")});
  const auto bad = send("明天停水。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return has_status(bad, "failed", "%TemplateIncorrectOrUnapproved%模板未审批%"); }));

  const auto persons_out = "SELECT COUNT(*) FROM core_persons WHERE phone = '+8613800000003' AND opted_out = 1";
  EXPECT_EQ(server_->count(persons_out), 0);
  answer_next({refused("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中")});
  const auto black = send("明天停水。", Priority::emergency, "+8613800000003");
  ASSERT_TRUE(eventually([&] { return has_status(black, "failed", "%免打扰%"); }));
  ASSERT_TRUE(eventually([&] { return server_->count(persons_out) == 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sends().size(), 4u) << "refusals are not retried";
  EXPECT_EQ(bad_signatures_, 0);
}

TEST_F(Tencent, AKindWithoutATemplateIsRefusedWithoutARequest) {
  const auto id = send("周六上午清扫河道。", Priority::notice);
  ASSERT_TRUE(eventually([&] {
    return has_status(id, "failed", "%没有适用于「通知」类消息的短信模板%no approved SMS template for notice%");
  }));
  EXPECT_TRUE(to("/").empty());
}

TEST_F(Tencent, PointsTextedBackAreAnsweredBySmsAndOnlyTheTokenGetsIn) {
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  const std::string reply =
      R"({"extend":"","mobile":"13800000001","nationcode":"86","sign":"幸福村","text":"积分","time":1796004000})";
  EXPECT_EQ(callback("reply", reply, "wrong-token-0123456789").status, 401);
  EXPECT_EQ(callback("reply", reply, "").status, 401);
  EXPECT_EQ(callback("reply", R"({"mobile":"13800000001","text":)", kToken).status, 400);
  EXPECT_EQ(callback("reply", R"([{"mobile":"13800000001"}])", kToken).status, 400);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_TRUE(sends().empty());

  auto r = callback("reply", reply);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"], 0);
  ASSERT_TRUE(eventually([&] { return sends().size() == 1; }));
  const json b = sends()[0];
  EXPECT_EQ(b["PhoneNumberSet"], json::array({"+8613800000001"}));
  EXPECT_EQ(b["TemplateId"], "200001");
  ASSERT_EQ(b["TemplateParamSet"].size(), 1u);
  EXPECT_THAT(b["TemplateParamSet"][0].get<std::string>(), HasSubstr("积分"));
  EXPECT_EQ(bad_signatures_, 0);

  // Pushed again (as an array this time, with the token in the path): answered once.
  EXPECT_EQ(server_->request("POST", std::string("/hooks/tc/reply/") + kToken, "[" + reply + "]").status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sends().size(), 1u);
}

}  // namespace
}  // namespace villagebot

// The Aliyun SMS adapter: the RPC signature v1 reproduces Aliyun's published examples; against a
// local HTTPS server impersonating dysmsapi.aliyuncs.com (which re-computes every request's
// signature itself) a message goes out with its kind's template, throttling is retried, a refusal
// fails with Aliyun's words, a kind without a template is refused without a request, a long text
// goes as labelled parts that a retry never repeats, receipts mark messages delivered, and 积分
// texted through SmsUp is answered by SMS; the push routes want the token and a well-formed body.
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aliyun_sms.hpp"
#include "cloud_sms.hpp"
#include "fake_http.hpp"
#include "platform_fixture.hpp"
#include "testkit.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/text.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

json vectors() {
  std::ifstream in(std::string(VILLAGEBOT_SOURCE_DIR) + "/tests/adapters/vectors/signatures.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::map<std::string, std::string> params_of(const json& j) {
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value().get<std::string>();
  return out;
}

TEST(AliyunSignature, ReproducesAliyunsPublishedExamples) {
  const json v = vectors();
  for (const char* name : {"aliyun_rpc_v1_describe_regions", "aliyun_sendsms"}) {
    const json& e = v.at(name);
    EXPECT_EQ(adapters::aliyun_signature(e["access_key_secret"], e["method"], params_of(e["params"])),
              e["expected"].get<std::string>())
        << name;
  }
  EXPECT_EQ(adapters::aliyun_percent_encode("a b*c~d/é"), "a%20b%2Ac~d%2F%C3%A9");
}

TEST(AliyunResult, ThrottlingWaitsAccountTroubleWaitsLongRefusalsFail) {
  auto answer = [](int status, const std::string& body) {
    return adapters::aliyun_result(ClientResponse{status, "", body, {}, false});
  };
  auto ok = answer(200, R"({"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"r"})");
  EXPECT_EQ(ok.result.status, SendResult::Status::sent);
  EXPECT_EQ(ok.result.provider_id, "900619746936498440^0");

  auto limit = answer(200, R"({"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控Permits:1"})");
  EXPECT_EQ(limit.result.status, SendResult::Status::retry);
  EXPECT_EQ(limit.result.retry_after_s, 60);
  EXPECT_EQ(
      answer(200, R"({"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发天级流控Permits:10"})").result.retry_after_s,
      3600);
  EXPECT_EQ(answer(400, R"({"Code":"Throttling.User","Message":"Request was denied due to user flow control."})")
                .result.status,
            SendResult::Status::retry);

  auto money = answer(200, R"({"Code":"isv.AMOUNT_NOT_ENOUGH","Message":"账户余额不足"})");
  EXPECT_EQ(money.result.status, SendResult::Status::retry);
  EXPECT_GE(money.result.retry_after_s, 600);
  EXPECT_TRUE(money.account_problem);

  for (const char* code : {"isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL",
                           "isv.TEMPLATE_MISSING_PARAMETERS", "isv.BLACK_KEY_CONTROL_LIMIT",
                           "InvalidAccessKeyId.NotFound", "SignatureDoesNotMatch"}) {
    auto r = answer(code[0] == 'i' && code[1] == 's' ? 200 : 400,
                    json{{"Code", code}, {"Message", "the vendor's words"}}.dump());
    EXPECT_EQ(r.result.status, SendResult::Status::failed) << code;
    EXPECT_THAT(r.result.error, HasSubstr(code));
    EXPECT_THAT(r.result.error, HasSubstr("the vendor's words"));
  }
  // Aliyun's words can quote the number: they reach the log and the outbox masked.
  auto quoted = answer(200, R"({"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"手机号码13800000001格式错误"})");
  EXPECT_EQ(quoted.result.status, SendResult::Status::failed);
  EXPECT_THAT(quoted.result.error, HasSubstr("手机号码138****0001格式错误"));
  EXPECT_THAT(quoted.result.error, Not(HasSubstr("13800000001")));
  EXPECT_EQ(answer(503, "<html>busy</html>").result.status, SendResult::Status::retry);
  EXPECT_EQ(adapters::aliyun_result(ClientResponse{0, "connection refused", "", {}, true}).result.status,
            SendResult::Status::held);  // unreachable: the gateway is down, no attempt used up
}

TEST(CloudSmsPieces, ALongTextIsSplitIntoLabelledPiecesWithinTheLimitByCharacters) {
  const std::string text = "明天上午九点在村委会召开全体村民大会，讨论河道清理和垃圾分类，请各户派一名代表准时参加。";
  bool cut = true;
  auto p = adapters::cloud_sms::pieces(text, 20, 5, &cut);
  EXPECT_FALSE(cut);
  ASSERT_EQ(p.size(), 3u);
  std::string joined;
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_LE(text::length_u32(p[i]), 20u) << p[i];
    const std::string label = "(" + std::to_string(i + 1) + "/3)";
    EXPECT_THAT(p[i], StartsWith(label));
    EXPECT_TRUE(text::valid_utf8(p[i]));
    joined += p[i].substr(label.size());
  }
  EXPECT_EQ(joined, text);
  // Too long even for max_parts: the last piece ends with …
  p = adapters::cloud_sms::pieces(text, 20, 2, &cut);
  EXPECT_TRUE(cut);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_THAT(p[1], testing::EndsWith("…"));
  // max_parts = 1: one SMS, not two: the text cut to max_chars with …, no (1/1) label.
  p = adapters::cloud_sms::pieces(text, 20, 1, &cut);
  EXPECT_TRUE(cut);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(text::length_u32(p[0]), 20u);
  EXPECT_EQ(p[0], text::to_utf8(text::to_u32(text).substr(0, 19)) + "…");
  EXPECT_EQ(adapters::cloud_sms::pieces(text, 20, 0), p) << "0 is taken as 1";
  EXPECT_EQ(adapters::cloud_sms::pieces("短", 20, 5), std::vector<std::string>{"短"});
  EXPECT_EQ(adapters::cloud_sms::pieces(text, 0, 5), std::vector<std::string>{text});
}

TEST(AliyunPush, MalformedPushesAreRefusedWhole) {
  std::string error;
  EXPECT_FALSE(adapters::aliyun_parse_reports("{not json", error));
  EXPECT_FALSE(adapters::aliyun_parse_reports(R"({"biz_id":"1","success":true})", error));
  EXPECT_FALSE(adapters::aliyun_parse_reports(R"([{"biz_id":"1","success":true},{"success":false}])", error));
  EXPECT_FALSE(adapters::aliyun_parse_up(R"([{"phone_number":"13800000001","content":"积分"}])", error));
  EXPECT_FALSE(adapters::aliyun_parse_up(R"([{"phone_number":"13800000001","content":"好","sequence_id":1},)"
                                         R"({"phone_number":"abc","content":"x","sequence_id":2}])",
                                         error));
  // A failed receipt with a null or numeric err_code / err_msg is read, not thrown on (a 500 would
  // lose the whole batch); a number in err_msg that is a phone is masked.
  auto reports = adapters::aliyun_parse_reports(
      R"([{"biz_id":"1","success":false,"err_code":null,"err_msg":404},)"
      R"({"biz_id":"2","success":false,"err_code":7,"err_msg":null},)"
      R"({"biz_id":"3","success":false,"err_code":"MK:0001","err_msg":"空号 13800000001"},)"
      R"({"biz_id":"4","success":false,"err_code":{"x":1}}])",
      error);
  ASSERT_TRUE(reports) << error;
  ASSERT_EQ(reports->size(), 4u);
  EXPECT_EQ((*reports)[0].error, "404");
  EXPECT_EQ((*reports)[1].error, "7");
  EXPECT_EQ((*reports)[2].error, "MK:0001 空号 138****0001");
  EXPECT_EQ((*reports)[3].error, "");
  EXPECT_FALSE((*reports)[3].delivered);
  auto up = adapters::aliyun_parse_up(
      R"([{"phone_number":"13800000001","send_time":"2017-01-01 00:00:00","content":"积分","sign_name":"幸福村",)"
      R"("dest_code":"1231","sequence_id":1234}])",
      error);
  ASSERT_TRUE(up);
  ASSERT_EQ(up->size(), 1u);
  EXPECT_EQ((*up)[0].sender, "+8613800000001");
  EXPECT_EQ((*up)[0].message_id, "aliyun-up:1234");
}

// ---- against a local server impersonating Aliyun

constexpr const char* kKeyId = "testId";
constexpr const char* kSecret = "testSecret-for-villagebot";
constexpr const char* kToken = "aliyun-Token_0123456789";

std::string decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The test's own RFC 3986 encoder: the check does not lean on the adapter's.
std::string encode(std::string_view s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~')
      out << c;
    else
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(c);
  }
  return out.str();
}

std::map<std::string, std::string> parse_form(const std::string& form) {
  std::map<std::string, std::string> out;
  std::stringstream ss(form);
  std::string pair;
  while (std::getline(ss, pair, '&')) {
    const auto eq = pair.find('=');
    if (eq != std::string::npos) out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
  }
  return out;
}

bool signature_holds(const std::string& method, std::map<std::string, std::string> params) {
  const std::string given = params["Signature"];
  params.erase("Signature");
  std::string canonical;
  for (const auto& [k, v] : params) canonical += (canonical.empty() ? "" : "&") + encode(k) + "=" + encode(v);
  const std::string to_sign = method + "&%2F&" + encode(canonical);
  return !given.empty() && crypto::base64_encode(crypto::hmac_sha1(std::string(kSecret) + "&", to_sign)) == given;
}

class Aliyun : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    ::setenv("VB_TEST_ALIYUN_SECRET", kSecret, 1);
    start_platform([this](const ReceivedRequest& r) {
      const auto params = parse_form(r.body);
      std::lock_guard lock(mutex_);
      if (r.method != "POST" || r.headers.count("content-type") == 0 ||
          r.headers.at("content-type") != "application/x-www-form-urlencoded" || !signature_holds("POST", params)) {
        ++bad_signatures_;
        return FakeResponse{400, R"({"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched."})"};
      }
      sends_.push_back(params);
      if (!answers_.empty()) {
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      return FakeResponse{
          200, R"({"Code":"OK","Message":"OK","RequestId":"req","BizId":"biz-)" + std::to_string(++biz_) + "\"}"};
    });
    testkit::Options so;
    so.plugins = {"points"};
    so.extra_toml = std::string("[[adapters]]\nid = \"ali\"\ntype = \"aliyun-sms\"\napi_base = \"") + api_->url("/") +
                    "\"\naccess_key_id = \"" + kKeyId +
                    "\"\naccess_key_secret = \"${VB_TEST_ALIYUN_SECRET}\"\nsign_name = \"幸福村\"\n"
                    "callback_token = \"" +
                    kToken +
                    "\"\n\n[[adapters.templates]]\nkind = \"reply\"\ncode = \"SMS_100001\"\nparam = \"content\"\n"
                    "\n[[adapters.templates]]\nkind = \"notice\"\ncode = \"SMS_100002\"\nparam = \"content\"\n"
                    "max_chars = 20\n"
                    "\n[[adapters.templates]]\nkind = \"emergency\"\ncode = \"SMS_100003\"\nparam = \"text\"\n" +
                    client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }

  std::vector<std::map<std::string, std::string>> sends() {
    std::lock_guard lock(mutex_);
    return sends_;
  }
  std::int64_t send(const std::string& text, Priority priority, const std::string& to = "+8613800000001") {
    OutboundMessage m;
    m.adapter_id = "ali";
    m.address = to;
    m.text = text;
    m.priority = priority;
    return server_->runtime().messenger().send(m);
  }
  std::string status_of(std::int64_t id) {
    for (const char* s : {"queued", "sending", "sent", "delivered", "failed", "expired"})
      if (server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) + " AND status = '" + s +
                         "'") == 1)
        return s;
    return "?";
  }
  testkit::HttpResult push(const std::string& path, const std::string& body, const std::string& token = kToken) {
    return server_->request("POST", "/hooks/ali/" + path + (token.empty() ? "" : "?token=" + token), body,
                            {{"Content-Type", "application/json"}});
  }
  static std::string report(const std::string& biz_id, bool success) {
    return json::array({{{"phone_number", "13800000001"},
                         {"send_time", "2026-11-30 10:00:00"},
                         {"report_time", "2026-11-30 10:00:05"},
                         {"success", success},
                         {"err_code", success ? "DELIVERED" : "MK:0001"},
                         {"err_msg", success ? "用户接收成功" : "空号"},
                         {"sms_size", "1"},
                         {"biz_id", biz_id},
                         {"out_id", "x"}}})
        .dump();
  }
  void answer_next(std::vector<FakeResponse> answers) {
    std::lock_guard lock(mutex_);
    answers_ = std::move(answers);
  }

  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
  std::vector<std::map<std::string, std::string>> sends_;
  int biz_ = 0;
  int bad_signatures_ = 0;
};

TEST_F(Aliyun, AMessageGoesOutSignedWithItsTemplateAndAReceiptMarksItDelivered) {
  const auto id = send("明天停水。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "sent"; }));
  ASSERT_EQ(sends().size(), 1u);
  auto p = sends()[0];
  EXPECT_EQ(bad_signatures_, 0);
  EXPECT_EQ(p["Action"], "SendSms");
  EXPECT_EQ(p["Version"], "2017-05-25");
  EXPECT_EQ(p["Format"], "JSON");
  EXPECT_EQ(p["AccessKeyId"], kKeyId);
  EXPECT_EQ(p["SignatureMethod"], "HMAC-SHA1");
  EXPECT_EQ(p["PhoneNumbers"], "13800000001");
  EXPECT_EQ(p["SignName"], "幸福村");
  EXPECT_EQ(p["TemplateCode"], "SMS_100003");
  EXPECT_EQ(json::parse(p["TemplateParam"]), (json{{"text", "明天停水。"}}));
  EXPECT_FALSE(p["OutId"].empty());
  EXPECT_TRUE(std::regex_match(p["SignatureNonce"],
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_TRUE(std::regex_match(p["Timestamp"], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE provider_id = 'biz-1'"), 1);

  // The receipt push: a wrong or missing token and a malformed body change nothing.
  EXPECT_EQ(push("report", report("biz-1", true), "wrong-token-0123456789").status, 401);
  EXPECT_EQ(push("report", report("biz-1", true), "").status, 401);
  EXPECT_EQ(push("report", "[{\"biz_id\":", kToken).status, 400);
  EXPECT_EQ(push("report", R"([{"biz_id":"biz-1"}])", kToken).status, 400);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status_of(id), "sent");
  auto ok = push("report", report("biz-1", true));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["code"], 0);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "delivered"; }));

  // A failed receipt, with the token as the last path segment (for consoles that drop queries).
  const auto second = send("今晚八点开会。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return status_of(second) == "sent"; }));
  EXPECT_EQ(server_->request("POST", std::string("/hooks/ali/report/") + kToken, report("biz-2", false)).status, 200);
  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(second) +
                          " AND status = 'failed' AND last_error LIKE '%MK:0001%'") == 1;
  }));
}

TEST_F(Aliyun, AReceiptWithANullErrorCodeIsTakenAndTheSignNameCountsInTheParts) {
  // 66 characters fit one SMS (70); with 【幸福村】 in front, which the carrier adds, 71 take two.
  std::string text;
  for (int i = 0; i < 11; ++i) text += "明天上午停水";
  const auto id = send(text, Priority::emergency);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "sent"; }));
  EXPECT_EQ(server_->count("SELECT segments FROM core_outbox WHERE id = " + std::to_string(id)), 2);
  const json receipt = json::array({{{"phone_number", "13800000001"},
                                     {"success", false},
                                     {"err_code", nullptr},
                                     {"err_msg", 13800000001LL},
                                     {"biz_id", "biz-1"}}});
  const auto r = push("report", receipt.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return status_of(id) == "failed"; }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) +
                           " AND last_error LIKE '%138****0001%'"),
            1);
}

TEST_F(Aliyun, ThrottlingIsRetriedAndARefusalFailsWithAliyunsWords) {
  answer_next(
      {FakeResponse{400, R"({"Code":"Throttling.User","Message":"Request was denied due to user flow control."})"}});
  const auto id = send("明天停水。", Priority::emergency);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "sent"; }));
  EXPECT_EQ(sends().size(), 2u) << "throttled once, then sent";

  answer_next({FakeResponse{200, R"({"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"})"}});
  const auto bad = send("明天停水。", Priority::emergency, "+8613800000003");
  ASSERT_TRUE(eventually([&] { return status_of(bad) == "failed"; }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(bad) +
                           " AND last_error LIKE '%isv.MOBILE_NUMBER_ILLEGAL%非法手机号%'"),
            1);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sends().size(), 3u) << "a refusal is not retried";
  EXPECT_EQ(bad_signatures_, 0);
}

TEST_F(Aliyun, AKindWithoutATemplateIsRefusedWithoutARequest) {
  const auto id = send("本周六义务植树。", Priority::bulk);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "failed"; }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) +
                           " AND last_error LIKE '%没有适用于「群发」类消息的短信模板%' AND last_error LIKE "
                           "'%no approved SMS template for bulk messages%'"),
            1);
  EXPECT_TRUE(sends().empty());
  EXPECT_TRUE(to("/").empty());
}

TEST_F(Aliyun, ALongTextGoesAsLabelledPartsAThrottledPartIsNotRepeatedAndEveryReceiptCounts) {
  const std::string text = "明天上午九点在村委会召开全体村民大会，讨论河道清理和垃圾分类，请各户派一名代表准时参加。";
  answer_next({FakeResponse{200, R"({"Code":"OK","Message":"OK","BizId":"part-1"})"},
               FakeResponse{400, R"({"Code":"Throttling.User","Message":"flow control"})"},
               FakeResponse{200, R"({"Code":"OK","Message":"OK","BizId":"part-2"})"},
               FakeResponse{200, R"({"Code":"OK","Message":"OK","BizId":"part-3"})"}});
  const auto id = send(text, Priority::notice);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "sent"; }));
  const auto s = sends();
  ASSERT_EQ(s.size(), 4u);
  std::vector<std::string> contents;
  for (const auto& p : s) {
    EXPECT_EQ(p.at("TemplateCode"), "SMS_100002");
    contents.push_back(json::parse(p.at("TemplateParam"))["content"]);
    EXPECT_LE(text::length_u32(contents.back()), 20u);
  }
  EXPECT_THAT(contents[0], StartsWith("(1/3)"));
  EXPECT_THAT(contents[1], StartsWith("(2/3)"));
  EXPECT_EQ(contents[2], contents[1]) << "the throttled part is sent again, and only it";
  EXPECT_THAT(contents[3], StartsWith("(3/3)"));
  EXPECT_NE(s[0].at("OutId"), s[3].at("OutId"));

  for (const char* part : {"part-1", "part-3"}) EXPECT_EQ(push("report", report(part, true)).status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(status_of(id), "sent") << "delivered only when every part is";
  EXPECT_EQ(push("report", report("part-2", true)).status, 200);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "delivered"; }));
}

TEST_F(Aliyun, PointsTextedThroughSmsUpAreAnsweredBySmsAndOnlyTheTokenGetsIn) {
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  const std::string up = json::array({{{"phone_number", "13800000001"},
                                       {"send_time", "2026-11-30 10:00:00"},
                                       {"content", "积分"},
                                       {"sign_name", "幸福村"},
                                       {"dest_code", "1231"},
                                       {"sequence_id", 987654}}})
                             .dump();
  EXPECT_EQ(push("up", up, "wrong-token-0123456789").status, 401);
  EXPECT_EQ(push("up", up, "").status, 401);
  EXPECT_EQ(push("up", "[{\"phone_number\":\"13800000001\",\"content\":", kToken).status, 400);
  EXPECT_EQ(push("up", R"([{"phone_number":"13800000001","content":"积分"}])", kToken).status, 400);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_TRUE(sends().empty());

  auto r = push("up", up);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], 0);
  ASSERT_TRUE(eventually([&] { return sends().size() == 1; }));
  auto p = sends()[0];
  EXPECT_EQ(p["PhoneNumbers"], "13800000001");
  EXPECT_EQ(p["TemplateCode"], "SMS_100001");
  EXPECT_THAT(json::parse(p["TemplateParam"])["content"].get<std::string>(), HasSubstr("积分"));
  EXPECT_EQ(bad_signatures_, 0);

  // Aliyun pushes again when unsure: answered once.
  EXPECT_EQ(push("up", up).status, 200);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sends().size(), 1u);
}

}  // namespace
}  // namespace villagebot

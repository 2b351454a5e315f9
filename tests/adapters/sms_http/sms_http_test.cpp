// The sms-http adapter in a real runtime against a local HTTPS server playing three kinds of
// gateway: a JSON API with a bearer token, a form API answering in text, and a GET API. What
// the gateway receives, byte for byte; retries on 503 honouring Retry-After; a refusal in the
// gateway's words; a long Chinese text sent as its SMS parts in order; delivery reports marking
// the outbox row delivered or failed; an inbound 积分 answered by SMS, once, however often the
// gateway repeats it; and callbacks with a wrong token or a bad body changing nothing.
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_http.hpp"
#include "platform_fixture.hpp"
#include "sms_template.hpp"
#include "testkit.hpp"
#include "villagebot/crypto.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/sms.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

constexpr const char* kToken = "gw-token-Abc123";
constexpr const char* kSecret = "hook-secret-0123456789abcdef";
const std::string kHard = "A&B = \"引号\"\n中文";

class SmsHttp : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    ::setenv("SMS_HTTP_TEST_TOKEN", kToken, 1);
    ::setenv("SMS_HTTP_TEST_SECRET", kSecret, 1);
    start_platform([this](const ReceivedRequest& r) {
      std::lock_guard lock(mutex_);
      if (r.target.starts_with("/json/")) {
        if (!answers_.empty()) {
          auto a = answers_.front();
          answers_.erase(answers_.begin());
          return a;
        }
        return FakeResponse{200, R"({"code":"0","data":{"msgid":"G-)" + std::to_string(++sent_) + "\"}}"};
      }
      if (r.target.starts_with("/form/"))
        return FakeResponse{200, "result=0&msgid=F" + std::to_string(++sent_), "text/plain"};
      return FakeResponse{200, "OK", "text/plain"};
    });
    const std::string base = api_->url("");
    testkit::Options so;
    so.plugins = {"points"};
    so.extra_toml =
        // A JSON API: bearer token, our id in the URL, the SMS parts one request each, receipts
        // and inbound messages as form posts with a token.
        "[[adapters]]\nid = \"sms\"\ntype = \"sms-http\"\n"
        "url = \"" +
        base +
        "/json/send?cid={{id}}\"\n"
        "content_type = \"json\"\n"
        "body = '{\"mobile\":\"{{to_national}}\",\"content\":\"{{text}}\",\"seq\":\"{{part}}/{{parts}}\","
        "\"sender\":\"{{from}}\"}'\n"
        "headers = [\"Authorization: Bearer ${SMS_HTTP_TEST_TOKEN}\"]\n"
        "from = \"106900\"\nsignature = \"【幸福村】\"\nsplit = \"parts\"\n"
        "secret = \"${SMS_HTTP_TEST_SECRET}\"\n"
        "[adapters.success]\nstatus = [\"200\"]\npointer = \"/code\"\nequals = \"0\"\n"
        "[adapters.message_id]\npointer = \"/data/msgid\"\n"
        "[adapters.report]\nid_field = \"msgid\"\nstatus_field = \"stat\"\nerror_field = \"err\"\n"
        "[adapters.receive]\nfrom_field = \"mobile\"\ntext_field = \"content\"\nid_field = \"mo_id\"\n"
        "response = \"SUCCESS\"\n\n"
        // A form API answering in text, the variables in the URL too.
        "[[adapters]]\nid = \"smsform\"\ntype = \"sms-http\"\n"
        "url = \"" +
        base +
        "/form/send?to={{to}}&msg={{text}}\"\n"
        "body = \"mobile={{to_national}}&msg={{text}}&from={{from}}\"\nfrom = \"村委会\"\n"
        "[adapters.success]\ncontains = \"result=0\"\n"
        "[adapters.message_id]\nregex = 'msgid=(\\w+)'\n\n"
        // A GET API; its reports come as GETs signed with an HMAC of the query.
        "[[adapters]]\nid = \"smsget\"\ntype = \"sms-http\"\nmethod = \"GET\"\n"
        "url = \"" +
        base +
        "/get/send?u=village&to={{to_national}}&text={{text}}&ref={{id}}\"\n"
        "auth = \"hmac\"\nauth_header = \"X-Sign\"\nsecret = \"${SMS_HTTP_TEST_SECRET}\"\n"
        "[adapters.report]\nid_field = \"ref\"\nstatus_field = \"status\"\ndelivered_values = [\"0\"]\n"
        "failed_values = [\"1\", \"2\"]\n" +
        client_toml();
    server_ = std::make_unique<testkit::TestServer>(so);
  }

  std::int64_t send(const std::string& adapter, const std::string& text, const std::string& key = {},
                    const std::string& to = "+8613800000001") {
    OutboundMessage m;
    m.adapter_id = adapter;
    m.address = to;
    m.text = text;
    m.priority = Priority::reply;
    m.idempotency_key = key;
    return server_->runtime().messenger().send(m);
  }
  bool row_is(std::int64_t id, const std::string& status) {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) + " AND status = '" +
                          status + "'") == 1;
  }
  std::int64_t errors_like(std::int64_t id, const std::string& pattern) {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(id) +
                          " AND last_error LIKE '" + pattern + "'");
  }
  testkit::HttpResult hook(const std::string& method, const std::string& path, const std::string& body,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
    return server_->request(method, path, body, std::move(headers));
  }
  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
  int sent_ = 0;
};

const std::vector<std::pair<std::string, std::string>> kForm{{"Content-Type", "application/x-www-form-urlencoded"},
                                                             {"X-Villagebot-Token", kSecret}};

TEST_F(SmsHttp, TheGatewayReceivesExactlyTheBytesTheTemplatesSay) {
  const auto json_id = send("sms", kHard, "key-1");
  const auto form_id = send("smsform", kHard, "key-2");
  ASSERT_TRUE(eventually([&] { return row_is(json_id, "sent") && row_is(form_id, "sent"); }));

  const auto json_requests = to("/json/");
  ASSERT_EQ(json_requests.size(), 1u);
  const auto& j = json_requests[0];
  EXPECT_EQ(j.method, "POST");
  EXPECT_EQ(j.target, "/json/send?cid=key-1");
  EXPECT_EQ(j.body,
            "{\"mobile\":\"13800000001\",\"content\":\"【幸福村】A&B = \\\"引号\\\"\\n中文\",\"seq\":\"1/1\","
            "\"sender\":\"106900\"}");
  EXPECT_EQ(j.headers.at("content-type"), "application/json");
  EXPECT_EQ(j.headers.at("authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(json::parse(j.body)["content"], "【幸福村】" + kHard);

  const auto form_requests = to("/form/");
  ASSERT_EQ(form_requests.size(), 1u);
  const auto& f = form_requests[0];
  const std::string hard_url = "A%26B%20%3D%20%22%E5%BC%95%E5%8F%B7%22%0A%E4%B8%AD%E6%96%87";
  EXPECT_EQ(f.target, "/form/send?to=%2B8613800000001&msg=" + hard_url);
  EXPECT_EQ(f.body, "mobile=13800000001&msg=" + hard_url + "&from=%E6%9D%91%E5%A7%94%E4%BC%9A");
  EXPECT_EQ(f.headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(adapters::sms_http::parse_form(f.body).at("msg"), kHard);

  // The provider ids are the gateways' own: the JSON pointer's and the regex's.
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(json_id) +
                           " AND provider_id LIKE 'G-_'"),
            1);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE id = " + std::to_string(form_id) +
                           " AND provider_id LIKE 'F_'"),
            1);
}

TEST_F(SmsHttp, ABusyGatewayIsAskedAgainAfterItsRetryAfter) {
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{503, R"({"code":"503","msg":"系统繁忙"})", "application/json", {{"Retry-After", "1"}}}};
  }
  const auto started = std::chrono::steady_clock::now();
  const auto id = send("sms", "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return row_is(id, "sent"); }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms) << "Retry-After honoured";
  EXPECT_EQ(to("/json/").size(), 2u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox WHERE provider_id = 'G-1' AND attempts = 2"), 1);
}

TEST_F(SmsHttp, ARefusalFailsAtOnceInTheGatewaysWordsWithThePhoneMasked) {
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{400, R"({"code":"1002","msg":"号码13800000001在黑名单 blacklisted"})"}};
  }
  const auto id = send("sms", "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return row_is(id, "failed"); }));
  EXPECT_EQ(errors_like(id, "%HTTP 400%在黑名单 blacklisted%"), 1);
  EXPECT_EQ(errors_like(id, "%138****0001%"), 1);
  EXPECT_EQ(errors_like(id, "%13800000001%"), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(to("/json/").size(), 1u) << "a refusal is not retried";
  // A 200 whose code is not "0" is a refusal too.
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{200, R"({"code":"1001","msg":"余额不足"})"}};
  }
  const auto id2 = send("sms", "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return row_is(id2, "failed"); }));
  EXPECT_EQ(errors_like(id2, "%余额不足%"), 1);
}

TEST_F(SmsHttp, ALongChineseTextGoesAsItsPartsInOrderAndIsDeliveredWhenEveryPartIs) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "村委会通知：明天停水。";  // 220 characters
  const auto expected = sms::split(text, "【幸福村】");
  ASSERT_EQ(expected.parts.size(), 4u);
  // The gateway is busy at the third part: the retry sends only the third and the fourth.
  {
    std::lock_guard lock(mutex_);
    answers_ = {FakeResponse{200, R"({"code":"0","data":{"msgid":"P1"}})"},
                FakeResponse{200, R"({"code":"0","data":{"msgid":"P2"}})"}, FakeResponse{503, "busy"},
                FakeResponse{200, R"({"code":"0","data":{"msgid":"P3"}})"},
                FakeResponse{200, R"({"code":"0","data":{"msgid":"P4"}})"}};
  }
  const auto id = send("sms", text, "long-1");
  ASSERT_TRUE(eventually([&] { return row_is(id, "sent"); }));
  const auto requests = to("/json/");
  ASSERT_EQ(requests.size(), 5u);
  std::vector<std::string> order{"1/4", "2/4", "3/4", "3/4", "4/4"};
  std::vector<std::string> cids{"long-1-1", "long-1-2", "long-1-3", "long-1-3", "long-1-4"};
  std::string received;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto body = json::parse(requests[i].body);
    EXPECT_EQ(body["seq"], order[i]);
    EXPECT_EQ(requests[i].target, "/json/send?cid=" + cids[i]);
    if (i != 2) received += body["content"].get<std::string>();
  }
  EXPECT_EQ(received, "【幸福村】" + text);
  EXPECT_EQ(json::parse(requests[0].body)["content"], expected.parts[0]);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox_parts WHERE outbox_id = " + std::to_string(id)), 4);

  // Receipts for the parts: delivered only when the last one comes.
  for (const char* part : {"P1", "P2", "P3"})
    EXPECT_EQ(hook("POST", "/hooks/sms/report", std::string("msgid=") + part + "&stat=DELIVRD", kForm).status, 200);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(row_is(id, "sent"));
  EXPECT_EQ(hook("POST", "/hooks/sms/report", "msgid=P4&stat=DELIVRD", kForm).status, 200);
  EXPECT_TRUE(eventually([&] { return row_is(id, "delivered"); }));

  // A crash after the gateway took every part but before the outcome was recorded: the row is
  // still 'sending' at the restart and is sent again, and no part goes to the gateway twice.
  const auto again = send("sms", text, "long-2");
  ASSERT_TRUE(eventually([&] { return row_is(again, "sent"); }));
  ASSERT_EQ(to("/json/").size(), 9u);
  server_->runtime().storage().write([&](Session& s) {
    s.execute("DELETE FROM core_outbox_parts WHERE outbox_id = ?", {again});
    s.execute("UPDATE core_outbox SET status = 'sending', provider_id = NULL WHERE id = ?", {again});
  });
  server_->restart();
  ASSERT_TRUE(eventually([&] { return row_is(again, "sent"); }));
  EXPECT_EQ(to("/json/").size(), 9u) << "every part was already with the gateway";
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_outbox_parts WHERE outbox_id = " + std::to_string(again)), 4);
}

TEST_F(SmsHttp, DeliveryReportsMarkTheOutboxRowAndAWrongTokenChangesNothing) {
  // One after the other, so that the gateway's ids are known: G-1, then G-2.
  const auto a = send("sms", "通知一");
  ASSERT_TRUE(eventually([&] { return row_is(a, "sent"); }));
  const auto b = send("sms", "通知二");
  ASSERT_TRUE(eventually([&] { return row_is(b, "sent"); }));
  const std::string pa = "G-1";
  const std::string pb = "G-2";

  // A wrong or missing token: 401, the row stays as it was.
  auto r = hook("POST", "/hooks/sms/report", "msgid=" + pa + "&stat=DELIVRD",
                {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Villagebot-Token", "wrong"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("回调未通过验证"));
  EXPECT_EQ(hook("POST", "/hooks/sms/report", "msgid=" + pa + "&stat=DELIVRD",
                 {{"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            401);
  // Malformed: no id, bad JSON, invalid UTF-8.
  EXPECT_EQ(hook("POST", "/hooks/sms/report", "stat=DELIVRD", kForm).status, 400);
  EXPECT_EQ(hook("POST", "/hooks/sms/report",
                 "{\"msgid\":", {{"Content-Type", "application/json"}, {"X-Villagebot-Token", kSecret}})
                .status,
            400);
  EXPECT_EQ(hook("POST", "/hooks/sms/report", "msgid=" + pa + "&stat=\xff", kForm).status, 400);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(row_is(a, "sent"));

  // As a JSON batch, the token in the query: one delivered, one failed with the gateway's reason.
  const json batch = json::array(
      {{{"msgid", pa}, {"stat", "DELIVRD"}}, {{"msgid", pb}, {"stat", "UNDELIV"}, {"err", "空号 13800000001"}}});
  r = hook("POST", std::string("/hooks/sms/report?token=") + kSecret, batch.dump(),
           {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "OK");
  ASSERT_TRUE(eventually([&] { return row_is(a, "delivered") && row_is(b, "failed"); }));
  EXPECT_EQ(errors_like(b, "%UNDELIV%空号 138****0001%"), 1);

  // The GET gateway: a receipt as a GET signed over its query.
  const auto c = send("smsget", "通知三", "get-1");
  ASSERT_TRUE(eventually([&] { return row_is(c, "sent"); }));
  const auto sent = to("/get/");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "GET");
  EXPECT_EQ(sent[0].target, "/get/send?u=village&to=13800000001&text=%E9%80%9A%E7%9F%A5%E4%B8%89&ref=get-1");
  const std::string query = "ref=get-1&status=0";
  const std::string sign = crypto::to_hex(crypto::hmac_sha256(kSecret, query));
  EXPECT_EQ(hook("GET", "/hooks/smsget/report?" + query, "", {{"X-Sign", "sha256=" + std::string(64, '0')}}).status,
            401);
  // A bodiless POST is signed over its query too: the signature over "" (the same for every such
  // request) lets no forged query in, and a query beside a signed body is not read.
  const auto d = send("smsget", "通知四", "get-2");
  ASSERT_TRUE(eventually([&] { return row_is(d, "sent"); }));
  const std::string forged = "ref=get-2&status=1";
  EXPECT_EQ(hook("POST", "/hooks/smsget/report?" + forged, "",
                 {{"X-Sign", "sha256=" + crypto::to_hex(crypto::hmac_sha256(kSecret, ""))}})
                .status,
            401);
  const std::string body = "status=1";
  EXPECT_EQ(hook("POST", "/hooks/smsget/report?ref=get-2", body,
                 {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"X-Sign", "sha256=" + crypto::to_hex(crypto::hmac_sha256(kSecret, body))}})
                .status,
            400)
      << "the id in the unsigned query is not taken";
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(row_is(d, "sent"));
  EXPECT_EQ(hook("POST", "/hooks/smsget/report?ref=get-2&status=0", "",
                 {{"X-Sign", "sha256=" + crypto::to_hex(crypto::hmac_sha256(kSecret, "ref=get-2&status=0"))}})
                .status,
            200);
  EXPECT_EQ(hook("GET", "/hooks/smsget/report?" + query, "", {{"X-Sign", "sha256=" + sign}}).status, 200);
  EXPECT_TRUE(eventually([&] { return row_is(c, "delivered") && row_is(d, "delivered"); }));
}

TEST_F(SmsHttp, AnInboundJifenIsAnsweredBySmsOnceAndAWrongTokenStoresNothing) {
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages WHERE adapter_id = 'sms'");
  // A wrong token: 401, nothing stored, nothing sent.
  auto r = hook("POST", "/hooks/sms/receive", "mobile=13800000001&content=%E7%A7%AF%E5%88%86&mo_id=mo-0",
                {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Villagebot-Token", "nope"}});
  EXPECT_EQ(r.status, 401);
  // Malformed: no sender, a sender that is no phone, invalid UTF-8, an oversized body.
  EXPECT_EQ(hook("POST", "/hooks/sms/receive", "content=%E7%A7%AF%E5%88%86&mo_id=mo-0", kForm).status, 400);
  EXPECT_EQ(hook("POST", "/hooks/sms/receive", "mobile=abc&content=x&mo_id=mo-0", kForm).status, 400);
  EXPECT_EQ(hook("POST", "/hooks/sms/receive", "mobile=13800000001&content=%C3%28&mo_id=mo-0", kForm).status, 400);
  EXPECT_EQ(
      hook("POST", "/hooks/sms/receive", "mobile=13800000001&mo_id=mo-0&content=" + std::string(70000, 'a'), kForm)
          .status,
      413);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE adapter_id = 'sms'"), before);
  EXPECT_TRUE(to("/json/").empty());

  // 积分 from 13800000001: acknowledged with the configured answer, replied by SMS.
  const std::string body = "mobile=13800000001&content=%E7%A7%AF%E5%88%86&mo_id=mo-1";
  r = hook("POST", "/hooks/sms/receive", body, kForm);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "SUCCESS");
  ASSERT_TRUE(eventually([&] { return to("/json/").size() == 1; }));
  auto reply = json::parse(to("/json/")[0].body);
  EXPECT_EQ(reply["mobile"], "13800000001");
  EXPECT_THAT(reply["content"].get<std::string>(), HasSubstr("积分"));
  EXPECT_TRUE(reply["content"].get<std::string>().starts_with("【幸福村】"));

  // The gateway repeats the same message (its id mo-1): answered 200, processed once.
  r = hook("POST", "/hooks/sms/receive", body, kForm);
  EXPECT_EQ(r.status, 200);
  // The same as a GET with the token in the query.
  r = hook("GET", std::string("/hooks/sms/receive?") + body + "&token=" + kSecret, "");
  EXPECT_EQ(r.status, 200);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(to("/json/").size(), 1u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE adapter_id = 'sms' AND direction = 'in'"), 1);
}

}  // namespace
}  // namespace villagebot

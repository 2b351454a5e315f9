// The Twilio adapter in a real runtime (plugins {"points"}) against a local HTTPS server
// impersonating api.twilio.com: messages go out with Basic auth and the form Twilio expects; 429 is
// retried; 21610 fails the message and opts the person out, so that a later notice skips their SMS;
// an incoming 积分 signed as Twilio signs it (over the public URL) is answered with an empty TwiML
// and an SMS carrying the balance, once even when Twilio repeats it; a bad signature gets 401 and
// stores nothing; a status callback (form or JSON) marks the message delivered or failed.
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_http.hpp"
#include "platform_fixture.hpp"
#include "runtime/runtime.hpp"
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
using testkit::eventually;
using testkit::FakeResponse;
using testkit::ReceivedRequest;

constexpr const char* kAccount = "AC0123456789abcdef0123456789abcdef";
constexpr const char* kToken = "tw-auth-token-42";
constexpr const char* kPublic = "https://village.example.cn";
constexpr const char* kFrom = "+15005550006";
constexpr const char* kVillager = "+8613800000001";  // 王大山, H001
constexpr const char* kEvaluator = "+8613800000003";

using Form = std::map<std::string, std::string>;

// The test's own encoder and signer, written from Twilio's description rather than shared with the
// adapter, so that a mistake in one is not hidden by the same mistake in the other.
std::string encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
std::string form_body(const Form& form) {
  std::string out;
  for (const auto& [k, v] : form) out += (out.empty() ? "" : "&") + encode(k) + "=" + encode(v);
  return out;
}
std::string twilio_sign(const std::string& url, const Form& form, const std::string& token = kToken) {
  std::string data = url;
  for (const auto& [k, v] : form) data += k + v;  // std::map: names in sorted order
  return crypto::base64_encode(crypto::hmac_sha1(token, data));
}
std::string decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
Form parse(const std::string& body) {
  Form out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(pos, amp - pos);
    const auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
    pos = amp + 1;
  }
  return out;
}

class Twilio : public testkit::PlatformTest {
 protected:
  void SetUp() override {
    start_platform([this](const ReceivedRequest&) {
      std::lock_guard lock(mutex_);
      if (!answers_.empty()) {
        auto a = answers_.front();
        answers_.erase(answers_.begin());
        return a;
      }
      return FakeResponse{201, R"({"sid":"SM)" + std::to_string(++sid_) + R"(","status":"queued"})"};
    });
    ::setenv("VB_TEST_TWILIO_TOKEN", kToken, 1);
    server_ = std::make_unique<testkit::TestServer>(options(std::string("public_url = \"") + kPublic + "/\"\n"));
  }
  // The runtime's options with this adapter entry; `extra` adds keys to the entry.
  testkit::Options options(const std::string& extra, const std::string& account = kAccount) {
    testkit::Options so;
    so.plugins = {"points"};
    so.extra_toml = std::string("[[adapters]]\nid = \"tw\"\ntype = \"twilio\"\napi_base = \"") + api_->url("") +
                    "\"\naccount_sid = \"" + account + "\"\nauth_token = \"${VB_TEST_TWILIO_TOKEN}\"\nfrom = \"" +
                    kFrom + "\"\nsignature = \"【幸福村】\"\n" + extra + client_toml();
    return so;
  }

  void answer_next(std::vector<FakeResponse> answers) {
    std::lock_guard lock(mutex_);
    answers_ = std::move(answers);
  }
  std::vector<Form> messages_sent() {
    std::vector<Form> out;
    for (const auto& r : to(std::string("/2010-04-01/Accounts/") + kAccount + "/Messages.json"))
      out.push_back(parse(r.body));
    return out;
  }
  // A callback as Twilio sends it: form-encoded, signed over the public URL of `path`.
  testkit::HttpResult callback(const std::string& path, const Form& form, std::string signature = {}) {
    if (signature.empty()) signature = twilio_sign(std::string(kPublic) + path, form);
    return server_->request("POST", path, form_body(form),
                            {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Twilio-Signature", signature}});
  }
  Form inbound(const std::string& sid, const std::string& from, const std::string& body) {
    return {{"AccountSid", kAccount},
            {"ApiVersion", "2010-04-01"},
            {"Body", body},
            {"From", from},
            {"MessageSid", sid},
            {"NumMedia", "0"},
            {"NumSegments", "1"},
            {"SmsMessageSid", sid},
            {"SmsSid", sid},
            {"SmsStatus", "received"},
            {"To", kFrom}};
  }
  std::int64_t queue(const std::string& address, const std::string& text) {
    OutboundMessage m;
    m.adapter_id = "tw";
    m.address = address;
    m.text = text;
    return server_->runtime().messenger().send(m);
  }
  std::string outbox(std::int64_t id, const std::string& column = "status") {
    std::string value;
    server_->runtime().storage().read([&](Session& s) {
      auto rows = s.query("SELECT COALESCE(" + column + ", '') FROM core_outbox WHERE id = ?", {id});
      if (!rows.empty()) value = rows[0].text(0);
    });
    return value;
  }

  std::mutex mutex_;
  std::vector<FakeResponse> answers_;
  int sid_ = 0;
};

TEST_F(Twilio, AMessageGoesOutWithBasicAuthAndTheFormTwilioExpects) {
  const auto id = queue("13800000001", "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(id) == "sent"; })) << outbox(id, "last_error");
  EXPECT_EQ(outbox(id, "provider_id"), "SM1");
  const auto requests = to("/2010-04-01/");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].headers.at("authorization"),
            "Basic " + crypto::base64_encode(std::string(kAccount) + ":" + kToken));
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/x-www-form-urlencoded");
  const Form form = parse(requests[0].body);
  EXPECT_EQ(form.at("To"), kVillager);
  EXPECT_EQ(form.at("From"), kFrom);
  EXPECT_EQ(form.at("Body"), "【幸福村】明天上午停水。");
  EXPECT_EQ(form.at("StatusCallback"), std::string(kPublic) + "/hooks/tw/status");
}

TEST_F(Twilio, TooManyRequestsIsRetriedAfterRetryAfterThenSent) {
  answer_next({FakeResponse{
      429,
      R"({"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429})",
      "application/json",
      {{"Retry-After", "1"}}}});
  const auto started = std::chrono::steady_clock::now();
  const auto id = queue(kVillager, "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(id) == "sent"; })) << outbox(id, "last_error");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms) << "Retry-After honoured";
  EXPECT_EQ(messages_sent().size(), 2u);
  EXPECT_EQ(outbox(id, "attempts"), "2");
}

TEST_F(Twilio, AnUnsubscribedRecipientFailsAndIsOptedOutSoALaterNoticeSkipsTheirSms) {
  answer_next({FakeResponse{
      400,
      R"({"code":21610,"message":"Attempt to send to unsubscribed recipient","more_info":"https://www.twilio.com/docs/errors/21610","status":400})"}});
  const auto id = queue(kEvaluator, "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(id) == "failed"; })) << outbox(id);
  EXPECT_THAT(outbox(id, "last_error"), HasSubstr("STOP"));
  EXPECT_THAT(outbox(id, "last_error"), HasSubstr("21610"));
  EXPECT_EQ(messages_sent().size(), 1u) << "a permanent refusal is not retried";

  const auto person = server_->runtime().directory().find_by_phone(kEvaluator);
  ASSERT_TRUE(person);
  testkit::ApiClient api(*server_, "admin");
  ASSERT_TRUE(eventually(
      [&] { return api.call("GET", "/api/v1/persons/" + std::to_string(person->id)).body.value("opted_out", false); }));

  // A non-essential notice by SMS to them and to 王大山: only 王大山 gets one.
  Broadcast b;
  b.text = "周六上午清扫河道。";
  b.audience.persons = {person->id, server_->runtime().directory().find_by_phone(kVillager)->id};
  b.policy = ChannelPolicy::sms_all;
  DeliveryPlan plan;
  server_->runtime().messenger().broadcast(b, &plan);
  EXPECT_EQ(plan.opted_out, 1);
  EXPECT_EQ(plan.sms, 1);
  ASSERT_TRUE(eventually([&] { return messages_sent().size() == 2; }));
  std::this_thread::sleep_for(300ms);
  const auto sent = messages_sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].at("To"), kVillager);
}

TEST_F(Twilio, ARefusalQuotingTheNumberShowsItMaskedInTheOutboxAndOnHealthz) {
  answer_next({FakeResponse{
      400, R"({"code":21211,"message":"The 'To' number +8613800000001 is not a valid phone number.","status":400})"}});
  const auto id = queue(kVillager, "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(id) == "failed"; })) << outbox(id);
  EXPECT_THAT(outbox(id, "last_error"), HasSubstr("138****0001"));
  EXPECT_THAT(outbox(id, "last_error"), Not(HasSubstr("13800000001")));
  const auto health = server_->request("GET", "/healthz");
  ASSERT_EQ(health.status, 200);
  const auto last_error = json::parse(health.body)["adapters"]["tw"]["last_error"].get<std::string>();
  EXPECT_THAT(last_error, HasSubstr("21211"));
  EXPECT_THAT(last_error, HasSubstr("138****0001"));
  EXPECT_THAT(health.body, Not(HasSubstr("13800000001")));
}

TEST_F(Twilio, TheSignatureIsCountedInTheSmsPartsAMessageCosts) {
  // 66 Chinese characters fit one SMS (70); with 【幸福村】 in front, 71 take two.
  std::string text;
  for (int i = 0; i < 11; ++i) text += "明天上午停水";
  ASSERT_EQ(text::length_u32(text), 66u);
  const auto id = queue(kVillager, text);
  ASSERT_TRUE(eventually([&] { return outbox(id) == "sent"; })) << outbox(id, "last_error");
  EXPECT_EQ(outbox(id, "segments"), "2");
  EXPECT_EQ(messages_sent().at(0).at("Body"), "【幸福村】" + text);
}

TEST_F(Twilio, ASignedSmsIsAnsweredWithTwimlAndAnSmsCarryingTheBalanceOnce) {
  const Form sms = inbound("SM" + std::string(32, 'a'), kVillager, "积分");
  auto r = callback("/hooks/tw/sms", sms);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)");
  ASSERT_TRUE(eventually([&] { return messages_sent().size() == 1; }));
  auto sent = messages_sent();
  EXPECT_EQ(sent[0].at("To"), kVillager);
  EXPECT_THAT(sent[0].at("Body"), HasSubstr("积分："));
  EXPECT_THAT(sent[0].at("Body"), ::testing::StartsWith("【幸福村】"));

  // Twilio repeats a webhook it got no answer to in time: answered, not processed twice.
  r = callback("/hooks/tw/sms", sms);
  EXPECT_EQ(r.status, 200) << r.body;
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(messages_sent().size(), 1u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in'"), 1);

  // Signed with the default port written: Twilio's validators accept that form too.
  const Form second = inbound("SM" + std::string(32, 'b'), kVillager, "积分");
  r = callback("/hooks/tw/sms", second, twilio_sign(std::string(kPublic) + ":443/hooks/tw/sms", second));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return messages_sent().size() == 2; }));
}

TEST_F(Twilio, ABadSignatureGets401AndStoresNothing) {
  const Form sms = inbound("SM" + std::string(32, 'c'), kVillager, "积分");
  const std::string path = "/hooks/tw/sms";
  Form tampered = sms;
  tampered["Body"] = "积分明细";
  const auto before = server_->count("SELECT COUNT(*) FROM core_messages");
  // Parameters changed after signing, the wrong token, the wrong URL, no signature at all.
  EXPECT_EQ(callback(path, tampered, twilio_sign(std::string(kPublic) + path, sms)).status, 401);
  EXPECT_EQ(callback(path, sms, twilio_sign(std::string(kPublic) + path, sms, "another-token")).status, 401);
  EXPECT_EQ(callback(path, sms, twilio_sign("https://elsewhere.example.cn" + path, sms)).status, 401);
  EXPECT_EQ(callback(path, sms, twilio_sign(std::string(kPublic) + "/hooks/tw/status", sms)).status, 401);
  auto r = server_->request("POST", path, form_body(sms), {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("X-Twilio-Signature"));
  // Malformed: a bad %-escape is refused before anything else.
  r = server_->request("POST", path, "Body=%zz&From=%2B8613800000001",
                       {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Twilio-Signature", "x"}});
  EXPECT_EQ(r.status, 400);
  // A huge body is refused by the server at the route's limit, before the adapter sees it.
  Form huge = sms;
  huge["Body"] = std::string(200 * 1024, 'a');
  EXPECT_EQ(callback(path, huge).status, 413);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages"), before);
  EXPECT_TRUE(messages_sent().empty());

  // The genuine request is still processed afterwards (the refusals did not claim its MessageSid).
  EXPECT_EQ(callback(path, sms).status, 200);
  ASSERT_TRUE(eventually([&] { return messages_sent().size() == 1; }));
  // What an operator sees on /healthz: the refusals the adapter saw counted, the last one named.
  const auto health = json::parse(server_->request("GET", "/healthz").body)["adapters"]["tw"];
  EXPECT_EQ(health.value("refused_callbacks", 0), 6) << health.dump();
  EXPECT_EQ(health.value("inbound", 0), 1) << health.dump();
  EXPECT_THAT(health.value("last_error", std::string()), HasSubstr("%-escape"));
}

TEST_F(Twilio, StatusCallbacksMarkTheMessageDeliveredOrFailed) {
  const auto delivered = queue(kVillager, "明天上午停水。");
  const auto undelivered = queue(kEvaluator, "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(delivered) == "sent" && outbox(undelivered) == "sent"; }));
  const std::string sid = outbox(delivered, "provider_id");
  const std::string other = outbox(undelivered, "provider_id");

  // Intermediate states are not receipts.
  Form status{{"AccountSid", kAccount}, {"MessageSid", sid},   {"MessageStatus", "sent"},
              {"SmsSid", sid},          {"SmsStatus", "sent"}, {"To", kVillager},
              {"From", kFrom}};
  EXPECT_EQ(callback("/hooks/tw/status", status).status, 200);
  status["MessageStatus"] = status["SmsStatus"] = "delivered";
  // Signed wrongly: nothing changes.
  EXPECT_EQ(callback("/hooks/tw/status", status,
                     twilio_sign(std::string(kPublic) + "/hooks/tw/status", status, "another-token"))
                .status,
            401);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(outbox(delivered), "sent");
  EXPECT_EQ(callback("/hooks/tw/status", status).status, 200);
  ASSERT_TRUE(eventually([&] { return outbox(delivered) == "delivered"; }));

  // A JSON-bodied callback: the URL carries bodySHA256, the signature covers the URL alone.
  const std::string body =
      json{{"MessageSid", other}, {"MessageStatus", "undelivered"}, {"ErrorCode", 30003}, {"To", kEvaluator}}.dump();
  const std::string path = "/hooks/tw/status?bodySHA256=" + crypto::sha256_hex(body);
  const std::string signature = twilio_sign(std::string(kPublic) + path, {});
  auto r = server_->request("POST", path, body + " ",
                            {{"Content-Type", "application/json"}, {"X-Twilio-Signature", signature}});
  EXPECT_EQ(r.status, 401) << "a body that does not match its hash";
  r = server_->request("POST", path, body, {{"Content-Type", "application/json"}, {"X-Twilio-Signature", signature}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return outbox(undelivered) == "failed"; }));
  EXPECT_THAT(outbox(undelivered, "last_error"), HasSubstr("30003"));

  // Undelivered with 21610 (the recipient had texted STOP): failed, and the person is opted out.
  const auto stopped = queue(kEvaluator, "本周六义务劳动。");
  ASSERT_TRUE(eventually([&] { return outbox(stopped) == "sent"; }));
  const Form unsubscribed{{"AccountSid", kAccount},
                          {"ErrorCode", "21610"},
                          {"MessageSid", outbox(stopped, "provider_id")},
                          {"MessageStatus", "undelivered"},
                          {"To", kEvaluator}};
  EXPECT_EQ(callback("/hooks/tw/status", unsubscribed).status, 200);
  ASSERT_TRUE(eventually([&] { return outbox(stopped) == "failed"; }));
  EXPECT_TRUE(eventually([&] { return server_->runtime().directory().find_by_phone(kEvaluator)->opted_out; }));

  // A status callback without the fields Twilio always sends is malformed.
  EXPECT_EQ(callback("/hooks/tw/status", {{"AccountSid", kAccount}}).status, 400);
}

TEST_F(Twilio, WithoutAPublicUrlNothingUnverifiableIsAcceptedAndNoCallbackIsAsked) {
  server_.reset();
  server_ = std::make_unique<testkit::TestServer>(options(""));
  const Form sms = inbound("SM" + std::string(32, 'd'), kVillager, "积分");
  EXPECT_EQ(callback("/hooks/tw/sms", sms).status, 404);
  const auto id = queue(kVillager, "明天上午停水。");
  ASSERT_TRUE(eventually([&] { return outbox(id) == "sent"; })) << outbox(id, "last_error");
  const auto sent = messages_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].count("StatusCallback"), 0u);
}

TEST_F(Twilio, AMistypedAccountSidStopsTheStartWithTheKeyNamed) {
  server_.reset();
  try {
    testkit::TestServer bad(options("", "ACnot-a-sid"));
    ADD_FAILURE() << "the server started with a bad account_sid";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("account_sid"));
    EXPECT_THAT(e.what(), HasSubstr("Account SID"));
  }
}

}  // namespace
}  // namespace villagebot

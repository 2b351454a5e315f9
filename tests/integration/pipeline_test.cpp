// The message pipeline as a villager meets it, through the test kit: a real
// runtime, the real test_echo plugin .so, a real SQLite file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "fake_http.hpp"
#include "pipeline/pipeline.hpp"
#include "runtime/runtime.hpp"
#include "testkit.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot::testkit {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kVillager = "13800000001";
constexpr const char* kCadre = "13800000002";
constexpr const char* kEnglish = "13800000003";
constexpr const char* kStranger = "13999999999";

std::string first(const std::vector<std::string>& replies) {
  return replies.empty() ? std::string("<none>") : replies[0];
}

Options echo_options() {
  Options o;
  o.plugins = {"test_echo"};
  return o;
}

TEST(Pipeline, HelpListsExactlyTheCommandsTheSenderMayUse) {
  TestServer server(echo_options());
  const auto villager = first(server.send(kVillager, "帮助"));
  EXPECT_THAT(villager, AllOf(HasSubstr("回声"), HasSubstr("退订"), Not(HasSubstr("机密"))));
  const auto cadre = first(server.send(kCadre, "菜单"));
  EXPECT_THAT(cadre, AllOf(HasSubstr("回声"), HasSubstr("机密")));
  EXPECT_EQ(first(server.send(kVillager, "？")), villager) << "full-width question mark is help too";
}

TEST(Pipeline, EnglishSpeakersGetEnglish) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kEnglish, "HELP")), HasSubstr("Commands you can use"));
}

TEST(Pipeline, UnregisteredSenderIsToldPolitelyAndSeesNothing) {
  TestServer server(echo_options());
  const auto reply = first(server.send(kStranger, "回声 秘密"));
  EXPECT_THAT(reply, AllOf(HasSubstr("未登记"), Not(HasSubstr("秘密"))));
  EXPECT_THAT(first(server.send(kStranger, "帮助")), HasSubstr("尚未登记"));
}

TEST(Pipeline, UnknownTextGetsTheClosestCommandsNeverSilence) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kVillager, "回生 你好")), AllOf(HasSubstr("回声"), HasSubstr("帮助")));
  EXPECT_THAT(first(server.send(kVillager, "我想退订短信")), HasSubstr("退订"));
}

TEST(Pipeline, RolesAreEnforced) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kVillager, "机密")), AllOf(HasSubstr("权限"), Not(HasSubstr("top secret"))));
  EXPECT_EQ(first(server.send(kCadre, "机密")), "top secret");
  EXPECT_EQ(first(server.send("13800000009", "secret")), "top secret") << "admin may use everything";
}

TEST(Pipeline, TextIsNormalisedBeforeRouting) {
  TestServer server(echo_options());
  EXPECT_EQ(first(server.send(kVillager, "＠村小助手　回声　ＡＢＣ１２３")), "ABC123");
  EXPECT_EQ(first(server.send(kVillager, "ECHO：a，b")), "a b");
  EXPECT_EQ(first(server.send(kVillager, "回声你好")), "你好") << "a Chinese keyword may run into its argument";
  EXPECT_EQ(first(server.send(kVillager, "count 5")), "counted count 5") << "pattern commands";
}

TEST(Pipeline, AThrowingHandlerGetsAnApologyAndTheNextMessageIsServed) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kVillager, "boom")), HasSubstr("抱歉"));
  EXPECT_EQ(first(server.send(kVillager, "回声 还在")), "还在");
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND status = 'failed'"), 1);
}

TEST(Pipeline, ASlowHandlerGetsAnApologyInTime) {
  Options o = echo_options();
  o.handler_timeout_ms = 300;
  o.plugin_sections["test_echo"] = "slow_ms = 3000";
  TestServer server(o);
  const auto started = std::chrono::steady_clock::now();
  const auto reply = first(server.send(kVillager, "slow"));
  EXPECT_THAT(reply, AllOf(HasSubstr("抱歉"), Not(HasSubstr("finally"))));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_EQ(first(server.send(kVillager, "回声 ok")), "ok");
}

TEST(Pipeline, APluginQuestionTakesTheNextAnswerFirst) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kVillager, "问我")), HasSubstr("回复 1 或 2"));
  EXPECT_EQ(first(server.send(kVillager, "回声 先说别的")), "先说别的") << "a non-answer falls through";
  EXPECT_EQ(first(server.send(kVillager, "2")), "你选了 2");
  EXPECT_THAT(first(server.send(kVillager, "2")), Not(HasSubstr("你选了"))) << "the prompt is answered once";
}

TEST(Pipeline, ARepeatedMessageIdIsProcessedOnceAlsoAfterARestart) {
  TestServer server(echo_options());
  EXPECT_THAT(server.send(kVillager, "回声 一次", "dup-1"), ElementsAre("一次"));
  const auto again = server.submit({"generic", ChannelKind::personal, "phone", kVillager, "", "回声 一次", "dup-1", 0});
  EXPECT_EQ(again.status, SubmitResult::Status::duplicate);
  ASSERT_EQ(again.replies.size(), 1U);
  EXPECT_EQ(again.replies[0].text, "一次") << "a retry gets the original answer";
  server.restart();
  const auto after = server.submit({"generic", ChannelKind::personal, "phone", kVillager, "", "回声 一次", "dup-1", 0});
  EXPECT_EQ(after.status, SubmitResult::Status::duplicate);
  ASSERT_EQ(after.replies.size(), 1U);
  EXPECT_EQ(after.replies[0].text, "一次") << "the stored answer outlives the process";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE direction='in' AND message_id='dup-1'"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM test_echo_log WHERE text='一次'"), 1) << "the handler ran once";
}

// Before core_010 a message's replies were rows of their own ('out', in_reply_to): a retry of
// such a message after the upgrade still gets what was answered then.
TEST(Pipeline, ARetryOfAMessageAnsweredBeforeTheUpgradeGetsItsOldReplies) {
  TestServer server(echo_options());
  server.runtime().storage().write([](Session& s) {
    s.execute(
        "INSERT INTO core_messages(direction, adapter_id, message_id, address, text, status, created_at, updated_at) "
        "VALUES('in', 'generic', 'old-1', '13800000001', '回声 旧', 'processed', 1, 1)");
    const auto id = s.last_insert_id();
    for (const char* text : {"第一条", "第二条"})
      s.execute(
          "INSERT INTO core_messages(direction, adapter_id, address, text, status, in_reply_to, created_at, "
          "updated_at) VALUES('out', 'generic', '13800000001', ?, 'reply', ?, 1, 1)",
          {std::string(text), id});
  });
  const auto again = server.submit({"generic", ChannelKind::personal, "phone", kVillager, "", "回声 旧", "old-1", 0});
  EXPECT_EQ(again.status, SubmitResult::Status::duplicate);
  ASSERT_EQ(again.replies.size(), 2U);
  EXPECT_EQ(again.replies[0].text, "第一条");
  EXPECT_EQ(again.replies[1].text, "第二条");
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM test_echo_log WHERE text='旧'"), 0) << "not handled again";
}

// A long answer given again (帮助 to the same roles) is stored once (core_011): later messages
// answered alike name the row that holds it. A retry of any of them, also after a restart, gets
// the whole answer; a short answer is stored with every message.
TEST(Pipeline, ARepeatedLongAnswerIsStoredOnceAndEveryRetryGetsItWhole) {
  TestServer server(echo_options());
  auto send = [&](const std::string& id, const std::string& text) {
    return server.submit({"generic", ChannelKind::personal, "phone", kVillager, "", text, id, 0});
  };
  // An echo between the 帮助s: by its answer the writer has committed the 帮助 before it.
  const auto help = send("help-1", "帮助");
  ASSERT_EQ(help.status, SubmitResult::Status::processed);
  ASSERT_EQ(help.replies.size(), 1U);
  ASSERT_GE(help.replies[0].text.size(), pipeline::message_log::RepeatedAnswers::kMinBytes);
  ASSERT_EQ(send("echo-1", "回声 短").replies.size(), 1U);
  for (const char* id : {"help-2", "help-3"}) {
    const auto again = send(id, "帮助");
    ASSERT_EQ(again.replies.size(), 1U);
    EXPECT_EQ(again.replies[0].text, help.replies[0].text);
    ASSERT_EQ(send(std::string("echo-") + id, "回声 短").replies.size(), 1U);
  }
  // A message's answer may be logged in a later commit than its own (when the writer's hold ran
  // out first): by the answer to one more message, every answer before it is logged.
  ASSERT_EQ(send("sync", "回声 同步").replies.size(), 1U);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id LIKE 'help-%' AND replies IS NOT NULL"),
            1)
      << "the text is stored once";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id IN ('help-2', 'help-3') AND replies IS "
                         "NULL AND replies_of = (SELECT id FROM core_messages WHERE message_id = 'help-1')"),
            2);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id LIKE 'echo-%' AND replies = '[\"短\"]'"),
            3)
      << "a short answer is stored with each message";

  server.restart();
  const auto retry = send("help-3", "帮助");
  EXPECT_EQ(retry.status, SubmitResult::Status::duplicate);
  ASSERT_EQ(retry.replies.size(), 1U);
  EXPECT_EQ(retry.replies[0].text, help.replies[0].text) << "the retry gets the whole answer, not a reference";
  EXPECT_EQ(send("help-4", "帮助").replies.at(0).text, help.replies[0].text);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id LIKE 'help-%'"), 4);
}

TEST(Pipeline, TooFastSendersGetOneNoticeThenSilence) {
  Options o = echo_options();
  o.rate_limit_messages = 3;
  TestServer server(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first(server.send(kVillager, "回声 " + std::to_string(i))), std::to_string(i));
  EXPECT_THAT(first(server.send(kVillager, "回声 4")), HasSubstr("太快"));
  EXPECT_TRUE(server.send(kVillager, "回声 5").empty());
  EXPECT_EQ(first(server.send(kCadre, "回声 other")), "other") << "other senders are not affected";
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE direction='in' AND status='rate_limited'"), 2)
      << "limited messages are still stored";
}

TEST(Pipeline, OptOutIsKeptOnThePerson) {
  TestServer server(echo_options());
  EXPECT_THAT(first(server.send(kVillager, "TD")), HasSubstr("已退订"));
  EXPECT_TRUE(server.runtime().directory().find_by_phone(kVillager)->opted_out);
  EXPECT_THAT(first(server.send(kVillager, "订阅")), HasSubstr("恢复"));
  EXPECT_FALSE(server.runtime().directory().find_by_phone(kVillager)->opted_out);
}

TEST(Pipeline, InvalidUtf8IsRejectedAndNothingIsStored) {
  TestServer server(echo_options());
  const auto r = server.submit({"generic", ChannelKind::personal, "phone", kVillager, "", "\xff\xfe bad", "bad-1", 0});
  EXPECT_EQ(r.status, SubmitResult::Status::rejected);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id='bad-1'"), 0);
}

TEST(Pipeline, AMessageAcceptedBeforeACrashIsAnsweredAfterRestart) {
  FakeHttpServer receiver;
  Options o = echo_options();
  o.extra_toml = "";
  TestServer server(o);
  // Stands for a crash between accepting and answering: the row is durable,
  // its processing never happened.
  server.runtime().storage().write([](Session& s) {
    s.execute(
        "INSERT INTO core_messages(direction, adapter_id, message_id, address, text, status, created_at, updated_at) "
        "VALUES('in', 'generic', 'crashed-1', '13800000001', '回声 劫后余生', 'accepted', 1, 1)");
  });
  server.restart();
  for (int i = 0; i < 100 && server.count("SELECT COUNT(*) FROM core_messages WHERE message_id='crashed-1' AND "
                                          "status='processed'") == 0;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_messages WHERE message_id='crashed-1' AND status='processed'"), 1);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM test_echo_log WHERE text='劫后余生'"), 1);
}

TEST(Pipeline, PluginMessagesGoOutThroughTheAdapterAndOptOutIsHonoured) {
  FakeHttpServer receiver;
  Options o = echo_options();
  o.plugin_sections["test_echo"] = "greeting = \"乡亲们好\"";
  o.adapter_toml = "reply_url = \"" + receiver.url("/sms") + "\"\nsms = true";
  TestServer server(o);
  EXPECT_EQ(first(server.send(kVillager, "greet")), "sent");
  auto got = receiver.wait_for(1);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].target, "/sms");
  const auto body = nlohmann::json::parse(got[0].body);
  EXPECT_EQ(body["recipient"], "+8613800000001");
  EXPECT_EQ(body["text"], "乡亲们好");
  for (int i = 0; i < 100 && server.count("SELECT COUNT(*) FROM core_outbox WHERE status='sent'") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE status='sent' AND text='乡亲们好'"), 1);

  // 退订: this adapter is SMS, so the greeting is no longer sent.
  server.send(kVillager, "退订");
  server.send(kVillager, "greet");
  EXPECT_EQ(receiver.wait_for(2, std::chrono::milliseconds(500)).size(), 1U);
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_outbox WHERE text='乡亲们好'"), 1)
      << "no channel reaches an opted-out villager with only SMS";
}

TEST(Pipeline, ShouDaoAcknowledgesTheLatestBroadcast) {
  FakeHttpServer receiver;
  Options o = echo_options();
  o.adapter_toml = "reply_url = \"" + receiver.url("/out") + "\"";
  TestServer server(o);
  EXPECT_THAT(first(server.send(kVillager, "收到")), HasSubstr("没有")) << "nothing to confirm yet";
  Broadcast b;
  b.text = "明早八点停水，请提前储水。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::personal_all;
  const auto id = server.runtime().messenger().broadcast(b, nullptr);
  ASSERT_GT(id, 0);
  ASSERT_GE(receiver.wait_for(5).size(), 5U) << "the notice went out to the village";
  EXPECT_THAT(first(server.send(kVillager, "收到")), HasSubstr("已确认"));
  EXPECT_EQ(server.count("SELECT COUNT(*) FROM core_broadcast_recipients WHERE acked_at_ms IS NOT NULL AND "
                         "broadcast_id = " +
                         std::to_string(id)),
            1);
  const auto status = server.runtime().messenger().broadcast_status(id);
  EXPECT_EQ(status["acknowledged"], 1) << status.dump();
}

}  // namespace
}  // namespace villagebot::testkit

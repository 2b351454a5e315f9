// The modem adapter inside a real server, against a modem simulator on a pseudo-terminal: the
// init dialogue; 积分 texted from 13800000001 answered by AT+CMGS to that number with the balance,
// the SIM slot deleted only once the message is durable; a message left on the SIM while the
// server was down; a concatenated inbound message; +CMS ERROR temporary (retried) and permanent
// (failed with the reason); +CDS status reports moving the outbox row to delivered or failed;
// the modem unplugged during sends and plugged back: nothing lost, nothing sent twice; a late
// answer to a send that timed out is not taken for the next send's; a SIM slot freed and filled
// again by a new message while a sweep raced the delete is not deleted a second time.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "modem_sim.hpp"
#include "runtime/runtime.hpp"
#include "temp_dir.hpp"
#include "testkit.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/sms.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testkit::eventually;

constexpr const char* kVillager = "+8613800000001";

class Modem : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = std::make_unique<testkit::ModemSim>(dir_.path(), pin_); }
  void TearDown() override {
    server_.reset();
    sim_.reset();
  }

  void start_server(const std::string& more = {}) {
    testkit::Options so;
    so.plugins = {"points"};
    so.extra_toml =
        "[delivery]\nretry_base_ms = 50\nretry_max_ms = 300\nmax_attempts = 5\n\n"
        "[[adapters]]\nid = \"gsm\"\ntype = \"modem\"\ndevice = \"" +
        sim_->device() +
        "\"\nsignature = \"【幸福村】\"\ncommand_timeout_ms = 2000\nsend_timeout_ms = " + send_timeout_ms_ +
        "\nreconnect_min_ms = 50\nreconnect_max_ms = 200\noffline_wait_ms = 5000\n" + more;
    server_ = std::make_unique<testkit::TestServer>(so);
  }

  std::string modem_state() {
    auto r = server_->request("GET", "/healthz");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("adapters") || !body["adapters"].contains("gsm")) return "?";
    return body["adapters"]["gsm"].value("state", "?");
  }
  bool running() {
    return eventually([&] { return modem_state() == "running"; });
  }

  std::int64_t outbox(const std::string& status) {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'gsm' AND status = '" + status + "'");
  }
  std::string outbox_text(const std::string& column, std::int64_t id) {
    return server_->runtime().storage().read([&](Session& s) {
      auto rows = s.query("SELECT " + column + " FROM core_outbox WHERE id = ?", {id});
      return rows.empty() ? std::string() : rows[0].text(0);
    });
  }

  std::int64_t send(const std::string& text, const std::string& to = kVillager) {
    OutboundMessage m;
    m.adapter_id = "gsm";
    m.address = to;
    m.text = text;
    m.priority = Priority::reply;
    return server_->runtime().messenger().send(m);
  }

  std::string pin_;
  std::string send_timeout_ms_ = "3000";
  testkit::TempDir dir_{"vb-modem"};
  std::unique_ptr<testkit::ModemSim> sim_;
  std::unique_ptr<testkit::TestServer> server_;
};

TEST_F(Modem, InitialisesTheModemAndAnswersPointsTextedBySmsDeletingTheSlotOnlyOnceDurable) {
  start_server();
  ASSERT_TRUE(running());
  ASSERT_TRUE(eventually([&] {
    const auto c = sim_->commands();
    return std::find(c.begin(), c.end(), "AT+CMGL=4") != c.end();
  }));
  auto commands = sim_->commands();
  commands.resize(9);
  EXPECT_THAT(commands, ElementsAre("AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0", "AT+CPMS=\"SM\",\"SM\",\"SM\"",
                                    "AT+CSMS=0", "AT+CNMI=2,1,0,1,0", "AT+CMGL=4"));

  std::atomic<std::int64_t> stored_when_deleted{-1};
  sim_->on_delete([&](int) {
    stored_when_deleted = server_->count(
        "SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm' AND text = '积分'");
  });
  // Texted from 13800000001, as the network gives a national number.
  const int slot = sim_->inject(testkit::sim_make_deliver("13800000001", "积分"));
  ASSERT_TRUE(eventually([&] { return !sim_->sent().empty(); }));
  const auto sent = sim_->sent();
  EXPECT_EQ(sent[0].to, kVillager);
  EXPECT_THAT(sent[0].text, StartsWith("【幸福村】"));
  EXPECT_THAT(sent[0].text, HasSubstr("积分"));
  EXPECT_EQ(sent[0].dcs, 0x08);
  EXPECT_EQ(sent[0].cmgs_length, sent[0].tpdu_length);
  ASSERT_TRUE(eventually([&] { return sim_->stored().empty(); }));
  EXPECT_EQ(stored_when_deleted.load(), 1) << "slot " << slot << " deleted before the message was stored";
  commands = sim_->commands();
  const auto read = std::find(commands.begin(), commands.end(), "AT+CMGR=" + std::to_string(slot));
  const auto deleted = std::find(commands.begin(), commands.end(), "AT+CMGD=" + std::to_string(slot));
  EXPECT_LT(read, deleted);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm' AND "
                           "address = '+8613800000001'"),
            1);
}

TEST_F(Modem, AMessageLeftOnTheSimWhileTheServerWasDownIsAnsweredAtStartAndOnlyOnce) {
  sim_->store(testkit::sim_make_deliver(kVillager, "积分", {}, "261130080000"));
  start_server();
  ASSERT_TRUE(eventually([&] { return sim_->sent().size() == 1 && sim_->stored().empty(); }));
  EXPECT_EQ(sim_->sent()[0].to, kVillager);
  EXPECT_THAT(sim_->sent()[0].text, HasSubstr("积分"));

  // A crash after the pipeline stored it but before AT+CMGD: the same message is read again at
  // the next start, recognised by its message_id, deleted, and not answered a second time.
  sim_->store(testkit::sim_make_deliver(kVillager, "积分", {}, "261130080000"));
  server_->restart();
  ASSERT_TRUE(eventually([&] { return sim_->stored().empty(); }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sim_->sent().size(), 1u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm'"), 1);
}

TEST_F(Modem, AnUnreadableMessageIsSetAsideAndDoesNotBlockTheOthers) {
  sim_->store("0004FF917238880900F1");  // the sender's address runs past the end
  sim_->store(testkit::sim_make_deliver(kVillager, "积分"));
  start_server();
  ASSERT_TRUE(eventually([&] { return sim_->sent().size() == 1 && sim_->stored().empty(); }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM adapter_modem_unreadable WHERE adapter_id = 'gsm' AND "
                           "pdu = '0004FF917238880900F1'"),
            1);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm'"), 1);
}

class ModemWithPin : public Modem {
 protected:
  void SetUp() override {
    pin_ = "4321";
    Modem::SetUp();
  }
  void TearDown() override {
    Modem::TearDown();
    ::unsetenv("VB_TEST_MODEM_PIN");
  }
};

TEST_F(ModemWithPin, TheSimIsUnlockedWithThePinFromTheEnvironment) {
  ::setenv("VB_TEST_MODEM_PIN", "4321", 1);
  start_server("pin = \"${VB_TEST_MODEM_PIN}\"\n");
  ASSERT_TRUE(running());
  const auto c = sim_->commands();
  EXPECT_EQ(std::count(c.begin(), c.end(), "AT+CPIN=\"4321\""), 1);
}

TEST_F(ModemWithPin, AWrongPinIsTriedOnceSoThatTheSimDoesNotLock) {
  ::setenv("VB_TEST_MODEM_PIN", "1111", 1);
  start_server("pin = \"${VB_TEST_MODEM_PIN}\"\n");
  ASSERT_TRUE(eventually([&] {
    const auto c = sim_->commands();
    return std::count(c.begin(), c.end(), "AT+CPIN?") >= 4;  // it kept reconnecting
  }));
  const auto c = sim_->commands();
  EXPECT_EQ(std::count(c.begin(), c.end(), "AT+CPIN=\"1111\""), 1);
  EXPECT_EQ(modem_state(), "disconnected");
  auto body = nlohmann::json::parse(server_->request("GET", "/healthz").body);
  EXPECT_THAT(body["adapters"]["gsm"].value("error", ""), HasSubstr("PIN"));
  // The operator sees it as a fault (issue 13): degraded, the modem named, the reason given.
  EXPECT_EQ(body["status"], "degraded");
  bool named = false;
  for (const auto& f : body["faults"])
    if (f["component"] == "adapter:gsm" && f["code"] == "gateway_down") {
      named = true;
      EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("PIN"));
    }
  EXPECT_TRUE(named) << body.dump();
}

TEST_F(Modem, AConcatenatedMessageIsSubmittedWholeOnceEveryPartIsOnTheSim) {
  start_server();
  ASSERT_TRUE(running());
  // Part 2 first, as networks sometimes deliver them.
  const int second = sim_->inject(testkit::sim_make_deliver(kVillager, "分", sms::udh_concat8(0x42, 2, 2)));
  std::this_thread::sleep_for(400ms);
  EXPECT_THAT(sim_->stored(), ElementsAre(second)) << "a lone part stays on the SIM";
  EXPECT_TRUE(sim_->sent().empty());
  sim_->inject(testkit::sim_make_deliver(kVillager, "积", sms::udh_concat8(0x42, 2, 1)));
  ASSERT_TRUE(eventually([&] { return sim_->sent().size() == 1 && sim_->stored().empty(); }));
  EXPECT_THAT(sim_->sent()[0].text, HasSubstr("积分"));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm' AND "
                           "text = '积分'"),
            1);
}

TEST_F(Modem, TemporaryErrorsAreRetriedAndPermanentOnesFailWithTheReason) {
  start_server();
  ASSERT_TRUE(running());
  sim_->fail_next_sends({42, 331});  // congestion, then no network service
  const auto id = send("明天上午九点村委会开会。");
  ASSERT_TRUE(eventually([&] { return outbox_text("status", id) == "sent"; }));
  EXPECT_EQ(sim_->send_attempts(), 3);
  EXPECT_EQ(outbox_text("attempts", id), "3");
  ASSERT_EQ(sim_->sent().size(), 1u);
  EXPECT_EQ(sim_->sent()[0].text, "【幸福村】明天上午九点村委会开会。");

  sim_->fail_next_sends({1});  // unassigned number
  const auto bad = send("通知", "+8613900000000");
  ASSERT_TRUE(eventually([&] { return outbox_text("status", bad) == "failed"; }));
  EXPECT_THAT(outbox_text("last_error", bad), HasSubstr("空号"));
  EXPECT_THAT(outbox_text("last_error", bad), HasSubstr("unassigned"));
  EXPECT_EQ(sim_->send_attempts(), 4) << "a permanent error is not retried";
}

TEST_F(Modem, StatusReportsMarkTheOutboxRowDeliveredOrFailed) {
  start_server();
  ASSERT_TRUE(running());
  const auto one = send("停水通知：明天八点到十二点停水。");
  ASSERT_TRUE(eventually([&] { return outbox_text("status", one) == "sent"; }));
  ASSERT_EQ(sim_->sent().size(), 1u);
  EXPECT_TRUE(sim_->sent()[0].status_report);
  sim_->status_report(sim_->sent()[0].reference, kVillager, 0x21);  // still trying: no change
  sim_->status_report(sim_->sent()[0].reference, kVillager, 0x00);
  ASSERT_TRUE(eventually([&] { return outbox_text("status", one) == "delivered"; }));

  // A long message: delivered only when every part is.
  std::string longer;
  for (int i = 0; i < 150; ++i) longer += "村";
  const auto two = send(longer);
  ASSERT_TRUE(eventually([&] { return outbox_text("status", two) == "sent"; }));
  auto sent = sim_->sent();
  ASSERT_EQ(sent.size(), 4u) << "one, then three parts";
  sim_->status_report(sent[1].reference, kVillager, 0x00);
  sim_->status_report(sent[2].reference, kVillager, 0x00);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(outbox_text("status", two), "sent");
  sim_->status_report(sent[3].reference, kVillager, 0x00);
  ASSERT_TRUE(eventually([&] { return outbox_text("status", two) == "delivered"; }));

  const auto three = send("投票提醒");
  ASSERT_TRUE(eventually([&] { return outbox_text("status", three) == "sent"; }));
  sim_->status_report(sim_->sent().back().reference, kVillager, 0x46);  // validity period expired
  ASSERT_TRUE(eventually([&] { return outbox_text("status", three) == "failed"; }));
  EXPECT_THAT(outbox_text("last_error", three), HasSubstr("validity period"));
}

TEST_F(Modem, UnpluggedDuringSendsThenPluggedBackEverythingGoesOutOnce) {
  start_server();
  ASSERT_TRUE(running());
  sim_->hold_sends(true);
  const auto first = send("第一条");
  ASSERT_TRUE(eventually([&] { return sim_->held() == 1; }));
  sim_->unplug();
  ASSERT_TRUE(eventually([&] { return modem_state() == "disconnected"; }));
  const auto second = send("第二条");
  const auto third = send("第三条");
  // An SMS that arrives while the modem is away waits on the SIM.
  sim_->store(testkit::sim_make_deliver("13800000001", "积分"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(modem_state(), "disconnected");
  EXPECT_EQ(outbox("sent"), 0);
  EXPECT_EQ(outbox("failed"), 0);
  EXPECT_TRUE(sim_->sent().empty());

  sim_->hold_sends(false);
  sim_->plug();
  ASSERT_TRUE(running());
  ASSERT_TRUE(eventually([&] {
    return outbox_text("status", first) == "sent" && outbox_text("status", second) == "sent" &&
           outbox_text("status", third) == "sent" && outbox("sent") == 4;
  }));
  std::vector<std::string> texts;
  for (const auto& s : sim_->sent()) texts.push_back(s.text);
  std::sort(texts.begin(), texts.end());
  ASSERT_EQ(texts.size(), 4u);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "【幸福村】第一条"), 1);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "【幸福村】第二条"), 1);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "【幸福村】第三条"), 1);
  EXPECT_TRUE(sim_->stored().empty());
}

TEST_F(Modem, ALateAnswerToASendThatTimedOutIsNotTakenForTheNextSend) {
  send_timeout_ms_ = "1000";
  start_server();
  ASSERT_TRUE(running());
  // The network answers the first message after the adapter stopped waiting; meanwhile the modem
  // reads nothing, so the next AT+CMGS meets that late "+CMGS: 0" / "OK" first.
  sim_->delay_next_send(1500ms);
  const auto first = send("第一条");
  ASSERT_TRUE(eventually([&] { return sim_->send_attempts() == 1; }));
  const auto second = send("第二条");
  ASSERT_TRUE(
      eventually([&] { return outbox_text("status", first) == "sent" && outbox_text("status", second) == "sent"; }));
  std::vector<std::string> texts;
  for (const auto& s : sim_->sent()) texts.push_back(s.text);
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "【幸福村】第二条"), 1) << "the second message was never sent";
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "【幸福村】第一条"), 1) << "the late answer says it went out";
  EXPECT_EQ(texts.size(), 2u);
}

TEST_F(Modem, ANewMessageInASlotJustFreedIsAnsweredEvenWhenASweepRacedTheDelete) {
  start_server("resweep_ms = 50\n");
  ASSERT_TRUE(running());
  ASSERT_TRUE(eventually([&] {
    const auto c = sim_->commands();
    return std::find(c.begin(), c.end(), "AT+CMGL=4") != c.end();
  }));
  // The pipeline's answer to X is held back (the database writer is busy) until a sweep is listing
  // the SIM, so that the answer, and the AT+CMGD it asks for, come while X is still listed.
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::atomic<bool> holding{false};
  std::thread writer([&] {
    server_->runtime().storage().write([&](Session&) {
      holding = true;
      open.wait();
    });
  });
  ASSERT_TRUE(eventually([&] { return holding.load(); }));
  const int x = sim_->inject(testkit::sim_make_deliver(kVillager, "积分", {}, "261130090000"));
  ASSERT_TRUE(eventually([&] {
    const auto c = sim_->commands();
    return std::find(c.begin(), c.end(), "AT+CMGR=" + std::to_string(x)) != c.end();
  }));
  sim_->pause_on("AT+CMGL=4");
  sim_->emit("+CMTI: \"SM\",9");  // an empty slot: the failed read lists the SIM again
  const bool swept = eventually([&] { return sim_->paused(); });
  gate.set_value();
  writer.join();
  ASSERT_TRUE(swept);
  ASSERT_TRUE(
      eventually([&] { return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'gsm'") >= 1; }));
  // The answer's AT+CMGD is queued behind the sweep by now (a moment for the modem's thread).
  std::this_thread::sleep_for(200ms);
  // Z, a new message, lands in the slot X leaves.
  sim_->deliver_after_delete(testkit::sim_make_deliver(kVillager, "积分", {}, "261130090500"));
  sim_->resume();
  ASSERT_TRUE(eventually([&] { return sim_->sent().size() == 2 && sim_->stored().empty(); }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'gsm'"), 2);
}

}  // namespace
}  // namespace villagebot

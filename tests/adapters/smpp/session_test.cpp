// The SMPP session against the test SMSC: binding (and a wrong password: backoff, health says so),
// the window never exceeded over 1,000 submits, throttling slowing down and still delivering, a
// connection dropped mid-stream, malformed PDUs from the SMSC, enquire_link, unbind on stop.
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "session.hpp"
#include "smsc.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using testkit::eventually;

smpp::SessionSettings settings(const smsc::Smsc& server, const std::string& password = "secret") {
  smpp::SessionSettings s;
  s.port = server.port();
  s.system_id = "village";
  s.password = password;
  s.system_type = "VB";
  s.reconnect_min = 50ms;
  s.reconnect_max = 400ms;
  s.throttle_delay = 30ms;
  s.response_timeout = 3000ms;
  s.bind_wait = 5000ms;
  return s;
}

smpp::Pdu message(const std::string& to, const std::string& text = "test") {
  smpp::Pdu p;
  p.destination_addr = to;
  p.dest_addr_ton = 1;
  p.dest_addr_npi = 1;
  p.short_message = text;
  return p;
}

TEST(SmppSession, AWrongPasswordIsReportedAndRetriedWithBackoffThenBinds) {
  smsc::Smsc server;
  smpp::Session session(settings(server, "wrong"), nullptr, nullptr);
  session.start();
  ASSERT_TRUE(eventually([&] { return server.refused_binds() >= 3; }, 10s));
  const auto h = session.health();
  EXPECT_FALSE(h["bound"].get<bool>());
  EXPECT_NE(h["last_error"].get<std::string>().find("ESME_RINVPASWD"), std::string::npos) << h.dump();
  EXPECT_GE(h["bind_failures"].get<int>(), 3);
  // Not bound: a submit gives up after bind_wait with the reason, it does not hang or crash.
  EXPECT_EQ(server.binds(), 0);
  // The SMSC's password is changed to what the ESME sends: the next attempt binds.
  server.set_password("wrong");
  ASSERT_TRUE(server.wait_binds(1, 5s));
  ASSERT_TRUE(eventually([&] { return session.bound(); }));
  EXPECT_EQ(session.health()["state"], "bound");
  const auto o = session.submit(message("8613800000001"));
  EXPECT_EQ(o.kind, smpp::SubmitOutcome::Kind::ok) << o.error;
}

TEST(SmppSession, AThousandSubmitsNeverExceedTheWindowAtTheSmsc) {
  smsc::Smsc server;
  server.set_delay(2ms);  // answers come late, so the window fills
  auto s = settings(server);
  s.window = 4;
  smpp::Session session(s, nullptr, nullptr);
  session.start();
  std::atomic<int> ok{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 125; ++i)
        if (session.submit(message("86139" + std::to_string(10000000 + t * 1000 + i))).kind ==
            smpp::SubmitOutcome::Kind::ok)
          ++ok;
    });
  for (auto& t : senders) t.join();
  EXPECT_EQ(ok.load(), 1000);
  const auto submits = server.submits();
  ASSERT_EQ(submits.size(), 1000u);
  EXPECT_LE(server.max_outstanding(), 4);
  EXPECT_EQ(server.max_outstanding(), 4) << "eight senders keep the window full";
  std::set<std::uint32_t> sequences;
  std::set<std::string> ids;
  for (const auto& m : submits) {
    sequences.insert(m.sequence);
    ids.insert(m.message_id);
  }
  EXPECT_EQ(sequences.size(), 1000u) << "each submit_sm has its own sequence number";
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_LE(session.health()["max_in_flight"].get<int>(), 4);
}

TEST(SmppSession, ThrottlingSlowsDownAndStillDeliversEverything) {
  smsc::Smsc server;
  server.throttle_first(6);
  auto s = settings(server);
  s.window = 8;
  smpp::Session session(s, nullptr, nullptr);
  session.start();
  std::atomic<int> ok{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        if (session.submit(message("8613900000" + std::to_string(t * 10 + i))).kind == smpp::SubmitOutcome::Kind::ok)
          ++ok;
    });
  for (auto& t : senders) t.join();
  EXPECT_EQ(ok.load(), 40);
  std::set<std::string> accepted;
  int throttled = 0;
  for (const auto& m : server.submits()) {
    if (m.answered_status == 0) accepted.insert(m.destination);
    if (m.answered_status == 0x58) ++throttled;
  }
  EXPECT_EQ(accepted.size(), 40u);
  EXPECT_EQ(throttled, 6);
  const auto h = session.health();
  EXPECT_EQ(h["throttled"], 6);

  // An SMSC that never stops throttling: the submit gives up with "throttled" (the engine retries later).
  server.throttle_first(1000, 0x14);
  const auto o = session.submit(message("8613900000999"));
  EXPECT_EQ(o.kind, smpp::SubmitOutcome::Kind::throttled);
  EXPECT_NE(o.error.find("ESME_RMSGQFUL"), std::string::npos);
}

TEST(SmppSession, AConnectionDroppedMidStreamFailsOnlyTheUnansweredSubmitAndReconnects) {
  smsc::Smsc server;
  smpp::Session session(settings(server), nullptr, nullptr);
  session.start();
  server.drop_at_submit(3);
  std::vector<smpp::SubmitOutcome::Kind> kinds;
  for (int i = 0; i < 6; ++i) kinds.push_back(session.submit(message("861390000000" + std::to_string(i))).kind);
  EXPECT_EQ(kinds[0], smpp::SubmitOutcome::Kind::ok);
  EXPECT_EQ(kinds[1], smpp::SubmitOutcome::Kind::ok);
  EXPECT_EQ(kinds[2], smpp::SubmitOutcome::Kind::disconnected);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(kinds[static_cast<std::size_t>(i)], smpp::SubmitOutcome::Kind::ok);
  EXPECT_EQ(server.binds(), 2);
  EXPECT_GE(session.health()["disconnects"].get<int>(), 1);
}

TEST(SmppSession, BrokenFramesEndTheConnectionAndAnUnreadableDeliverSmIsRefusedOnTheLiveLink) {
  smsc::Smsc server;
  smpp::Session session(settings(server), nullptr, nullptr);
  session.start();
  ASSERT_TRUE(server.wait_binds(1, 5s));
  // An unknown command: answered with generic_nack ESME_RINVCMDID, the connection stays.
  server.send_raw(smsc::pdu(0x00000103, 0, 77, "junk"));
  ASSERT_TRUE(eventually([&] { return server.generic_nacks() == 1; }));
  EXPECT_EQ(session.submit(message("8613800000001")).kind, smpp::SubmitOutcome::Kind::ok);
  EXPECT_EQ(server.binds(), 1);
  // command_length 8 (below the header), then a huge one: each drops the connection, then a new bind.
  server.send_raw(smsc::be32(8) + smsc::be32(0x80000004) + smsc::be32(0) + smsc::be32(1));
  ASSERT_TRUE(server.wait_binds(2, 5s));
  server.send_raw(smsc::be32(0x7FFFFFF0) + smsc::be32(0x00000005) + smsc::be32(0) + smsc::be32(2));
  ASSERT_TRUE(server.wait_binds(3, 5s));
  // A deliver_sm whose source_addr has no NUL, but framed right: refused (ESME_RX_P_APPN, so the
  // SMSC does not send it again), and the link stays — dropping it would make the SMSC send the
  // same PDU after every rebind.
  server.send_raw(smsc::pdu(0x00000005, 0, 3, std::string(1, '\0') + "\x01\x01" + std::string(40, '1')));
  const auto refused = server.deliver_resp(3, 5s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(*refused, 0x00000065u);
  EXPECT_EQ(server.binds(), 3);
  ASSERT_TRUE(eventually([&] { return session.bound(); }));
  EXPECT_EQ(session.submit(message("8613800000001")).kind, smpp::SubmitOutcome::Kind::ok);
  EXPECT_NE(session.health()["last_error"].get<std::string>().find("malformed"), std::string::npos)
      << session.health().dump();
}

TEST(SmppSession, EnquireLinkIsAnsweredBothWaysAndSilenceMeansReconnect) {
  smsc::Smsc server;
  auto s = settings(server);
  s.enquire_link = 1s;
  s.response_timeout = 300ms;
  smpp::Session session(s, nullptr, nullptr);
  session.start();
  ASSERT_TRUE(server.wait_binds(1, 5s));
  ASSERT_TRUE(eventually([&] { return server.enquire_links() >= 1; }, 5s));
  EXPECT_EQ(server.binds(), 1) << "an answered enquire_link keeps the session";
  // The SMSC asks too.
  server.send_raw(smsc::pdu(0x00000015, 0, 4242));
  server.set_answer_enquire_link(false);
  ASSERT_TRUE(server.wait_binds(2, 6s)) << "no enquire_link_resp: a new connection";
  EXPECT_NE(session.health()["last_error"].get<std::string>().find("enquire_link"), std::string::npos);
}

TEST(SmppSession, StopUnbindsAndSubmitsAfterStopReturnAtOnce) {
  smsc::Smsc server;
  smpp::Session session(settings(server), nullptr, nullptr);
  session.start();
  ASSERT_TRUE(eventually([&] { return session.bound(); }));
  session.stop();
  EXPECT_EQ(server.unbinds(), 1);
  EXPECT_EQ(session.health()["state"], "stopped");
  EXPECT_EQ(session.submit(message("8613800000001")).kind, smpp::SubmitOutcome::Kind::stopped);
}

}  // namespace
}  // namespace villagebot

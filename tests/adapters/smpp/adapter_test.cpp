// The SMPP adapter module in a real runtime (TestServer: real plugins, SQLite, delivery engine)
// against the test SMSC: a long Chinese text in three UCS-2 parts (UDH, and SAR with an emoji at
// the cut) delivered when every part's receipt says so, failed when one part fails; 积分 texted from
// a phone answered by SMS; a text in parts reassembled across a restart; a 200-person broadcast
// through a connection dropped mid-stream and through throttling, nothing lost; unbind on shutdown.
#include <cstdlib>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "smsc.hpp"
#include "testkit.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using smsc::utf16be;
using testkit::eventually;

const char* const kSignature = "【幸福村】";

std::string chinese(std::size_t n) {
  static const std::vector<std::string> chars = {"村", "民", "大", "会", "明", "天", "上", "午", "九", "点",
                                                 "在", "委", "召", "开", "请", "准", "时", "参", "加", "谢"};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += chars[i % chars.size()];
  return out;
}

class SmppAdapter : public ::testing::Test {
 protected:
  void boot(const std::string& concatenation = "udh", std::string people = testkit::kSmallVillageCsv) {
    ::setenv("VB_TEST_SMPP_PASSWORD", "secret", 1);
    testkit::Options o;
    o.plugins = {"points"};
    o.people_csv = std::move(people);
    o.extra_toml =
        "[[adapters]]\nid = \"sms\"\ntype = \"smpp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(smsc_.port()) +
        "\nsystem_id = \"village\"\npassword = \"${VB_TEST_SMPP_PASSWORD}\"\nsignature = \"" + kSignature +
        "\"\nsource_addr = \"10690000\"\nnumber_format = \"national\"\nconcatenation = \"" + concatenation +
        "\"\nwindow = 8\nconcurrency = 8\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n"
        "throttle_delay_ms = 50\nresponse_timeout_ms = 5000\n\n[delivery]\nretry_base_ms = 50\n";
    server_ = std::make_unique<testkit::TestServer>(o);
    ASSERT_TRUE(smsc_.wait_binds(1, 10s));
  }

  std::int64_t send(const std::string& phone, const std::string& text) {
    OutboundMessage m;
    m.adapter_id = "sms";
    m.address = phone;
    m.text = text;
    m.essential = true;  // not held by quiet hours, whatever the time the test runs
    return server_->runtime().messenger().send(m);
  }
  std::string outbox_status(std::int64_t id) {
    std::string status;
    server_->runtime().storage().read([&](Session& s) {
      auto rows = s.query("SELECT status, last_error FROM core_outbox WHERE id = ?", {id});
      if (!rows.empty()) status = rows[0].text(0) + (rows[0].text(1).empty() ? "" : ": " + rows[0].text(1));
    });
    return status;
  }
  std::uint32_t deliver(const smsc::Deliver& d) {
    const auto seq = smsc_.deliver(d);
    EXPECT_NE(seq, 0u) << "no bound connection at the SMSC";
    return seq;
  }
  static smsc::Deliver text_from(const std::string& phone, const std::string& text) {
    smsc::Deliver d;
    d.source = phone;
    d.data_coding = 8;
    d.short_message = utf16be(text);
    return d;
  }
  nlohmann::json health() { return server_->runtime().health()["adapters"]["sms"]; }

  smsc::Smsc smsc_;
  std::unique_ptr<testkit::TestServer> server_;
};

TEST_F(SmppAdapter, A200CharacterChineseTextGoesInThreeUdhPartsAndIsDeliveredWhenEveryPartIs) {
  boot("udh");
  const std::string text = chinese(195);
  const std::string whole = std::string(kSignature) + text;  // 200 characters
  const auto id = send("13800000001", text);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(smsc_.wait_submits(3, 15s));
  ASSERT_TRUE(eventually([&] { return outbox_status(id) == "sent"; })) << outbox_status(id);
  const auto parts = smsc_.submits();
  ASSERT_EQ(parts.size(), 3u);
  const char ref = parts[0].short_message.at(3);
  std::string joined;
  const std::size_t sizes[] = {6 + 134, 6 + 134, 6 + 132};  // 67 + 67 + 66 characters
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& p = parts[i];
    EXPECT_EQ(p.esm_class, 0x40);
    EXPECT_EQ(p.data_coding, 8);
    EXPECT_EQ(p.destination, "13800000001");
    EXPECT_EQ(p.dest_ton, 2);
    EXPECT_EQ(p.source, "10690000");
    EXPECT_EQ(p.registered_delivery, 1);
    EXPECT_EQ(p.short_message.size(), sizes[i]);
    EXPECT_EQ(p.short_message.substr(0, 6), std::string("\x05\x00\x03", 3) + ref + '\x03' + static_cast<char>(i + 1));
    joined += p.short_message.substr(6);
  }
  EXPECT_EQ(joined, utf16be(whole)) << "the UCS-2 octets of the signature and the text, in order";

  // Receipts per part: delivered only when the third says so.
  for (std::size_t i = 0; i < 2; ++i)
    EXPECT_EQ(smsc_.deliver_resp(deliver(smsc::Smsc::receipt(parts[i].message_id, "DELIVRD")), 10s), 0u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(outbox_status(id), "sent");
  EXPECT_EQ(smsc_.deliver_resp(deliver(smsc::Smsc::receipt(parts[2].message_id, "DELIVRD", "000", false)), 10s), 0u);
  EXPECT_TRUE(eventually([&] { return outbox_status(id) == "delivered"; })) << outbox_status(id);
  EXPECT_EQ(health()["receipts"], 3);
}

TEST_F(SmppAdapter, SarPartsNeverCutAnEmojiAndOneFailedPartFailsTheMessage) {
  boot("sar");
  // 61 + 1 emoji + 132 characters after the 5 of the signature: 199 characters, 200 UTF-16 units;
  // the emoji would straddle the first cut (after 67 units), so the first part ends before it.
  const std::string text = chinese(61) + "😀" + chinese(132);
  const std::string whole = std::string(kSignature) + text;
  const auto id = send("+8613800000003", text);
  ASSERT_TRUE(smsc_.wait_submits(3, 15s));
  ASSERT_TRUE(eventually([&] { return outbox_status(id) == "sent"; })) << outbox_status(id);
  const auto parts = smsc_.submits();
  ASSERT_EQ(parts.size(), 3u);
  std::string joined;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& p = parts[i];
    EXPECT_EQ(p.esm_class, 0);
    EXPECT_EQ(p.tlvs.at(0x020C), parts[0].tlvs.at(0x020C));
    EXPECT_EQ(p.tlvs.at(0x020C).size(), 2u);
    EXPECT_EQ(p.tlvs.at(0x020E), std::string(1, '\x03'));
    EXPECT_EQ(p.tlvs.at(0x020F), std::string(1, static_cast<char>(i + 1)));
    const auto last_high = static_cast<std::uint8_t>(p.short_message.at(p.short_message.size() - 2));
    EXPECT_FALSE(last_high >= 0xD8 && last_high <= 0xDB) << "part " << i + 1 << " ends inside a surrogate pair";
    joined += p.short_message;
  }
  EXPECT_EQ(parts[0].short_message.size(), 132u);
  EXPECT_EQ(parts[1].short_message.substr(0, 4), std::string("\xD8\x3D\xDE\x00", 4))
      << "the emoji starts the second part";
  EXPECT_EQ(joined, utf16be(whole));

  EXPECT_EQ(smsc_.deliver_resp(deliver(smsc::Smsc::receipt(parts[0].message_id, "DELIVRD")), 10s), 0u);
  EXPECT_EQ(smsc_.deliver_resp(deliver(smsc::Smsc::receipt(parts[1].message_id, "UNDELIV", "001")), 10s), 0u);
  EXPECT_TRUE(eventually([&] { return outbox_status(id).starts_with("failed"); })) << outbox_status(id);
  EXPECT_NE(outbox_status(id).find("UNDELIV"), std::string::npos) << outbox_status(id);
}

TEST_F(SmppAdapter, PointsTextedBySmsAreAnsweredBySmsAndARedeliveryIsAnsweredOnce) {
  boot();
  const auto seq = deliver(text_from("13800000001", "积分"));
  EXPECT_EQ(smsc_.deliver_resp(seq, 10s), 0u);
  ASSERT_TRUE(smsc_.wait_submits(1, 15s));
  auto answer = smsc_.submits()[0];
  EXPECT_EQ(answer.destination, "13800000001");
  EXPECT_EQ(answer.data_coding, 8);
  const auto at = answer.short_message.find(utf16be("积分"));
  ASSERT_NE(at, std::string::npos) << "the balance text speaks of 积分";
  EXPECT_EQ(at % 2, 0u);
  EXPECT_EQ(answer.short_message.substr(0, utf16be(kSignature).size()), utf16be(kSignature));
  const auto inbound = [&] {
    return server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND adapter_id = 'sms'");
  };
  EXPECT_EQ(inbound(), 1);

  ASSERT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'sms' AND status = 'sent'") == 1;
  }));
  // The connection ends; the SMSC, unsure whether our answer arrived, delivers the text again: it is
  // acknowledged and not answered twice.
  smsc_.drop_all();
  ASSERT_TRUE(smsc_.wait_binds(2, 10s));
  EXPECT_EQ(smsc_.deliver_resp(deliver(text_from("13800000001", "积分")), 10s), 0u);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(smsc_.submits().size(), 1u);
  EXPECT_EQ(inbound(), 1);
  // The same person asks again on this connection (their earlier text was acknowledged here): a new question.
  EXPECT_EQ(smsc_.deliver_resp(deliver(text_from("13800000001", "积分")), 10s), 0u);
  EXPECT_TRUE(smsc_.wait_submits(2, 15s));
  EXPECT_EQ(inbound(), 2);

  // UCS-2 of an odd length cannot be read: refused for good (ESME_RX_P_APPN), nothing stored.
  smsc::Deliver bad = text_from("13800000001", "积分");
  bad.short_message.pop_back();
  EXPECT_EQ(smsc_.deliver_resp(deliver(bad), 10s), 0x65u);
  EXPECT_EQ(inbound(), 2);
}

TEST_F(SmppAdapter, ATextInPartsIsReassembledEvenAcrossARestart) {
  boot();
  const std::string whole = "我要反映：" + chinese(140);  // 145 characters: three parts of ≤ 67
  const std::string octets = utf16be(whole);
  std::vector<smsc::Deliver> parts;
  for (std::size_t i = 0; i < 3; ++i) {
    smsc::Deliver d = text_from("13800000003", "");
    d.esm_class = 0x40;
    d.short_message = std::string("\x05\x00\x03\x42\x03", 5) + static_cast<char>(i + 1) + octets.substr(i * 134, 134);
    parts.push_back(d);
  }
  const auto whole_rows = [&] {
    return server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND text = '" + whole + "'");
  };
  // Out of order; each part acknowledged once stored.
  EXPECT_EQ(smsc_.deliver_resp(deliver(parts[2]), 10s), 0u);
  EXPECT_EQ(smsc_.deliver_resp(deliver(parts[0]), 10s), 0u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM adapter_smpp_parts"), 2);
  EXPECT_EQ(whole_rows(), 0);
  server_->restart();
  ASSERT_TRUE(smsc_.wait_binds(2, 10s));
  EXPECT_EQ(smsc_.unbinds(), 1);
  EXPECT_EQ(smsc_.deliver_resp(deliver(parts[0]), 10s), 0u);  // a part sent again changes nothing
  EXPECT_EQ(smsc_.deliver_resp(deliver(parts[1]), 10s), 0u);
  EXPECT_TRUE(eventually([&] { return whole_rows() == 1; }));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM adapter_smpp_parts"), 0);

  // The same by SAR, in two parts.
  const std::string sar_text = "路灯坏了，" + chinese(70);
  const std::string sar_octets = utf16be(sar_text);
  for (std::uint8_t i = 0; i < 2; ++i) {
    smsc::Deliver d = text_from("13800000003", "");
    d.short_message = sar_octets.substr(i * 134, 134);
    d.tlvs = {{0x020C, smsc::be16(0x0102)}, {0x020E, "\x02"}, {0x020F, std::string(1, static_cast<char>(i + 1))}};
    EXPECT_EQ(smsc_.deliver_resp(deliver(d), 10s), 0u);
  }
  EXPECT_TRUE(eventually([&] {
    return server_->count("SELECT COUNT(*) FROM core_messages WHERE direction = 'in' AND text = '" + sar_text + "'") ==
           1;
  }));
}

TEST_F(SmppAdapter, ABroadcastThroughADroppedConnectionReachesEveryoneAndThrottlingOnlySlowsIt) {
  std::string people = "户号,户主,姓名,手机,村民小组,角色\n";
  for (int i = 0; i < 200; ++i) {
    char row[128];
    std::snprintf(row, sizeof row, "H%03d,户主%d,村民%d,139%08d,一组,村民\n", i, i, i, i);
    people += row;
  }
  boot("udh", people);
  smsc_.set_delay(1ms);
  smsc_.drop_at_submit(57);
  Broadcast b;
  b.text = "明天上午九点在村委会开会，请准时参加。";
  b.audience.everyone = true;
  b.policy = ChannelPolicy::sms_all;
  b.essential = true;
  b.ask_ack = false;
  const auto id = server_->runtime().messenger().broadcast(b);
  ASSERT_GT(id, 0);
  const auto sent = [&] {
    return server_->count("SELECT COUNT(*) FROM core_outbox WHERE broadcast_id = " + std::to_string(id) +
                          " AND status = 'sent'");
  };
  ASSERT_TRUE(eventually([&] { return sent() == 200; }, 60s)) << sent();
  std::set<std::string> accepted;
  for (const auto& m : smsc_.submits())
    if (m.answered_status == 0) accepted.insert(m.destination);
  EXPECT_EQ(accepted.size(), 200u) << "every villager's SMS reached the SMSC";
  EXPECT_GE(smsc_.submits().size(), 201u) << "the one in flight when the connection dropped was sent again";
  EXPECT_GE(smsc_.binds(), 2);
  EXPECT_LE(smsc_.max_outstanding(), 8);

  // Throttling: the first 15 of 30 more are refused with ESME_RTHROTTLED; all 30 still arrive.
  smsc_.throttle_first(15);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 30; ++i)
    ids.push_back(send("13700000" + std::to_string(100 + i), "停水通知：明天九点到十二点。"));
  ASSERT_TRUE(eventually(
      [&] {
        return server_->count(
                   "SELECT COUNT(*) FROM core_outbox WHERE adapter_id = 'sms' AND broadcast_id IS NULL "
                   "AND status = 'sent'") == 30;
      },
      60s));
  accepted.clear();
  for (const auto& m : smsc_.submits())
    if (m.answered_status == 0 && m.destination.starts_with("137")) accepted.insert(m.destination);
  EXPECT_EQ(accepted.size(), 30u);
  EXPECT_GE(health()["throttled"].get<int>(), 15) << health().dump();
}

TEST_F(SmppAdapter, AMalformedPduFromTheSmscReconnectsAndShutdownUnbinds) {
  boot();
  smsc_.send_raw(smsc::be32(4) + smsc::be32(0x80000004) + smsc::be32(0) + smsc::be32(1));
  ASSERT_TRUE(smsc_.wait_binds(2, 10s));
  ASSERT_TRUE(eventually([&] { return health()["state"] == "bound"; })) << health().dump();
  EXPECT_GE(health()["disconnects"].get<int>(), 1);
  const auto id = send("13800000001", "测试");
  EXPECT_TRUE(eventually([&] { return outbox_status(id) == "sent"; })) << outbox_status(id);
  server_.reset();
  EXPECT_EQ(smsc_.unbinds(), 1);
}

}  // namespace
}  // namespace villagebot

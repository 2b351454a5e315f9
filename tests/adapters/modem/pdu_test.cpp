// SMS PDUs (3GPP TS 23.040) and the AT texts of the modem adapter: the published vectors
// reproduced exactly, GSM-7 fill bits after a header and UCS-2 checked against the simulator's
// independent reader and writer, a long Chinese message split without broken characters, and
// hostile PDUs refused with an error (AddressSanitizer watches every read).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "at.hpp"
#include "modem_sim.hpp"
#include "pdu.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::modem {
namespace {

using ::testing::HasSubstr;

nlohmann::json vectors() {
  std::ifstream in(std::string(VILLAGEBOT_SOURCE_DIR) + "/tests/adapters/vectors/signatures.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str()).at("gsm_pdu");
}

TEST(Pdu, TheSubmitVectorIsReproducedExactly) {
  const auto v = vectors().at("submit");
  SubmitOptions o;
  o.status_report = false;
  std::string error;
  auto pdus = encode_message(v.at("to").get<std::string>(), v.at("text").get<std::string>(), "", 0, o, error);
  ASSERT_TRUE(pdus) << error;
  ASSERT_EQ(pdus->size(), 1u);
  EXPECT_EQ(pdus->front().hex, v.at("pdu").get<std::string>());
  EXPECT_EQ(pdus->front().length, v.at("at_cmgs_length").get<int>());
  // Asking for a status report sets TP-SRR (0x20) in the first octet, nothing else.
  o.status_report = true;
  pdus = encode_message(v.at("to").get<std::string>(), v.at("text").get<std::string>(), "", 0, o, error);
  ASSERT_TRUE(pdus) << error;
  EXPECT_EQ(pdus->front().hex.substr(0, 4), "0031");
  EXPECT_EQ(pdus->front().hex.substr(4), v.at("pdu").get<std::string>().substr(4));
}

TEST(Pdu, TheDeliverVectorIsDecoded) {
  const auto v = vectors().at("deliver");
  std::string error;
  auto d = decode_deliver(v.at("pdu").get<std::string>(), error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->sender.value, v.at("from").get<std::string>());
  EXPECT_EQ(d->text, v.at("text").get<std::string>());
  EXPECT_EQ(d->smsc, "+27381000015");
  EXPECT_EQ(d->sent.iso(), "2099-03-29T15:16:59+02:00");
  EXPECT_EQ(d->message_class, -1);
  EXPECT_FALSE(d->concat);
  // The same PDU as +CMGR gives it without the SMSC field: the <length> says so.
  const std::string without_sca = v.at("pdu").get<std::string>().substr(16);
  d = decode_deliver(without_sca, error, static_cast<int>(without_sca.size() / 2));
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->text, "hellohello");
  EXPECT_EQ(d->smsc, "");
}

TEST(Pdu, Gsm7WithFillBitsAfterAConcatenationHeaderRoundTrips) {
  // Every text length with a 6-octet header (1 fill bit) and a 7-octet one (0 fill bits).
  std::string text;
  for (int n = 1; n <= 153; ++n) {
    text.push_back(static_cast<char>('a' + n % 26));
    for (const std::string& udh : {sms::udh_concat8(7, 2, 1), sms::udh_concat16(0x1234, 3, 2)}) {
      std::string error;
      auto submit = encode_submit("+8613800000001", text, sms::Encoding::gsm7, udh, {}, error);
      if (udh.size() == 7 && n > 152) continue;  // a 16-bit reference leaves 152 septets
      ASSERT_TRUE(submit) << error << " n=" << n;
      auto seen = testkit::sim_decode_submit(submit->hex, error);
      ASSERT_TRUE(seen) << error;
      EXPECT_EQ(seen->text, text);
      EXPECT_EQ(seen->udh, udh);
      EXPECT_EQ(seen->to, "+8613800000001");
      EXPECT_EQ(seen->tpdu_length, submit->length);
      auto d = decode_deliver(testkit::sim_make_deliver("+8613800000001", text, udh), error);
      ASSERT_TRUE(d) << error;
      EXPECT_EQ(d->text, text);
      ASSERT_TRUE(d->concat);
      EXPECT_EQ(d->concat->sequence, udh.size() == 6 ? 1 : 2);
      EXPECT_EQ(d->concat->reference, udh.size() == 6 ? 7 : 0x1234);
    }
  }
}

TEST(Pdu, ExtensionCharactersAndUcs2RoundTrip) {
  std::string error;
  for (const std::string text : {"Price: 5€ [x] {y} ~z^ |w| \\", "积分 查询 ☎ 😀", "Ünïcødé ẞ"}) {
    auto d = decode_deliver(testkit::sim_make_deliver("13800000001", text), error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->text, text);
    EXPECT_EQ(d->sender.value, "13800000001");
    EXPECT_EQ(d->sender.type, 0x81);
    auto pdus = encode_message("13800000001", text, "", 1, {}, error);
    ASSERT_TRUE(pdus) << error;
    ASSERT_EQ(pdus->size(), 1u);
    auto seen = testkit::sim_decode_submit(pdus->front().hex, error);
    ASSERT_TRUE(seen) << error;
    EXPECT_EQ(seen->text, text);
    EXPECT_EQ(seen->to, "13800000001");
    EXPECT_TRUE(seen->status_report);
  }
}

TEST(Pdu, A200CharacterChineseMessageIsThreeCompletePartsWithConcatenationHeaders) {
  std::string text;
  const std::string chars[] = {"村", "民", "积", "分", "通", "知", "😀"};
  for (int i = 0; i < 200; ++i) text += chars[i % 6];
  std::string error;
  auto pdus = encode_message("+8613800000001", text, "", 0x5A, {}, error);
  ASSERT_TRUE(pdus) << error;
  ASSERT_EQ(pdus->size(), 3u);
  std::string joined;
  for (std::size_t i = 0; i < pdus->size(); ++i) {
    auto seen = testkit::sim_decode_submit((*pdus)[i].hex, error);
    ASSERT_TRUE(seen) << error;
    EXPECT_EQ(seen->dcs, 0x08);
    EXPECT_EQ(seen->udh, sms::udh_concat8(0x5A, 3, static_cast<std::uint8_t>(i + 1)));
    EXPECT_TRUE(text::valid_utf8(seen->text));
    EXPECT_LE(text::length_u32(seen->text), 67u);
    EXPECT_EQ(seen->tpdu_length, (*pdus)[i].length);
    joined += seen->text;
  }
  EXPECT_EQ(joined, text);

  // An emoji (a surrogate pair) is never cut between two parts; the signature counts.
  std::string with_emoji;
  for (int i = 0; i < 66; ++i) with_emoji += "村";
  with_emoji += "😀尾";
  pdus = encode_message("+8613800000001", with_emoji, "【幸福村】", 1, {}, error);
  ASSERT_TRUE(pdus) << error;
  ASSERT_EQ(pdus->size(), 2u);
  joined.clear();
  for (const auto& p : *pdus) {
    auto seen = testkit::sim_decode_submit(p.hex, error);
    ASSERT_TRUE(seen) << error;
    EXPECT_EQ(seen->text.find("\xEF\xBF\xBD"), std::string::npos) << "no U+FFFD from a cut pair";
    joined += seen->text;
  }
  EXPECT_EQ(joined, "【幸福村】" + with_emoji);
}

TEST(Pdu, ConcatenatedUcs2DeliverWithASixteenBitReference) {
  std::string error;
  auto d = decode_deliver(testkit::sim_make_deliver("+8613800000001", "分", sms::udh_concat16(0xBEEF, 2, 2)), error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->coding, DataCoding::ucs2);
  EXPECT_EQ(d->text, "分");
  ASSERT_TRUE(d->concat);
  EXPECT_EQ(d->concat->reference, 0xBEEF);
  EXPECT_EQ(d->concat->total, 2);
  EXPECT_EQ(d->sender.value, "+8613800000001");
  EXPECT_EQ(d->sent.iso(), "2026-11-30T10:00:00+08:00");
}

TEST(Pdu, AlphanumericSenderEightBitDataAndClassZero) {
  // OA "Info" as an alphanumeric address (type D0), DCS F4 = class 0, 8-bit data.
  const std::string pdu = std::string("00") + "04" + "07D049B7F90D" + "00" + "F4" + "62113010000023" + "03" + "414243";
  std::string error;
  auto d = decode_deliver(pdu, error);
  ASSERT_TRUE(d) << error;
  EXPECT_TRUE(d->sender.alphanumeric());
  EXPECT_EQ(d->sender.value, "Info");
  EXPECT_EQ(d->coding, DataCoding::octets);
  EXPECT_EQ(d->message_class, 0);
  EXPECT_EQ(d->text, "ABC");
  // A negative time zone (sign bit set): UTC-3 = 12 quarters, "21" swapped with the sign → 0x29.
  auto negative = pdu;
  negative.replace(32, 2, "29");
  d = decode_deliver(negative, error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->sent.tz_quarters, -12);
  EXPECT_EQ(d->sent.iso(), "2026-11-03T01:00:00-03:00");
}

TEST(Pdu, StatusReportsSayDeliveredStillTryingOrFailed) {
  std::string error;
  auto s = decode_status_report(testkit::sim_make_status_report(17, "+8613800000001", 0x00), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->reference, 17);
  EXPECT_EQ(s->recipient.value, "+8613800000001");
  EXPECT_EQ(s->outcome, StatusReport::Outcome::delivered);
  s = decode_status_report(testkit::sim_make_status_report(18, "+8613800000001", 0x21), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->outcome, StatusReport::Outcome::pending);
  s = decode_status_report(testkit::sim_make_status_report(19, "13800000001", 0x46), error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->outcome, StatusReport::Outcome::failed);
  EXPECT_THAT(s->reason, HasSubstr("validity period"));
  EXPECT_EQ(status_outcome(0x65), StatusReport::Outcome::failed);
  EXPECT_EQ(status_outcome(0x80), StatusReport::Outcome::failed);  // reserved: service rejected
  EXPECT_EQ(pdu_kind(testkit::sim_make_status_report(1, "+861", 0)), PduKind::status_report);
  EXPECT_FALSE(decode_deliver(testkit::sim_make_status_report(1, "+861", 0), error));
}

TEST(Pdu, HostilePdusAreRefusedWithAnErrorAndNeverReadPastTheirEnd) {
  const std::vector<std::string> bad = {
      "",
      "0",
      "0G",
      "07917283010010F",                                   // odd
      "07917283010010F5",                                  // SCA only
      "FF917283010010F5040BC8",                            // SCA length past the end
      "00040BC87238880900F1",                              // ends in the OA
      "0004FF917238880900F10000993092516195800AE8",        // OA length 255
      "00040B917238880900F10000993092516195800AFFE8329B",  // UDL past the end
      "00040B917238880900F10008993092516195800AFF00",      // UCS-2 UDL 255
      "00440B917238880900F1000899309251619580020500",      // UDHL past the UD
      "00440B917238880900F100009930925161958001FF",        // GSM-7 UDHI with 1 septet
      "00040B917238880900F10000993092516195",              // ends in the SCTS
      "00040B917238880900F10000AA3092516195800AE8",        // SCTS not digits
      "00040B917238880900F10024993092516195800100",        // compressed
  };
  std::string error;
  for (const auto& b : bad) {
    error.clear();
    EXPECT_FALSE(decode_deliver(b, error)) << b;
    EXPECT_FALSE(error.empty()) << b;
    EXPECT_FALSE(decode_status_report(b, error)) << b;
    (void)pdu_kind(b);
    (void)pdu_kind(b, 3);
  }
  // Every prefix of valid PDUs, and every single octet of them replaced by FF or 00.
  const std::vector<std::string> good = {
      vectors().at("deliver").at("pdu").get<std::string>(),
      testkit::sim_make_deliver("+8613800000001", "积分查询", sms::udh_concat8(1, 2, 1)),
      testkit::sim_make_deliver("+8613800000001", "hello there", sms::udh_concat16(9, 2, 1)),
      testkit::sim_make_status_report(3, "+8613800000001", 0),
  };
  for (const auto& g : good) {
    for (std::size_t n = 0; n < g.size(); n += 2) {
      const std::string prefix = g.substr(0, n);
      (void)decode_deliver(prefix, error);
      (void)decode_status_report(prefix, error);
      (void)decode_deliver(prefix, error, static_cast<int>(n / 2));
    }
    for (std::size_t i = 0; i < g.size(); i += 2) {
      for (const char* octet : {"FF", "00", "7F"}) {
        std::string m = g;
        m.replace(i, 2, octet);
        (void)decode_deliver(m, error);
        (void)decode_status_report(m, error);
      }
    }
  }
  // Numbers that are not numbers are refused on the way out.
  SubmitOptions o;
  EXPECT_FALSE(encode_message("+86abc", "hi", "", 0, o, error));
  EXPECT_FALSE(encode_message("", "hi", "", 0, o, error));
  EXPECT_FALSE(encode_message("+8613800000001", "", "", 0, o, error));
  EXPECT_FALSE(encode_message("+8613800000001", "\xFF\xFE", "", 0, o, error));
}

TEST(At, CmsErrorsAreRetriedOrGivenUpWithTheReason) {
  EXPECT_TRUE(cms_verdict(42).retry);   // congestion
  EXPECT_TRUE(cms_verdict(331).retry);  // no network service
  EXPECT_TRUE(cms_verdict(314).retry);  // SIM busy
  EXPECT_TRUE(cms_verdict(999).retry);  // unknown: bounded by max_attempts
  const auto unassigned = cms_verdict(1);
  EXPECT_FALSE(unassigned.retry);
  EXPECT_THAT(unassigned.reason, HasSubstr("空号"));
  EXPECT_THAT(unassigned.reason, HasSubstr("unassigned"));
  EXPECT_FALSE(cms_verdict(21).retry);   // short message transfer rejected
  EXPECT_FALSE(cms_verdict(304).retry);  // invalid PDU
  EXPECT_FALSE(cms_verdict(195).retry);  // invalid SME address
}

TEST(At, ResponsesAndUnsolicitedCodesAreParsed) {
  EXPECT_TRUE(is_final_result("OK"));
  EXPECT_TRUE(is_final_result("+CMS ERROR: 500"));
  EXPECT_FALSE(is_final_result("+CMGS: 4"));
  EXPECT_EQ(error_number("+CMS ERROR: 42", "+CMS ERROR"), 42);
  EXPECT_FALSE(error_number("+CMS ERROR: x", "+CMS ERROR"));
  auto cmti = parse_cmti("+CMTI: \"SM\",12");
  ASSERT_TRUE(cmti);
  EXPECT_EQ(cmti->memory, "SM");
  EXPECT_EQ(cmti->index, 12);
  EXPECT_FALSE(parse_cmti("+CMTI: \"SM\""));
  EXPECT_EQ(parse_cmgs("+CMGS: 255"), 255);
  EXPECT_FALSE(parse_cmgs("+CMGS: 256"));
  EXPECT_EQ(parse_pdu_urc_length("+CDS: 25"), 25);
  const auto list = parse_stored({"+CMGL: 1,0,,23", "AABB", "+CMGL: 4,1,\"x,y\",30", "CCDD", "+CMGL: 5,1,,9"});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].index, 1);
  EXPECT_EQ(list[0].pdu, "AABB");
  EXPECT_EQ(list[1].index, 4);
  EXPECT_EQ(list[1].stat, 1);
  EXPECT_EQ(list[1].length, 30);
  const auto one = parse_stored({"+CMGR: 0,,23", "EEFF"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].length, 23);
}

}  // namespace
}  // namespace villagebot::adapters::modem

// The SMPP codec against octets laid out by hand from the 3.4 specification, hostile input (every
// truncation and mutation of valid PDUs decodes to an error or a PDU, never past the end), the
// delivery receipt in its text and TLV forms, and the octets of what send() would submit.
#include <random>

#include <gtest/gtest.h>

#include "pdu.hpp"
#include "smpp.hpp"
#include "smsc.hpp"

namespace villagebot {
namespace {

using smsc::be16;
using smsc::be32;
using smsc::utf16be;

std::string cstr(const std::string& s) {
  return s + '\0';
}

// submit_sm to 13800000001 (ton 2, npi 1) from 10690000, UCS-2 "你好", registered_delivery 1, with
// sar TLVs, as §4.4.1 lays out the fields.
std::string hand_made_submit() {
  std::string body = cstr("") + '\x00' + '\x00' + cstr("10690000") + '\x02' + '\x01' + cstr("13800000001") + '\x00' +
                     '\x00' + '\x00' + cstr("") + cstr("") + '\x01' + '\x00' + '\x08' + '\x00';
  const std::string text = utf16be("你好");
  body += static_cast<char>(text.size());
  body += text;
  body += be16(0x020C) + be16(2) + be16(0x1234);
  body += be16(0x020E) + be16(1) + std::string(1, '\x03');
  body += be16(0x020F) + be16(1) + std::string(1, '\x01');
  return smsc::pdu(0x00000004, 0, 7, body);
}

TEST(SmppPdu, EncodesSubmitSmExactlyAsTheSpecificationLaysItOutAndDecodesItBack) {
  smpp::Pdu p;
  p.command_id = smpp::cmd::submit_sm;
  p.sequence = 7;
  p.source_addr = "10690000";
  p.dest_addr_ton = 2;
  p.dest_addr_npi = 1;
  p.destination_addr = "13800000001";
  p.registered_delivery = 1;
  p.data_coding = 8;
  p.short_message = utf16be("你好");
  p.set_tlv_integer(smpp::tag::sar_msg_ref_num, 0x1234, 2);
  p.set_tlv_integer(smpp::tag::sar_total_segments, 3, 1);
  p.set_tlv_integer(smpp::tag::sar_segment_seqnum, 1, 1);
  const auto bytes = smpp::encode(p);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, hand_made_submit());

  const auto d = smpp::decode(hand_made_submit());
  ASSERT_TRUE(d.pdu) << d.error;
  EXPECT_EQ(d.pdu->destination_addr, "13800000001");
  EXPECT_EQ(d.pdu->short_message, utf16be("你好"));
  EXPECT_EQ(d.pdu->tlv_integer(smpp::tag::sar_msg_ref_num), 0x1234u);
  EXPECT_EQ(d.pdu->sequence, 7u);

  // An error response may carry no body at all; an OK submit_sm_resp carries the id.
  auto nack = smpp::decode(smsc::pdu(0x80000004, 0x58, 9));
  ASSERT_TRUE(nack.pdu) << nack.error;
  EXPECT_EQ(nack.pdu->command_status, 0x58u);
  auto resp = smpp::decode(smsc::pdu(0x80000004, 0, 9, cstr("A0000001")));
  ASSERT_TRUE(resp.pdu);
  EXPECT_EQ(resp.pdu->message_id, "A0000001");

  // Fields longer than SMPP allows are refused by the encoder, not truncated.
  p.destination_addr = std::string(21, '1');
  std::string error;
  EXPECT_FALSE(smpp::encode(p, &error));
  EXPECT_NE(error.find("destination_addr"), std::string::npos);
}

TEST(SmppPdu, HostileInputIsAnErrorNeverAReadPastTheEnd) {
  std::string error;
  EXPECT_FALSE(smpp::decode_header(be32(8) + be32(4) + be32(0) + be32(1), &error));
  EXPECT_NE(error.find("command_length"), std::string::npos);
  EXPECT_FALSE(smpp::decode_header(be32(0x7FFFFFFF) + be32(4) + be32(0) + be32(1)));
  EXPECT_FALSE(smpp::decode_header(be32(16)));

  // A C-octet string without its NUL, a length past the end, a truncated TLV.
  const std::string no_nul = smsc::pdu(0x80000004, 0, 1, "A00000");
  auto d = smpp::decode(no_nul);
  EXPECT_FALSE(d.pdu);
  EXPECT_EQ(d.nack_status, smpp::status::invalid_command_length);
  std::string good = hand_made_submit();
  std::string truncated_tlv = good.substr(0, good.size() - 2);
  truncated_tlv.replace(0, 4, be32(static_cast<std::uint32_t>(truncated_tlv.size())));
  EXPECT_FALSE(smpp::decode(truncated_tlv).pdu);

  // An unknown command is well framed: answered with generic_nack ESME_RINVCMDID.
  d = smpp::decode(smsc::pdu(0x00000103, 0, 5, "xyz"));
  EXPECT_FALSE(d.pdu);
  EXPECT_TRUE(d.unknown_command);
  EXPECT_EQ(d.nack_status, smpp::status::invalid_command_id);

  // Every truncation and thousands of random mutations of valid PDUs: no crash, no overread (ASan).
  std::mt19937 rng(11);
  const std::vector<std::string> seeds = {good,
                                          smsc::pdu(0x80000009, 0, 1, cstr("SMSC") + be16(0x0210) + be16(1) + "4"),
                                          smsc::pdu(0x00000005, 0, 3, good.substr(16))};
  int decoded = 0;
  for (const auto& seed : seeds) {
    for (std::size_t n = 16; n < seed.size(); ++n) {
      std::string cut = seed.substr(0, n);
      cut.replace(0, 4, be32(static_cast<std::uint32_t>(n)));
      decoded += smpp::decode(cut).pdu ? 1 : 0;
    }
    for (int i = 0; i < 3000; ++i) {
      std::string m = seed;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) m[16 + rng() % (m.size() - 16)] = static_cast<char>(rng() & 0xFF);
      decoded += smpp::decode(m).pdu ? 1 : 0;
    }
  }
  EXPECT_GT(decoded, 0);  // the codec still reads what is well formed
}

TEST(SmppPdu, DeliveryReceiptsAreReadFromTheTextAndFromTheTlvs) {
  auto r = smpp::parse_receipt_text(
      "id:0123456789 sub:001 dlvrd:001 submit date:2611301000 done date:2611301001 stat:DELIVRD err:000 text:明天停水");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message_id, "0123456789");
  EXPECT_EQ(r->stat, "DELIVRD");
  EXPECT_EQ(r->err, "000");
  EXPECT_EQ(r->submit_date, "2611301000");
  EXPECT_EQ(r->done_date, "2611301001");
  EXPECT_TRUE(r->delivered());
  r = smpp::parse_receipt_text(
      "ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2611301000 DONE DATE:2611301001 STAT:undeliv ERR:001");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stat, "UNDELIV");
  EXPECT_FALSE(r->delivered());
  EXPECT_TRUE(r->final());
  EXPECT_FALSE(smpp::parse_receipt_text("hello"));

  // The TLVs win over the text (some SMSCs write the id in decimal in the text only).
  smsc::Deliver d = smsc::Smsc::receipt("A0000005", "EXPIRED");
  d.short_message = "id:99 stat:DELIVRD err:000";
  smpp::Pdu p;
  p.command_id = smpp::cmd::deliver_sm;
  p.esm_class = d.esm_class;
  p.short_message = d.short_message;
  for (const auto& [tag, value] : d.tlvs) p.tlvs.push_back({tag, value});
  r = smpp::parse_receipt(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message_id, "A0000005");
  EXPECT_EQ(r->stat, "EXPIRED");
  EXPECT_EQ(smpp::message_state_stat(8), "REJECTD");
  smpp::Pdu enroute;
  enroute.set_tlv(smpp::tag::receipted_message_id, "X1");
  enroute.set_tlv_integer(smpp::tag::message_state, 1, 1);
  EXPECT_FALSE(smpp::parse_receipt(enroute)->final());
}

TEST(SmppPdu, TextsFromPhonesAreDecodedByDataCodingAndTheirPartsRead) {
  std::string error;
  EXPECT_EQ(adapters::smpp_text(utf16be("积分😀"), 8, error), "积分😀");
  // GSM-7, one septet per octet: @ is 0x00, ESC 0x65 is €.
  EXPECT_EQ(adapters::smpp_text(std::string("\x00hi\x1b\x65", 5), 0, error), "@hi€");
  EXPECT_EQ(adapters::smpp_text("caf\xE9", 3, error), "café");
  EXPECT_EQ(adapters::smpp_text("JF", 1, error), "JF");
  EXPECT_FALSE(adapters::smpp_text("abc", 8, error));
  EXPECT_FALSE(adapters::smpp_text("abc", 4, error));

  smpp::Pdu p;
  p.command_id = smpp::cmd::deliver_sm;
  p.source_addr = "8613800000001";
  p.source_addr_ton = 1;
  p.data_coding = 8;
  p.esm_class = 0x40;
  p.short_message = std::string("\x05\x00\x03\x2A\x03\x02", 6) + utf16be("第二段");
  auto part = adapters::smpp_decode_mo(p, error);
  ASSERT_TRUE(part) << error;
  ASSERT_TRUE(part->concat);
  EXPECT_EQ(part->concat->reference, 0x2A);
  EXPECT_EQ(part->concat->total, 3);
  EXPECT_EQ(part->concat->sequence, 2);
  EXPECT_EQ(part->octets, utf16be("第二段"));
  EXPECT_EQ(adapters::smpp_sender(p), "+8613800000001");
  // A header longer than the message is refused; a concatenation element numbered 4 of 3 is no
  // concatenation (the SDK reads it as malformed): the text after the header stands alone.
  p.short_message = std::string("\x09\x00\x03", 3);
  EXPECT_FALSE(adapters::smpp_decode_mo(p, error));
  p.short_message = std::string("\x05\x00\x03\x2A\x03\x04", 6) + utf16be("坏");
  part = adapters::smpp_decode_mo(p, error);
  ASSERT_TRUE(part) << error;
  EXPECT_FALSE(part->concat);
  EXPECT_EQ(part->octets, utf16be("坏"));
  // SAR.
  p.esm_class = 0;
  p.short_message = utf16be("一");
  p.set_tlv_integer(smpp::tag::sar_msg_ref_num, 513, 2);
  p.set_tlv_integer(smpp::tag::sar_total_segments, 2, 1);
  p.set_tlv_integer(smpp::tag::sar_segment_seqnum, 1, 1);
  part = adapters::smpp_decode_mo(p, error);
  ASSERT_TRUE(part && part->concat) << error;
  EXPECT_EQ(part->concat->reference, 513);
}

TEST(SmppPdu, PlainTextGoesAsUnpackedGsm7AndAddressesAsTheSmscExpects) {
  adapters::SmppSettings s;
  s.source_addr = "10690000";
  sms::ConcatReference refs;
  auto to = adapters::smpp_destination("13800000001", s);
  ASSERT_TRUE(to);
  EXPECT_EQ(to->digits, "8613800000001");
  EXPECT_EQ(to->ton, 1);
  s.national_numbers = true;
  s.dest_ton = 2;
  to = adapters::smpp_destination("+86 138 0000 0001", s);
  ASSERT_TRUE(to);
  EXPECT_EQ(to->digits, "13800000001");
  EXPECT_EQ(to->ton, 2);
  EXPECT_FALSE(adapters::smpp_destination("not a phone", s));

  auto pdus = adapters::smpp_submits("Water off 9-12 @ east", *to, s, refs);
  ASSERT_EQ(pdus.size(), 1u);
  EXPECT_EQ(pdus[0].data_coding, 0);
  EXPECT_EQ(pdus[0].short_message, std::string("Water off 9-12 \x00 east", 21));
  EXPECT_EQ(pdus[0].registered_delivery, 1);

  // Payload: one PDU, the whole text in message_payload, nothing in short_message.
  s.concatenation = adapters::SmppSettings::Concatenation::payload;
  const std::string chinese = [] {
    std::string t;
    for (int i = 0; i < 100; ++i) t += "村";
    return t;
  }();
  pdus = adapters::smpp_submits(chinese, *to, s, refs);
  ASSERT_EQ(pdus.size(), 1u);
  EXPECT_TRUE(pdus[0].short_message.empty());
  ASSERT_NE(pdus[0].find(smpp::tag::message_payload), nullptr);
  EXPECT_EQ(pdus[0].find(smpp::tag::message_payload)->value, utf16be(chinese));
}

}  // namespace
}  // namespace villagebot

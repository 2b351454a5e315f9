// SMS text rules of the SDK (villagebot/sms.hpp): what a villager's phone shows and what the
// carrier bills — the encoding, the number of parts, and parts that join back into the text.
#include "villagebot/sms.hpp"

#include <gtest/gtest.h>

#include <string>

#include "villagebot/text.hpp"

namespace villagebot::sms {
namespace {

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string joined(const Segments& s) {
  std::string out;
  for (const auto& p : s.parts) out += p;
  return out;
}

// UTF-16 units of a UTF-8 text (what a UCS-2 part holds).
std::size_t units16(const std::string& utf8) {
  return ucs2_encode(utf8).size() / 2;
}

TEST(SmsEncoding, PlainTextIsGsm7AndChineseIsUcs2) {
  EXPECT_TRUE(gsm7_encodable("Meeting at 8, bring ID! @home £5 é"));
  EXPECT_TRUE(gsm7_encodable("[1] {2} ~ | \\ ^ €"));  // the extension table
  EXPECT_FALSE(gsm7_encodable("积分"));
  EXPECT_FALSE(gsm7_encodable("ok 😀"));
  EXPECT_FALSE(gsm7_encodable("\xC3"));  // invalid UTF-8 is never GSM-7
  EXPECT_EQ(split("hello").encoding, Encoding::gsm7);
  EXPECT_EQ(split("hello 村").encoding, Encoding::ucs2);
  // An extension character costs two septets.
  EXPECT_EQ(gsm7_septets("a€").value(), (std::vector<std::uint8_t>{0x61, 0x1B, 0x65}));
  EXPECT_EQ(split("a€").units, 3u);
  EXPECT_EQ(gsm7_to_utf8(gsm7_septets("Price: 5€ [x] @ £").value()), "Price: 5€ [x] @ £");
}

TEST(SmsSegments, CountsLikeAHandset) {
  EXPECT_EQ(count(""), 0u);
  EXPECT_EQ(count(repeat("a", 160)), 1u);
  EXPECT_EQ(count(repeat("a", 161)), 2u);
  EXPECT_EQ(count(repeat("a", 306)), 2u);
  EXPECT_EQ(count(repeat("a", 307)), 3u);
  EXPECT_EQ(count(repeat("村", 70)), 1u);
  EXPECT_EQ(count(repeat("村", 71)), 2u);
  EXPECT_EQ(count(repeat("村", 134)), 2u);
  EXPECT_EQ(count(repeat("村", 135)), 3u);
  // One Chinese character makes the whole message UCS-2: 100 Latin letters + 村 is two parts.
  EXPECT_EQ(count(repeat("a", 100) + "村"), 2u);
  // The SDK's older entry point agrees.
  EXPECT_EQ(text::sms_segments(repeat("村", 71)), 2);
}

TEST(SmsSegments, ChineseIsSplitByCharactersIntoPartsOf67) {
  const std::string text = repeat("积分制度好", 40);  // 200 characters
  const Segments s = split(text);
  ASSERT_EQ(s.parts.size(), 3u);
  EXPECT_EQ(s.encoding, Encoding::ucs2);
  EXPECT_EQ(units16(s.parts[0]), 67u);
  EXPECT_EQ(units16(s.parts[1]), 67u);
  EXPECT_EQ(units16(s.parts[2]), 66u);
  for (const auto& p : s.parts) EXPECT_TRUE(text::valid_utf8(p)) << "a part cut inside a character";
  EXPECT_EQ(joined(s), text);
}

TEST(SmsSegments, NeverCutsASurrogatePairOrAnEscape) {
  // 66 characters, then an emoji (a surrogate pair, two units): it does not fit in the first
  // part's 67th unit and moves whole to the second part.
  const std::string text = repeat("村", 66) + "😀" + repeat("村", 10);
  const Segments s = split(text);
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_EQ(s.parts[0], repeat("村", 66));
  EXPECT_TRUE(s.parts[1].starts_with("😀"));
  EXPECT_EQ(joined(s), text);

  // 152 septets, then € (ESC + code): the escape and its code stay together in part two.
  const std::string latin = repeat("a", 152) + "€" + repeat("b", 20);
  const Segments g = split(latin);
  ASSERT_EQ(g.parts.size(), 2u);
  EXPECT_EQ(g.encoding, Encoding::gsm7);
  EXPECT_EQ(g.parts[0], repeat("a", 152));
  EXPECT_TRUE(g.parts[1].starts_with("€"));
  for (const auto& p : g.parts) EXPECT_LE(gsm7_septets(p)->size(), kGsm7Part);
}

TEST(SmsSegments, TheSignatureCountsInTheLengthAndLeadsTheFirstPart) {
  const std::string sig = "【幸福村】";  // five characters
  EXPECT_EQ(count(repeat("村", 65), sig), 1u);
  EXPECT_EQ(count(repeat("村", 66), sig), 2u);
  const Segments s = split(repeat("村", 100), sig);
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_TRUE(s.parts[0].starts_with(sig));
  EXPECT_EQ(s.units, 105u);
  // Already signed: not signed twice.
  EXPECT_EQ(with_signature(sig + "通知", sig), sig + "通知");
  EXPECT_EQ(with_signature("通知", sig), sig + "通知");
  EXPECT_EQ(with_signature("通知", ""), "通知");
}

TEST(SmsSegments, TooManyPartsAreCutWithAnEllipsis) {
  const Segments s = split(repeat("村", 1000), {}, 3);
  ASSERT_EQ(s.parts.size(), 3u);
  EXPECT_TRUE(s.parts[2].ends_with("…"));
  EXPECT_LE(units16(s.parts[2]), kUcs2Part);
  const Segments g = split(repeat("a", 1000), {}, 2);
  ASSERT_EQ(g.parts.size(), 2u);
  EXPECT_TRUE(g.parts[1].ends_with("..."));
  EXPECT_LE(gsm7_septets(g.parts[1])->size(), kGsm7Part);
}

TEST(SmsSegments, InvalidUtf8IsSentAsUcs2WithReplacementCharacters) {
  const Segments s = split("ab\xFF\xFE");
  EXPECT_EQ(s.encoding, Encoding::ucs2);
  ASSERT_EQ(s.parts.size(), 1u);
  EXPECT_EQ(ucs2_decode(ucs2_encode(s.parts[0])), "ab\uFFFD\uFFFD");
}

TEST(Gsm7Packing, ReproducesTheClassicHellohelloUserData) {
  // The user data of the published SMS-SUBMIT example (tests/adapters/vectors, gsm_pdu).
  const auto septets = gsm7_septets("hellohello").value();
  EXPECT_EQ(hex(gsm7_pack(septets)), "E8329BFD4697D9EC37");
  EXPECT_EQ(gsm7_to_utf8(gsm7_unpack(gsm7_pack(septets), septets.size())), "hellohello");
}

TEST(Gsm7Packing, FillBitsAfterAUserDataHeaderRoundTrip) {
  const auto septets = gsm7_septets("Part two of the message: {ok}").value();
  for (int fill = 0; fill <= 6; ++fill) {
    const std::string packed = gsm7_pack(septets, fill);
    EXPECT_EQ(packed.size(), (static_cast<std::size_t>(fill) + 7 * septets.size() + 7) / 8);
    EXPECT_EQ(static_cast<unsigned char>(packed[0]) & ((1u << fill) - 1), 0u) << "fill bits are zero";
    EXPECT_EQ(gsm7_unpack(packed, septets.size(), fill), septets) << "fill " << fill;
  }
  // A UDH of 6 octets (48 bits) needs one fill bit to reach the septet boundary at 49.
  EXPECT_EQ(hex(gsm7_pack(gsm7_septets("A").value(), 1)), "82");
  // Unpacking past the end stops, it does not read beyond.
  EXPECT_EQ(gsm7_unpack(std::string("\xE8", 1), 10).size(), 1u);
}

TEST(Ucs2, EncodesBigEndianWithSurrogatePairs) {
  EXPECT_EQ(hex(ucs2_encode("积分")), "79EF5206");
  EXPECT_EQ(hex(ucs2_encode("😀")), "D83DDE00");
  EXPECT_EQ(ucs2_decode(ucs2_encode("积分😀 ok")), "积分😀 ok");
  EXPECT_EQ(ucs2_decode(std::string("\xD8\x3D\x00\x41", 4)), "\uFFFDA");  // an unpaired high surrogate
  EXPECT_EQ(ucs2_decode(std::string("\x00\x41\x00", 3)), "A");            // an odd trailing byte
}

TEST(ConcatHeader, BuildsAndParsesBothReferenceSizes) {
  EXPECT_EQ(hex(udh_concat8(0x42, 3, 1)), "050003420301");
  EXPECT_EQ(hex(udh_concat16(0x1234, 2, 2)),
            "060804123402"
            "02");
  const auto a = parse_udh_concat(udh_concat8(0x42, 3, 2));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->reference, 0x42);
  EXPECT_EQ(a->total, 3);
  EXPECT_EQ(a->sequence, 2);
  const auto b = parse_udh_concat(udh_concat16(0xBEEF, 4, 4));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->reference, 0xBEEF);
  // Another element first (a port address), then the concatenation element.
  EXPECT_TRUE(parse_udh_concat(std::string("\x0B\x05\x04\x0B\x84\x23\xF0\x00\x03\x07\x02\x01", 12)));
  // Malformed: a length past the header's end, sequence 0, sequence above total, nothing.
  EXPECT_FALSE(parse_udh_concat(std::string("\x05\x00\x09\x42\x03\x01", 6)));
  EXPECT_FALSE(parse_udh_concat(std::string("\x05\x00\x03\x42\x03\x00", 6)));
  EXPECT_FALSE(parse_udh_concat(std::string("\x05\x00\x03\x42\x03\x04", 6)));
  EXPECT_FALSE(parse_udh_concat(std::string("\x09\x00\x03", 3)));
  EXPECT_FALSE(parse_udh_concat(""));
}

TEST(ConcatHeader, ReferencesFollowEachOther) {
  ConcatReference refs;
  const auto first = refs.next16();
  EXPECT_EQ(refs.next16(), static_cast<std::uint16_t>(first + 1));
  EXPECT_EQ(refs.next8(), static_cast<std::uint8_t>(first + 2));
}

}  // namespace
}  // namespace villagebot::sms

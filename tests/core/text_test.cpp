#include "villagebot/text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace villagebot::text {
namespace {

const std::vector<std::string> kBot = {"村小助手"};

// ---- UTF-8 ----------------------------------------------------------------

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("jf"));
  EXPECT_TRUE(valid_utf8("积分"));
  EXPECT_TRUE(valid_utf8("\xC2\x80"));              // U+0080
  EXPECT_TRUE(valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8("\xEE\x80\x80"));          // U+E000, just above
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));      // emoji U+1F600
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  EXPECT_TRUE(valid_utf8(std::string("a\0b", 3)));  // NUL is a code point
}

TEST(Utf8, RejectsMalformedText) {
  const char* invalid[] = {
      "\x80",                  // lone continuation byte
      "\xC0\xAF",              // overlong '/'
      "\xC1\xBF",              // overlong
      "\xE0\x80\xAF",          // overlong 3-byte
      "\xF0\x80\x80\xAF",      // overlong 4-byte
      "\xED\xA0\x80",          // U+D800 surrogate
      "\xED\xBF\xBF",          // U+DFFF surrogate
      "\xF4\x90\x80\x80",      // U+110000
      "\xF5\x80\x80\x80",      // F5 lead byte
      "\xFF",                  //
      "\xE7\xA7",              // "积" cut short
      "\xE7\xA7\xAF\xE5\x88",  // "积分" cut short
      "\xC3",                  // truncated at the end
      "\xC3(",                 // continuation missing
  };
  for (const char* s : invalid) {
    EXPECT_FALSE(valid_utf8(s)) << testing::PrintToString(std::string(s));
  }
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  const std::string broken = std::string("a") + '\xFF' + "b";
  EXPECT_EQ(to_u32(broken), U"a\uFFFDb");
  EXPECT_EQ(to_u32("\xE7\xA7"), U"\uFFFD");  // one truncated sequence, one U+FFFD
  EXPECT_EQ(to_utf8(to_u32(broken)), "a\uFFFDb");
  EXPECT_TRUE(valid_utf8(to_utf8(to_u32("\xED\xA0\x80\xC0\xAF"))));
  EXPECT_EQ(to_utf8(U"积分\U0001F600"), "积分\xF0\x9F\x98\x80");
  // A surrogate code point is never written out as UTF-8.
  EXPECT_EQ(to_utf8(std::u32string(1, char32_t{0xD800})), "\xEF\xBF\xBD");
}

// Replies are written into answers and the message log with append_json_string: the text must be
// nlohmann's own for anything a plugin may return, broken UTF-8 included (replaced, not thrown).
TEST(Utf8, JsonStringsAreWrittenAsNlohmannWritesThem) {
  for (const std::string& s : {std::string(""), std::string("积分：12 分\n全村排名：第 3 名"),
                               std::string("say \"hi\" \\ \t\x01\x1f\x7f / \u2028 😀"), std::string("bad \xff\xfe end"),
                               std::string("cut \xe7\xa7"), std::string("\0nul", 4)}) {
    std::string out = "[";
    text::append_json_string(out, s);
    const auto expected = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    EXPECT_EQ(out, "[" + expected) << s;
    EXPECT_FALSE(nlohmann::json::parse(out + "]", nullptr, false).is_discarded()) << out;
  }
}

TEST(Utf8, LengthCountsCodePoints) {
  EXPECT_EQ(length_u32(""), 0U);
  EXPECT_EQ(length_u32("jf"), 2U);
  EXPECT_EQ(length_u32("积分明细"), 4U);
  EXPECT_EQ(length_u32("\xF0\x9F\x98\x80"), 1U);
}

// ---- normalise_command ----------------------------------------------------

TEST(NormaliseCommand, FullWidthAndMention) {
  EXPECT_EQ(normalise_command("积分", kBot), "积分");
  EXPECT_EQ(normalise_command("＠村小助手　积分", kBot), "积分");
  EXPECT_EQ(normalise_command("@村小助手 积分", kBot), "积分");
  EXPECT_EQ(normalise_command("@村小助手积分", kBot), "积分");
  EXPECT_EQ(normalise_command("　 @村小助手\u2005积分　", kBot), "积分");  // WeChat puts U+2005 after a mention
  EXPECT_EQ(normalise_command("@村小助手", kBot), "");
  EXPECT_EQ(normalise_command("@村小助手：积分", kBot), "积分");
}

TEST(NormaliseCommand, FullWidthLettersAndDigits) {
  EXPECT_EQ(normalise_command("ＪＦ"), "JF");
  EXPECT_EQ(normalise_command("ｊｆ"), "jf");
  EXPECT_EQ(normalise_command("兑换　Ａ０１　２"), "兑换 A01 2");
  EXPECT_EQ(normalise_command("？"), "?");
}

TEST(NormaliseCommand, SeparatorsBecomeSingleSpaces) {
  EXPECT_EQ(normalise_command("兑换：A01，2"), "兑换 A01 2");
  EXPECT_EQ(normalise_command("兑换:A01,2"), "兑换 A01 2");
  EXPECT_EQ(normalise_command("兑换 ：A01 ， 2"), "兑换 A01 2");
  EXPECT_EQ(normalise_command("审核 12，，通过"), "审核 12 通过");
  // Only the four separators: an enumeration comma stays.
  EXPECT_EQ(normalise_command("报名、周六"), "报名、周六");
}

TEST(NormaliseCommand, WhitespaceCollapsedAndTrimmed) {
  EXPECT_EQ(normalise_command("  积分  明细 \t\r\n"), "积分 明细");
  EXPECT_EQ(normalise_command("　　意见　路灯　坏了　"), "意见 路灯 坏了");
  EXPECT_EQ(normalise_command(""), "");
  EXPECT_EQ(normalise_command(" \t　"), "");
}

TEST(NormaliseCommand, CaseIsKept) {
  // The router matches case-insensitively; the arguments (voucher codes) keep their case.
  EXPECT_EQ(normalise_command("JF"), "JF");
  EXPECT_EQ(normalise_command("Redeem a01"), "Redeem a01");
}

TEST(NormaliseCommand, OnlyTheBotsOwnMentionIsStripped) {
  // Without bot names nothing is stripped.
  EXPECT_EQ(normalise_command("@村小助手 积分"), "@村小助手 积分");
  // Someone else's mention is kept: the message is not addressed to the bot.
  EXPECT_EQ(normalise_command("@张三 积分", kBot), "@张三 积分");
  // A mention in the middle is not a leading mention.
  EXPECT_EQ(normalise_command("积分 @村小助手", kBot), "积分 @村小助手");
  // ASCII names match case-insensitively, also in full width.
  const std::vector<std::string> names = {"VillageBot", "村小助手"};
  EXPECT_EQ(normalise_command("@villagebot jf", names), "jf");
  EXPECT_EQ(normalise_command("＠ＶＩＬＬＡＧＥＢＯＴ　ｊｆ", names), "jf");
  // Only one leading mention.
  EXPECT_EQ(normalise_command("@村小助手 @村小助手 积分", kBot), "@村小助手 积分");
  // The longest matching name wins.
  const std::vector<std::string> nested = {"村小助手", "村小助手2号"};
  EXPECT_EQ(normalise_command("@村小助手2号 积分", nested), "积分");
  // An empty name strips nothing.
  EXPECT_EQ(normalise_command("@ 积分", {""}), "@ 积分");
}

TEST(NormaliseCommand, InvalidUtf8NeverCrashes) {
  const std::string out = normalise_command("积分\xFF\xE7\xA7", kBot);
  EXPECT_TRUE(valid_utf8(out));
  EXPECT_EQ(out, "积分\uFFFD\uFFFD");
}

// ---- small helpers --------------------------------------------------------

TEST(TextHelpers, AsciiLowerTouchesOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower("JF Points"), "jf points");
  EXPECT_EQ(ascii_lower("ÄÖ积分ＪＦ"), "ÄÖ积分ＪＦ");
  EXPECT_EQ(ascii_lower("[@Z`]"), "[@z`]");
}

TEST(TextHelpers, TrimRemovesAsciiAndIdeographicSpace) {
  EXPECT_EQ(trim("  积分 \t\r\n"), "积分");
  EXPECT_EQ(trim("　积分　"), "积分");
  EXPECT_EQ(trim(" \t　 　"), "");
  EXPECT_EQ(trim("积 分"), "积 分");
  EXPECT_EQ(trim(""), "");
}

TEST(TextHelpers, SplitWsDropsEmptyFields) {
  EXPECT_EQ(split_ws("  兑换 \t A01  2 "), (std::vector<std::string>{"兑换", "A01", "2"}));
  EXPECT_TRUE(split_ws("").empty());
  EXPECT_TRUE(split_ws(" \t\n ").empty());
  EXPECT_EQ(split_ws("jf"), (std::vector<std::string>{"jf"}));
}

TEST(TextHelpers, EditDistanceOverCodePoints) {
  EXPECT_EQ(edit_distance("积分", "积分明细"), 2U);
  EXPECT_EQ(edit_distance("积分明细", "积分"), 2U);
  EXPECT_EQ(edit_distance("jf", "jx"), 1U);
  EXPECT_EQ(edit_distance("", "积分"), 2U);
  EXPECT_EQ(edit_distance("积分", "积分"), 0U);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
  EXPECT_EQ(edit_distance("积分排行", "积分超市"), 2U);
}

// ---- phones ---------------------------------------------------------------

TEST(Phone, NormalisesChineseMobiles) {
  const char* forms[] = {
      "13800000001",   "+8613800000001",    "008613800000001",   "8613800000001",       "138 0000 0001",
      "138-0000-0001", "+86 138-0000-0001", "(+86) 13800000001", "+86 (138) 0000 0001",
  };
  for (const char* raw : forms) {
    EXPECT_EQ(normalise_phone(raw), "+8613800000001") << raw;
  }
  EXPECT_EQ(normalise_phone("19912345678"), "+8619912345678");
}

TEST(Phone, KeepsOtherInternationalNumbers) {
  EXPECT_EQ(normalise_phone("+14155550123"), "+14155550123");
  EXPECT_EQ(normalise_phone("+44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(normalise_phone("+861012345678"), "+861012345678");  // Beijing landline
}

TEST(Phone, RejectsInvalidNumbers) {
  const char* invalid[] = {
      "",
      "   ",
      "abc",
      "1380000000a",
      "1380000000",   // 10 digits
      "12800000001",  // second digit 2 is not a mobile
      "23800000001",
      "138000000012",
      "+",
      "+1234567",           // 7 digits
      "+1234567890123456",  // 16 digits
      "+86 128 0000 0001",  // +86 and 11 digits, but not a mobile
      "+0123456789",
      "8612800000001",
      "0013800000001",
      "+86-138-0000-000x",
      "138.0000.0001",
  };
  for (const char* raw : invalid) {
    EXPECT_FALSE(normalise_phone(raw).has_value()) << raw;
  }
}

TEST(Phone, MaskPhone) {
  EXPECT_EQ(mask_phone("+8613800000001"), "138****0001");
  EXPECT_EQ(mask_phone("13800000001"), "138****0001");
  EXPECT_EQ(mask_phone("+14155550123"), "+14****23");
  EXPECT_EQ(mask_phone("12345"), "****");
  EXPECT_EQ(mask_phone(""), "****");
  EXPECT_EQ(mask_phone("1234567"), "123****67");
}

TEST(Phone, MaskPhonesInLogLines) {
  EXPECT_EQ(mask_phones_in("sender 13800000001 said hi"), "sender 138****0001 said hi");
  EXPECT_EQ(mask_phones_in("+8613800000001"), "138****0001");
  EXPECT_EQ(mask_phones_in("from 8613800000001:"), "from 138****0001:");
  EXPECT_EQ(mask_phones_in("to=13800000001,13900000002"), "to=138****0001,139****0002");
  EXPECT_EQ(mask_phones_in("电话13800000001请回电"), "电话138****0001请回电");
  // A 12-digit run (an order number, say) is not a phone.
  EXPECT_EQ(mask_phones_in("order 138000000012 ok"), "order 138000000012 ok");
  EXPECT_EQ(mask_phones_in("id 23800000001"), "id 23800000001");
  EXPECT_EQ(mask_phones_in("no digits here"), "no digits here");
  EXPECT_EQ(mask_phones_in(""), "");
  // Text that is not valid UTF-8 goes through untouched around the number.
  const std::string noisy = std::string("\xFF") + "13800000001" + '\xE7';
  EXPECT_EQ(mask_phones_in(noisy), std::string("\xFF") + "138****0001" + '\xE7');
  // As people write them (found by the command_text fuzz target): spaced, dashed, full-width.
  EXPECT_EQ(mask_phones_in("请联系 138 0000 0001 谢谢"), "请联系 138****0001 谢谢");
  EXPECT_EQ(mask_phones_in("tel 138-0000-0001."), "tel 138****0001.");
  EXPECT_EQ(mask_phones_in("+86 138 0000 0001"), "138****0001");
  EXPECT_EQ(mask_phones_in("电话１３８００００００01"), "电话138****0001");
  EXPECT_EQ(mask_phones_in("13800000001-2"), "138****0001-2");
  // Dates, times and amounts written with dashes and spaces are not phones.
  EXPECT_EQ(mask_phones_in("2026-11-29 08:00 共 1 200 元"), "2026-11-29 08:00 共 1 200 元");
  EXPECT_EQ(mask_phones_in("2026-11-29 13800000001"), "2026-11-29 138****0001");
}

}  // namespace
}  // namespace villagebot::text

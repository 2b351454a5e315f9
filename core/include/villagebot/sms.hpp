#pragma once
// SMS text (issue 11): the GSM 03.38 7-bit alphabet versus UCS-2, counting and splitting a
// message into parts the way handsets and SMSCs count them, and the concatenation header.
//
// Limits (3GPP TS 23.038 / 23.040): one SMS holds 160 GSM-7 septets or 70 UCS-2 units; a part
// of a concatenated message loses 6 octets to its user data header, leaving 153 septets or 67
// units. A character of the GSM extension table (€ [ ] { } \ ~ ^ |) costs two septets (ESC +
// code) and a character outside the Basic Multilingual Plane two UCS-2 units (a surrogate pair);
// neither is ever cut between two parts. Chinese text is always UCS-2: split by characters,
// never by bytes.
//
// The signature 【村名】, which Chinese carriers require at the start of every message, counts in
// the length like any other text: split(text, signature) puts it in front of the first part.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot::sms {

enum class Encoding { gsm7, ucs2 };

constexpr std::size_t kGsm7Single = 160;
constexpr std::size_t kGsm7Part = 153;
constexpr std::size_t kUcs2Single = 70;
constexpr std::size_t kUcs2Part = 67;
constexpr std::size_t kMaxParts = 255;

// The septets of the GSM 7-bit default alphabet for `utf8` (an extension character as 0x1B and
// its code), or nothing when a character has none (Chinese, most emoji) or the UTF-8 is invalid.
std::optional<std::vector<std::uint8_t>> gsm7_septets(std::string_view utf8);
[[nodiscard]] bool gsm7_encodable(std::string_view utf8);
// Septets back to UTF-8 (an unknown escape becomes a space, as TS 23.038 says).
std::string gsm7_to_utf8(const std::vector<std::uint8_t>& septets);

// Packs septets into octets (TS 23.038 §6.1.2.1), after `fill_bits` zero bits (0..6) that align
// the text on a septet boundary after a user data header.
std::string gsm7_pack(const std::vector<std::uint8_t>& septets, int fill_bits = 0);
// Unpacks `count` septets from packed octets that start with `fill_bits` fill bits.
std::vector<std::uint8_t> gsm7_unpack(std::string_view octets, std::size_t count, int fill_bits = 0);

// UTF-8 ⇄ UTF-16BE (what SMPP data_coding 8 and the SMS PDU's UCS-2 carry). Characters outside the
// BMP become surrogate pairs; decoding turns an unpaired surrogate into U+FFFD.
std::string ucs2_encode(std::string_view utf8);
std::string ucs2_decode(std::string_view utf16be);

struct Segments {
  Encoding encoding = Encoding::gsm7;
  std::vector<std::string> parts;  // UTF-8, the signature at the start of the first
  std::size_t units = 0;           // septets (GSM-7) or UTF-16 units (UCS-2) of the whole text
};

// The text as it will be sent: the signature (e.g. 【幸福村】) in front, unless it is already there.
std::string with_signature(std::string_view text, std::string_view signature);
// Splits signature + text into parts: one part when it fits in 160 septets / 70 units, else
// parts of at most 153 / 67. `max_parts` caps the result (the rest is cut, marked with …).
Segments split(std::string_view text, std::string_view signature = {}, std::size_t max_parts = kMaxParts);
// How many SMS the text costs (what a sender is billed for), signature included.
std::size_t count(std::string_view text, std::string_view signature = {});

// The concatenation user data header (TS 23.040 §9.2.3.24.1/.8), UDHL included:
// 8-bit reference 05 00 03 ref total seq; 16-bit reference 06 08 04 ref_hi ref_lo total seq.
std::string udh_concat8(std::uint8_t reference, std::uint8_t total, std::uint8_t sequence);
std::string udh_concat16(std::uint16_t reference, std::uint8_t total, std::uint8_t sequence);

// A concatenated message read from a user data header: its reference, the number of parts and
// this part's number (1-based); nothing when the header has no concatenation element.
struct ConcatInfo {
  std::uint16_t reference = 0;
  std::uint8_t total = 0;
  std::uint8_t sequence = 0;
};
// `udh` starts with the UDHL octet. Malformed headers (lengths past the end) give nothing.
std::optional<ConcatInfo> parse_udh_concat(std::string_view udh);

// The reference numbers of concatenated messages an adapter sends: each message gets the next,
// from a random start (so that two gateways' references rarely meet), thread-safe.
class ConcatReference {
 public:
  ConcatReference();
  std::uint8_t next8() { return static_cast<std::uint8_t>(next_.fetch_add(1) & 0xFF); }
  std::uint16_t next16() { return next_.fetch_add(1); }

 private:
  std::atomic<std::uint16_t> next_;
};

}  // namespace villagebot::sms

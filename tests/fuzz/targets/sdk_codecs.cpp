// Fuzz target: the SDK's codecs that plugins and adapters run on outside bytes
// (core/include/villagebot/{crypto,sms,text,http}.hpp): hex, base64, GSM-7 septets and their
// packing, UCS-2, the concatenation header, UTF-8 checks and conversions, and the query string of
// an HttpRequest. The first input octet picks the GSM-7 fill bits and the concatenation numbers.
// Invariants: every encoder's output decodes back to its input; a decoder that accepts a text gives
// what encodes back to that text (base64 is strict: one spelling per value; hex up to case);
// GSM-7 text survives septets → pack → unpack → text for every fill, and any septets survive
// pack → unpack; UCS-2 round-trips valid UTF-8 and decodes anything to valid UTF-8; a
// concatenation header parsed is consistent, and one written is read back; to_u32/to_utf8 keep
// valid UTF-8 and make anything valid; a query parameter written percent-encoded is read back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/crypto.hpp"
#include "villagebot/http.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace crypto = villagebot::crypto;
namespace sms = villagebot::sms;
namespace text = villagebot::text;

namespace {

using villagebot::fuzz::check;

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

void hex_and_base64(std::string_view in) {
  const std::string hex = crypto::to_hex(in);
  check(hex.size() == in.size() * 2 && crypto::from_hex(hex) == std::string(in));
  if (const auto bytes = crypto::from_hex(in)) check(crypto::to_hex(*bytes) == lower(std::string(in)));

  const std::string b64 = crypto::base64_encode(in);
  check(b64.size() == (in.size() + 2) / 3 * 4 && crypto::base64_decode(b64) == std::string(in));
  if (const auto bytes = crypto::base64_decode(in)) check(crypto::base64_encode(*bytes) == in);

  check(crypto::constant_time_equal(in, in));
  if (!in.empty()) check(!crypto::constant_time_equal(in, in.substr(1)));
}

void utf8(std::string_view in) {
  const std::u32string u = text::to_u32(in);
  check(u.size() == text::length_u32(in));
  const std::string back = text::to_utf8(u);
  check(text::valid_utf8(back));
  if (text::valid_utf8(in)) {
    check(back == in);
  } else {
    check(u.find(U'\uFFFD') != std::u32string::npos);
  }
  check(text::to_utf8(text::to_u32(back)) == back);
  const std::string trimmed = text::trim(in);
  check(trimmed.size() <= in.size() && in.find(trimmed) != std::string_view::npos);
  for (const auto& word : text::split_ws(in)) check(!word.empty() && in.find(word) != std::string_view::npos);
  check(text::ascii_lower(in).size() == in.size());
}

void gsm7(std::string_view in, int fill) {
  // Text → septets → octets → septets → text.
  if (const auto septets = sms::gsm7_septets(in)) {
    check(sms::gsm7_encodable(in) && text::valid_utf8(in));
    check(sms::gsm7_to_utf8(*septets) == in);
    for (int f : {0, fill}) {
      const std::string packed = sms::gsm7_pack(*septets, f);
      check(packed.size() == (static_cast<std::size_t>(f) + 7 * septets->size() + 7) / 8);
      check(sms::gsm7_unpack(packed, septets->size(), f) == *septets);
    }
  } else {
    check(!sms::gsm7_encodable(in));
  }
  // Any septets survive packing; any octets unpack to septets that read as valid UTF-8.
  std::vector<std::uint8_t> septets;
  for (char c : in) septets.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(c) & 0x7F));
  check(sms::gsm7_unpack(sms::gsm7_pack(septets, fill), septets.size(), fill) == septets);
  const std::size_t most = (in.size() * 8 - std::min<std::size_t>(in.size() * 8, static_cast<std::size_t>(fill))) / 7;
  const auto unpacked = sms::gsm7_unpack(in, most + 3, fill);
  check(unpacked.size() == most);
  for (auto s : unpacked) check(s < 0x80);
  check(text::valid_utf8(sms::gsm7_to_utf8(unpacked)));
}

void ucs2(std::string_view in) {
  const std::string decoded = sms::ucs2_decode(in);
  check(text::valid_utf8(decoded));
  check(sms::ucs2_decode(sms::ucs2_encode(decoded)) == decoded);
  const std::string encoded = sms::ucs2_encode(in);
  check(encoded.size() % 2 == 0);
  if (text::valid_utf8(in)) check(sms::ucs2_decode(encoded) == in);
}

void concat(std::string_view in, std::uint8_t knob) {
  if (const auto c = sms::parse_udh_concat(in)) {
    check(c->total >= 1 && c->sequence >= 1 && c->sequence <= c->total);
    check(!in.empty() && 1u + static_cast<std::uint8_t>(in[0]) <= in.size());
  }
  const auto total = static_cast<std::uint8_t>(1 + knob % 255);
  const auto sequence = static_cast<std::uint8_t>(1 + (knob / 3) % total);
  const auto reference = static_cast<std::uint16_t>(in.size() * 7919 + knob);
  const auto c8 = sms::parse_udh_concat(sms::udh_concat8(static_cast<std::uint8_t>(reference), total, sequence));
  check(c8 && c8->reference == (reference & 0xFF) && c8->total == total && c8->sequence == sequence);
  const auto c16 = sms::parse_udh_concat(sms::udh_concat16(reference, total, sequence));
  check(c16 && c16->reference == reference && c16->total == total && c16->sequence == sequence);
  // A header with other elements in front of the concatenation element is read past them.
  if (in.size() <= 100) {
    std::string element(in);
    std::string udh;
    udh.push_back(static_cast<char>(0x24));  // national language single shift: skipped
    udh.push_back(static_cast<char>(element.size()));
    udh += element;
    const std::string c = sms::udh_concat8(0x42, total, sequence);
    udh += c.substr(1);
    udh.insert(udh.begin(), static_cast<char>(udh.size()));
    const auto parsed = sms::parse_udh_concat(udh);
    check(parsed && parsed->reference == 0x42 && parsed->total == total && parsed->sequence == sequence);
  }
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')) {
      out.push_back(c);
    } else if (b == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0F]);
    }
  }
  return out;
}

void query(std::string_view in) {
  villagebot::HttpRequest r;
  r.query = std::string(in);
  // Every name in the query string reads without trouble, and never longer than the query.
  std::string_view rest = in;
  for (int i = 0; i < 16 && !rest.empty(); ++i) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::string_view name = pair.substr(0, pair.find('='));
    check(r.query_param(name).size() <= in.size());
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  // A value written percent-encoded, after the fuzzed query, reads back.
  r.query = "?zz_fuzz=" + percent_encode(in) + "&" + std::string(in);
  check(r.query_param("zz_fuzz") == in);
  r.headers["x-fuzz"] = std::string(in);
  check(r.header("X-Fuzz") == in && r.header("x-other").empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::uint8_t knob = size > 0 ? data[0] : 0;
  hex_and_base64(in);
  utf8(in);
  gsm7(in, knob % 7);
  ucs2(in);
  concat(in, knob);
  query(in);
  return 0;
}

#include "villagebot/sms.hpp"

#include <array>
#include <random>

#include "villagebot/text.hpp"

namespace villagebot::sms {

namespace {

// TS 23.038 §6.2.1, the default alphabet by septet; 0x1B is the escape to the extension table.
constexpr std::array<char32_t, 128> kBasic = {
    U'@', U'£',  U'$', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'\n', U'Ø', U'ø', U'\r', U'Å', U'å', U'Δ', U'_', U'Φ',
    U'Γ', U'Λ',  U'Ω', U'Π', U'Ψ', U'Σ', U'Θ', U'Ξ', 0,    U'Æ', U'æ',  U'ß', U'É', U' ',  U'!', U'"', U'#', U'¤', U'%',
    U'&', U'\'', U'(', U')', U'*', U'+', U',', U'-', U'.', U'/', U'0',  U'1', U'2', U'3',  U'4', U'5', U'6', U'7', U'8',
    U'9', U':',  U';', U'<', U'=', U'>', U'?', U'¡', U'A', U'B', U'C',  U'D', U'E', U'F',  U'G', U'H', U'I', U'J', U'K',
    U'L', U'M',  U'N', U'O', U'P', U'Q', U'R', U'S', U'T', U'U', U'V',  U'W', U'X', U'Y',  U'Z', U'Ä', U'Ö', U'Ñ', U'Ü',
    U'§', U'¿',  U'a', U'b', U'c', U'd', U'e', U'f', U'g', U'h', U'i',  U'j', U'k', U'l',  U'm', U'n', U'o', U'p', U'q',
    U'r', U's',  U't', U'u', U'v', U'w', U'x', U'y', U'z', U'ä', U'ö',  U'ñ', U'ü', U'à',
};

// §6.2.1.1, the extension table: (code after ESC, character).
constexpr std::array<std::pair<std::uint8_t, char32_t>, 10> kExtension = {{
    {0x0A, U'\f'},
    {0x14, U'^'},
    {0x28, U'{'},
    {0x29, U'}'},
    {0x2F, U'\\'},
    {0x3C, U'['},
    {0x3D, U'~'},
    {0x3E, U']'},
    {0x40, U'|'},
    {0x65, U'€'},
}};

constexpr std::uint8_t kEscape = 0x1B;

// One septet, two (ESC + code), or none (-1).
int gsm_code(char32_t c, std::uint8_t& second) {
  if (c < 0x80 && c != U'$' && c != U'@' && c != U'_' && c != U'`') {
    // Fast path for ASCII letters, digits and most punctuation, which sit at their ASCII code.
    if ((c >= U'A' && c <= U'Z') || (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U' ') return int(c);
  }
  for (std::size_t i = 0; i < kBasic.size(); ++i)
    if (kBasic[i] == c && i != kEscape) return static_cast<int>(i);
  for (const auto& [code, ch] : kExtension)
    if (ch == c) {
      second = code;
      return kEscape;
    }
  return -1;
}

struct Char {
  std::size_t begin = 0;  // byte offsets in the UTF-8 text
  std::size_t end = 0;
  std::size_t cost = 1;  // septets or UTF-16 units
};

// Decodes one UTF-8 sequence at i (a malformed byte is one character of its own).
std::size_t next_char(std::string_view s, std::size_t i, char32_t& c) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    c = 0xFFFD;
    return 1;
  }
  c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    const auto x = static_cast<unsigned char>(s[i + k]);
    if ((x & 0xC0) != 0x80) {
      c = 0xFFFD;
      return 1;
    }
    c = (c << 6) | (x & 0x3F);
  }
  return n;
}

void append_utf8(std::string& out, char32_t c) {
  out += text::to_utf8(std::u32string_view(&c, 1));
}

}  // namespace

std::optional<std::vector<std::uint8_t>> gsm7_septets(std::string_view utf8) {
  if (!text::valid_utf8(utf8)) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t c = 0;
    i += next_char(utf8, i, c);
    std::uint8_t second = 0;
    const int code = gsm_code(c, second);
    if (code < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(code));
    if (code == kEscape) out.push_back(second);
  }
  return out;
}

bool gsm7_encodable(std::string_view utf8) {
  return gsm7_septets(utf8).has_value();
}

std::string gsm7_to_utf8(const std::vector<std::uint8_t>& septets) {
  std::string out;
  for (std::size_t i = 0; i < septets.size(); ++i) {
    const std::uint8_t s = septets[i] & 0x7F;
    if (s == kEscape) {
      if (i + 1 >= septets.size()) break;
      const std::uint8_t code = septets[++i] & 0x7F;
      char32_t c = U' ';
      for (const auto& [k, ch] : kExtension)
        if (k == code) c = ch;
      append_utf8(out, c);
      continue;
    }
    append_utf8(out, kBasic[s]);
  }
  return out;
}

std::string gsm7_pack(const std::vector<std::uint8_t>& septets, int fill_bits) {
  const std::size_t bits = static_cast<std::size_t>(fill_bits) + 7 * septets.size();
  std::string out((bits + 7) / 8, '\0');
  for (std::size_t i = 0; i < septets.size(); ++i) {
    const std::size_t pos = static_cast<std::size_t>(fill_bits) + 7 * i;
    const unsigned value = septets[i] & 0x7Fu;
    const std::size_t byte = pos / 8;
    const unsigned shift = pos % 8;
    out[byte] = static_cast<char>(static_cast<unsigned char>(out[byte]) | ((value << shift) & 0xFFu));
    if (shift > 1)
      out[byte + 1] = static_cast<char>(static_cast<unsigned char>(out[byte + 1]) | (value >> (8 - shift)));
  }
  return out;
}

std::vector<std::uint8_t> gsm7_unpack(std::string_view octets, std::size_t count, int fill_bits) {
  std::vector<std::uint8_t> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t pos = static_cast<std::size_t>(fill_bits) + 7 * i;
    const std::size_t byte = pos / 8;
    const unsigned shift = pos % 8;
    if (pos + 7 > octets.size() * 8) break;  // only whole septets
    unsigned value = static_cast<unsigned char>(octets[byte]) >> shift;
    if (shift > 1 && byte + 1 < octets.size())
      value |= static_cast<unsigned>(static_cast<unsigned char>(octets[byte + 1])) << (8 - shift);
    out.push_back(static_cast<std::uint8_t>(value & 0x7F));
  }
  return out;
}

std::string ucs2_encode(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() * 2);
  auto unit = [&](std::uint32_t u) {
    out.push_back(static_cast<char>((u >> 8) & 0xFF));
    out.push_back(static_cast<char>(u & 0xFF));
  };
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t c = 0;
    i += next_char(utf8, i, c);
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    if (c > 0x10FFFF) c = 0xFFFD;
    if (c > 0xFFFF) {
      const std::uint32_t v = static_cast<std::uint32_t>(c) - 0x10000;
      unit(0xD800 + (v >> 10));
      unit(0xDC00 + (v & 0x3FF));
    } else {
      unit(static_cast<std::uint32_t>(c));
    }
  }
  return out;
}

std::string ucs2_decode(std::string_view utf16be) {
  std::u32string u;
  u.reserve(utf16be.size() / 2);
  for (std::size_t i = 0; i + 1 < utf16be.size(); i += 2) {
    const std::uint32_t a = (static_cast<std::uint32_t>(static_cast<unsigned char>(utf16be[i])) << 8) |
                            static_cast<unsigned char>(utf16be[i + 1]);
    if (a >= 0xD800 && a <= 0xDBFF && i + 3 < utf16be.size()) {
      const std::uint32_t b = (static_cast<std::uint32_t>(static_cast<unsigned char>(utf16be[i + 2])) << 8) |
                              static_cast<unsigned char>(utf16be[i + 3]);
      if (b >= 0xDC00 && b <= 0xDFFF) {
        u.push_back(static_cast<char32_t>(0x10000 + ((a - 0xD800) << 10) + (b - 0xDC00)));
        i += 2;
        continue;
      }
    }
    u.push_back(a >= 0xD800 && a <= 0xDFFF ? U'\uFFFD' : static_cast<char32_t>(a));
  }
  return text::to_utf8(u);
}

std::string with_signature(std::string_view text, std::string_view signature) {
  if (signature.empty() || text.starts_with(signature)) return std::string(text);
  std::string out(signature);
  out += text;
  return out;
}

Segments split(std::string_view text_in, std::string_view signature, std::size_t max_parts) {
  const std::string whole = with_signature(text_in, signature);
  Segments out;
  if (whole.empty()) return out;
  // Per character: its bytes and its cost in the encoding the whole text needs.
  std::vector<Char> chars;
  bool gsm = text::valid_utf8(whole);
  for (std::size_t i = 0; i < whole.size();) {
    char32_t c = 0;
    const std::size_t n = next_char(whole, i, c);
    std::uint8_t second = 0;
    const int code = gsm ? gsm_code(c, second) : -1;
    if (code < 0) gsm = false;
    chars.push_back({i, i + n, code == kEscape ? 2u : (c > 0xFFFF ? 2u : 1u)});
    i += n;
  }
  if (!gsm)  // UCS-2 costs: one unit, two for a surrogate pair
    for (auto& ch : chars) {
      char32_t c = 0;
      next_char(whole, ch.begin, c);
      ch.cost = c > 0xFFFF ? 2 : 1;
    }
  out.encoding = gsm ? Encoding::gsm7 : Encoding::ucs2;
  for (const auto& ch : chars) out.units += ch.cost;
  const std::size_t single = gsm ? kGsm7Single : kUcs2Single;
  const std::size_t part = gsm ? kGsm7Part : kUcs2Part;
  if (out.units <= single) {
    out.parts.push_back(whole);
    return out;
  }
  if (max_parts == 0) max_parts = 1;
  std::size_t begin = 0;
  std::size_t used = 0;
  for (std::size_t k = 0; k < chars.size(); ++k) {
    if (used + chars[k].cost > part) {
      out.parts.push_back(whole.substr(begin, chars[k].begin - begin));
      begin = chars[k].begin;
      used = 0;
    }
    used += chars[k].cost;
  }
  out.parts.push_back(whole.substr(begin));
  if (out.parts.size() > max_parts) {
    // Keep max_parts; the last one ends with an ellipsis in place of what does not fit.
    out.parts.resize(max_parts);
    const std::string ellipsis = gsm ? "..." : "…";
    const std::size_t ellipsis_cost = gsm ? 3 : 1;
    std::string& last = out.parts.back();
    std::size_t cost = 0;
    std::size_t keep = 0;
    for (std::size_t i = 0; i < last.size();) {
      char32_t c = 0;
      const std::size_t n = next_char(last, i, c);
      std::uint8_t second = 0;
      const std::size_t cc = gsm ? (gsm_code(c, second) == kEscape ? 2 : 1) : (c > 0xFFFF ? 2 : 1);
      if (cost + cc > part - ellipsis_cost) break;
      cost += cc;
      i += n;
      keep = i;
    }
    last = last.substr(0, keep) + ellipsis;
    out.units = 0;
    for (const auto& p : out.parts) {
      for (std::size_t i = 0; i < p.size();) {
        char32_t c = 0;
        i += next_char(p, i, c);
        std::uint8_t second = 0;
        out.units += gsm ? (gsm_code(c, second) == kEscape ? 2 : 1) : (c > 0xFFFF ? 2 : 1);
      }
    }
  }
  return out;
}

std::size_t count(std::string_view text, std::string_view signature) {
  return split(text, signature).parts.size();
}

std::string udh_concat8(std::uint8_t reference, std::uint8_t total, std::uint8_t sequence) {
  return std::string{
      '\x05', '\x00', '\x03', static_cast<char>(reference), static_cast<char>(total), static_cast<char>(sequence)};
}

std::string udh_concat16(std::uint16_t reference, std::uint8_t total, std::uint8_t sequence) {
  return std::string{'\x06',
                     '\x08',
                     '\x04',
                     static_cast<char>(reference >> 8),
                     static_cast<char>(reference & 0xFF),
                     static_cast<char>(total),
                     static_cast<char>(sequence)};
}

std::optional<ConcatInfo> parse_udh_concat(std::string_view udh) {
  if (udh.empty()) return std::nullopt;
  const std::size_t udhl = static_cast<unsigned char>(udh[0]);
  if (udhl + 1 > udh.size()) return std::nullopt;
  std::size_t i = 1;
  while (i + 1 < udhl + 1) {
    const auto iei = static_cast<unsigned char>(udh[i]);
    const std::size_t len = static_cast<unsigned char>(udh[i + 1]);
    if (i + 2 + len > udhl + 1) return std::nullopt;
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(udh[i + 2 + k]); };
    if (iei == 0x00 && len == 3) {
      if (at(1) == 0 || at(2) == 0 || at(2) > at(1)) return std::nullopt;
      return ConcatInfo{at(0), at(1), at(2)};
    }
    if (iei == 0x08 && len == 4) {
      if (at(2) == 0 || at(3) == 0 || at(3) > at(2)) return std::nullopt;
      return ConcatInfo{static_cast<std::uint16_t>((at(0) << 8) | at(1)), at(2), at(3)};
    }
    i += 2 + len;
  }
  return std::nullopt;
}

ConcatReference::ConcatReference() : next_(static_cast<std::uint16_t>(std::random_device{}() & 0xFFFF)) {}

}  // namespace villagebot::sms

#include "villagebot/text.hpp"
#include "villagebot/sms.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

namespace villagebot::text {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

struct Decoded {
  char32_t code_point;
  std::size_t length;  // bytes consumed, at least 1
  bool valid;
};

// One step of a strict UTF-8 decoder. An invalid sequence consumes its
// maximal valid prefix (at least one byte) so that the byte that broke it is
// decoded again: the WHATWG / Unicode "maximal subpart" practice.
Decoded decode_one(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    return {b0, 1, true};
  }
  std::size_t need = 0;
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
  char32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1FU;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0FU;
    if (b0 == 0xE0) lower = 0xA0;  // overlong
    if (b0 == 0xED) upper = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07U;
    if (b0 == 0xF0) lower = 0x90;  // overlong
    if (b0 == 0xF4) upper = 0x8F;  // above U+10FFFF
  } else {
    return {kReplacement, 1, false};  // continuation byte, C0, C1, F5..FF
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) {
      return {kReplacement, k, false};
    }
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < lower || b > upper) {
      return {kReplacement, k, false};
    }
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3FU);
  }
  return {cp, need + 1, true};
}

void append_utf8(std::string& out, char32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    cp = kReplacement;
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Spaces a chat client may put between words. WeChat, for one, follows an
// @mention with U+2005 rather than an ASCII space.
bool is_unicode_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t ascii_lower_cp(char32_t c) {
  return (c >= U'A' && c <= U'Z') ? c + (U'a' - U'A') : c;
}

// Full-width ASCII to half-width, every kind of space to ' '.
std::u32string half_width(std::string_view utf8) {
  std::u32string u = to_u32(utf8);
  for (auto& c : u) {
    if (c >= 0xFF01 && c <= 0xFF5E) {
      c -= 0xFEE0;
    } else if (is_unicode_space(c)) {
      c = U' ';
    }
  }
  return u;
}

std::u32string_view trim_spaces(std::u32string_view u) {
  while (!u.empty() && u.front() == U' ') u.remove_prefix(1);
  while (!u.empty() && u.back() == U' ') u.remove_suffix(1);
  return u;
}

bool starts_with_ci(std::u32string_view s, std::u32string_view prefix) {
  if (prefix.size() > s.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower_cp(s[i]) != ascii_lower_cp(prefix[i])) return false;
  }
  return true;
}

// A Chinese mobile number: 11 digits, 1 then 3..9.
bool is_cn_mobile(std::string_view d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' && std::all_of(d.begin(), d.end(), is_digit);
}

bool all_digits(std::string_view d) {
  return !d.empty() && std::all_of(d.begin(), d.end(), is_digit);
}

std::string mask_national(std::string_view eleven_digits) {
  std::string out(eleven_digits.substr(0, 3));
  out += "****";
  out += eleven_digits.substr(eleven_digits.size() - 4);
  return out;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Decoded d = decode_one(s, i);
    if (!d.valid) return false;
    i += d.length;
  }
  return true;
}

void append_json_escaped(std::string& out, std::string_view s) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void append_json_string(std::string& out, std::string_view s) {
  if (valid_utf8(s)) {
    out += '"';
    append_json_escaped(out, s);
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::u32string to_u32(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const Decoded d = decode_one(utf8, i);
    out.push_back(d.code_point);
    i += d.length;
  }
  return out;
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    append_utf8(out, c);
  }
  return out;
}

std::size_t length_u32(std::string_view utf8) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < utf8.size(); ++n) {
    i += decode_one(utf8, i).length;
  }
  return n;
}

std::string normalise_command(std::string_view raw, const std::vector<std::string>& bot_names) {
  const std::u32string converted = half_width(raw);
  std::u32string_view u = trim_spaces(converted);

  // Strip "@<bot name>" when it opens the message; the longest name wins so that
  // "@村小助手2" is not read as "@村小助手" followed by "2".
  if (!u.empty() && u.front() == U'@') {
    std::size_t best = 0;
    for (const auto& name : bot_names) {
      const std::u32string n = half_width(name);
      const std::u32string_view nv = trim_spaces(n);
      if (!nv.empty() && nv.size() > best && starts_with_ci(u.substr(1), nv)) {
        best = nv.size();
      }
    }
    if (best > 0) {
      u.remove_prefix(1 + best);
    }
  }

  std::u32string out;
  out.reserve(u.size());
  bool pending_space = false;
  for (char32_t c : u) {
    if (c == U':' || c == U',' || c == U' ') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) {
      out.push_back(U' ');
    }
    pending_space = false;
    out.push_back(c);
  }
  return to_utf8(out);
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string trim(std::string_view s) {
  static constexpr std::string_view kIdeographicSpace = "\xE3\x80\x80";
  for (;;) {
    if (!s.empty() && is_ascii_space(s.front())) {
      s.remove_prefix(1);
    } else if (s.starts_with(kIdeographicSpace)) {
      s.remove_prefix(kIdeographicSpace.size());
    } else {
      break;
    }
  }
  for (;;) {
    if (!s.empty() && is_ascii_space(s.back())) {
      s.remove_suffix(1);
    } else if (s.ends_with(kIdeographicSpace)) {
      s.remove_suffix(kIdeographicSpace.size());
    } else {
      break;
    }
  }
  return std::string(s);
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_ascii_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_ascii_space(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::u32string x = to_u32(a);
  std::u32string y = to_u32(b);
  if (y.size() > x.size()) std::swap(x, y);  // the row is the shorter string
  std::vector<std::size_t> row(y.size() + 1);
  for (std::size_t j = 0; j <= y.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= x.size(); ++i) {
    std::size_t diagonal = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (std::size_t j = 1; j <= y.size(); ++j) {
      const std::size_t above = row[j];  // row[i-1][j]
      const std::size_t substitute = diagonal + (x[i - 1] == y[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[y.size()];
}

std::optional<std::string> normalise_phone(std::string_view raw) {
  std::string s;
  s.reserve(raw.size());
  for (char c : raw) {
    if (c == ' ' || c == '\t' || c == '-' || c == '(' || c == ')') continue;
    s.push_back(c);
  }
  const std::string_view v = s;

  if (v.starts_with('+')) {
    const std::string_view digits = v.substr(1);
    if (!all_digits(digits) || digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
      return std::nullopt;
    }
    if (digits.starts_with("86")) {
      const std::string_view national = digits.substr(2);
      // Eleven digits opening with 1 can only be a mobile in China; a typo there
      // would otherwise pass as a "foreign" number and never be delivered.
      if (national.size() == 11 && national[0] == '1' && !is_cn_mobile(national)) {
        return std::nullopt;
      }
    }
    return std::string(v);
  }
  if (is_cn_mobile(v)) {
    return "+86" + std::string(v);
  }
  if (v.size() == 13 && v.starts_with("86") && is_cn_mobile(v.substr(2))) {
    return "+" + std::string(v);
  }
  if (v.size() == 15 && v.starts_with("0086") && is_cn_mobile(v.substr(4))) {
    return "+" + std::string(v.substr(2));
  }
  return std::nullopt;
}

int sms_segments(std::string_view utf8) {
  return static_cast<int>(sms::count(utf8));
}

std::string mask_phone(std::string_view phone) {
  std::string shown(phone);
  if (const auto normal = normalise_phone(phone)) {
    if (normal->size() == 14 && normal->starts_with("+86") && is_cn_mobile(std::string_view(*normal).substr(3))) {
      return mask_national(std::string_view(*normal).substr(3));
    }
    shown = *normal;
  }
  // Count code points, not bytes, so a stray non-ASCII string is never cut
  // in the middle of a character.
  const std::u32string u = to_u32(shown);
  if (u.size() < 7) {
    return "****";
  }
  std::u32string out(u.substr(0, 3));
  out += U"****";
  out += u.substr(u.size() - 2);
  return to_utf8(out);
}

namespace {

// The digit at text[at], ASCII or full-width (０-９, U+FF10..U+FF19): its value and its length in bytes.
std::optional<std::pair<char, std::size_t>> digit_at(std::string_view text, std::size_t at) {
  if (at < text.size() && is_digit(text[at])) return std::make_pair(text[at], std::size_t{1});
  if (at + 2 < text.size() && static_cast<unsigned char>(text[at]) == 0xEF &&
      static_cast<unsigned char>(text[at + 1]) == 0xBC) {
    const auto c = static_cast<unsigned char>(text[at + 2]);
    if (c >= 0x90 && c <= 0x99) return std::make_pair(static_cast<char>('0' + (c - 0x90)), std::size_t{3});
  }
  return std::nullopt;
}

// The national number (11 digits) when `digits` is a mobile number as people write it.
std::optional<std::string_view> mobile_in(std::string_view digits) {
  if (digits.size() == 11 && digits[0] == '1') return digits;
  if ((digits.size() == 13 && digits.starts_with("861")) || (digits.size() == 15 && digits.starts_with("00861")))
    return digits.substr(digits.size() - 11);
  return std::nullopt;
}

}  // namespace

std::string mask_phones_in(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!digit_at(text, i)) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    // The digits from here, as written: first with single spaces or dashes between them
    // ("138 0000 0001", "138-0000-0001"), then without ("13800000001-2" holds a phone too).
    auto collect = [&](bool separators) {
      std::string digits;
      std::size_t at = i, end = i;
      while (const auto d = digit_at(text, at)) {
        digits.push_back(d->first);
        at += d->second;
        end = at;
        if (separators && at < text.size() && (text[at] == ' ' || text[at] == '-') && digit_at(text, at + 1)) ++at;
      }
      return std::make_pair(digits, end);
    };
    auto [digits, end] = collect(true);
    auto national = mobile_in(digits);
    if (!national) {
      std::tie(digits, end) = collect(false);
      national = mobile_in(digits);
    }
    if (national) {
      // +8613800000001 reads 138****0001, as mask_phone() shows it.
      if (digits.size() == 13 && !out.empty() && out.back() == '+') out.pop_back();
      out += mask_national(*national);
    } else {
      out.append(text.substr(i, end - i));
    }
    i = end;
  }
  return out;
}

}  // namespace villagebot::text

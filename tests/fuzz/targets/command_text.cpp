// Fuzz target: the text of a message on its way to a command (PRODUCT.md §4), and the phone and SMS
// helpers that see the same outside text: text::normalise_command (with the bot's names), a
// CommandRouter holding the plugins' keywords and aliases and regex patterns (core/src/pipeline/
// command_router.hpp) → match() and closest(); text::normalise_phone, mask_phone, mask_phones_in,
// edit_distance; sms::split and sms::count. Texts are cut at 4096 bytes, as the pipeline refuses
// longer ones.
// Invariants: a normalised text is valid UTF-8 without blanks at either end, doubled spaces or
// separators, and normalising it again changes nothing; a keyword match starts the text and its
// rest is the trimmed remainder; closest() suggests registered keywords only; a normalised phone
// normalises to itself and masks to no 11-digit mobile; a masked text holds none of the input's
// mobile numbers; edit distance is a symmetric metric within its bounds; SMS parts join back to the
// signed text, each within 160/70 (one part) or 153/67 (several) units, truncated parts ending in an
// ellipsis, and count() is the number of parts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/command_router.hpp"
#include "villagebot/sms.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace text = villagebot::text;
namespace sms = villagebot::sms;
using villagebot::CommandRequest;
using villagebot::CommandSpec;
using villagebot::Person;
using villagebot::Registration;
using villagebot::Replies;
using villagebot::pipeline::CommandRouter;

namespace {

using villagebot::fuzz::check;

constexpr std::size_t kMaxText = 4096;  // core/src/pipeline/pipeline.cpp

const std::vector<std::string> kBotNames = {"villagebot", "村小助手"};

struct Commands {
  CommandRouter router;
  std::vector<Registration> registrations;
  std::set<std::string> keywords;

  Commands() {
    add("core.help", {"帮助", "菜单", "help", "?", "menu"}, {}, true);
    add("core.ok", {"收到", "已收到", "ok", "received"}, {});
    add("points.balance", {"积分", "查积分", "jf", "points"}, {});
    add("points.history", {"积分明细", "mx"}, {});
    add("points.top", {"积分排行", "红榜", "top"}, {});
    add("points.shop", {"积分超市", "商品", "shop"}, {});
    add("points.redeem", {"兑换", "redeem"}, {R"(^兑换 (\w+) (\d+)$)"});
    add("points.unredeem", {"取消兑换", "unredeem"}, {});
    add("points.award", {"加分", "扣分"}, {}, false, {"cadre"});
    add("announcements.latest", {"最新通知", "latest"}, {});
    add("emergency.alert", {"应急", "警报", "alert"}, {}, false, {"commander"});
    add("emergency.rollcall", {"点名", "rollcall"}, {}, false, {"commander"});
    add("opinions.file", {"意见", "建议", "反映", "suggest"}, {});
    add("opinions.vote", {"投票", "vote"}, {R"(^投票 ?(\d+) (\d+)$)", R"(^vote (\d+) (\d+)$)"});
    add("opinions.rate", {"满意", "不满意"}, {});
    add("volunteers.rota", {"班次", "值班", "rota"}, {});
    add("volunteers.signup", {"报名", "signup"}, {});
    add("volunteers.unsignup", {"取消报名", "unsignup"}, {});
    add("volunteers.swap", {"换班", "swap"}, {});
    add("volunteers.take", {"接班", "take"}, {});
    add("volunteers.mine", {"我的班次", "shifts"}, {});
    // Patterns only: a bare answer number, a code, a date.
    add("test.number", {}, {"^([1-9]|1[0-9])$"});
    add("test.code", {}, {R"(^[A-Za-z]\d{2}$)", R"(\b(A|D)\d{2}\b)"});
    add("test.date", {}, {R"(^(\d{1,2})月(\d{1,2})日)"});
  }

  void add(std::string name, std::vector<std::string> words, std::vector<std::string> patterns,
           bool unregistered = false, std::vector<std::string> roles = {}) {
    CommandSpec spec;
    spec.name = std::move(name);
    spec.keywords = std::move(words);
    spec.patterns = std::move(patterns);
    spec.roles = std::move(roles);
    spec.allow_unregistered = unregistered;
    spec.handler = [](const CommandRequest&) { return Replies{}; };
    for (const auto& k : spec.keywords) keywords.insert(k);
    registrations.push_back(router.add_owned(std::move(spec), "fuzz"));
  }
};

Commands& commands() {
  static auto* c = new Commands();  // lives for the process: no destruction order to worry about
  return *c;
}

Person sender(std::int64_t id, std::vector<std::string> roles) {
  Person p;
  p.id = id;
  p.roles = std::move(roles);
  return p;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The maximal runs of ASCII digits.
std::vector<std::string_view> digit_runs(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size();) {
    if (!is_digit(s[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < s.size() && is_digit(s[end])) ++end;
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

// `s` with full-width digits (U+FF10…U+FF19, EF BC 90…99) written as ASCII digits.
std::string ascii_digits(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i + 2 < s.size() && s[i] == '\xEF' && s[i + 1] == '\xBC' && s[i + 2] >= '\x90' && s[i + 2] <= '\x99') {
      out.push_back(static_cast<char>('0' + (s[i + 2] - '\x90')));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool cn_mobile(std::string_view d) {
  return d.size() == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

void normalised_text(const std::string& raw) {
  const std::string plain = text::normalise_command(raw);
  check(text::valid_utf8(plain));
  check(!plain.starts_with(' ') && !plain.ends_with(' ') && plain.find("  ") == std::string::npos);
  check(plain.find(':') == std::string::npos && plain.find(',') == std::string::npos);
  check(text::normalise_command(plain) == plain);

  const std::string normalised = text::normalise_command(raw, kBotNames);
  check(text::valid_utf8(normalised));
  Commands& c = commands();
  if (const auto m = c.router.match(normalised)) {
    check(m->entry != nullptr);
    if (!m->keyword.empty()) {
      check(normalised.starts_with(m->keyword) ||
            text::ascii_lower(normalised).starts_with(text::ascii_lower(m->keyword)));
      check(m->rest == text::trim(std::string_view(normalised).substr(m->keyword.size())));
    } else {
      check(m->rest == normalised && !m->entry->patterns.empty());
    }
  }
  // Suggestions, for a sender who may use every command and for a stranger. closest() costs an edit
  // distance per keyword over the first word: on the first 512 bytes, to keep the runs fast.
  const std::string head = normalised.substr(0, 512);
  const auto suggestions = c.router.closest(head, sender(2, {"villager", "cadre", "commander"}), 3);
  check(suggestions.size() <= 3);
  for (const auto& s : suggestions) check(c.keywords.contains(s));
  check(c.router.closest(head, sender(0, {}), 3).size() <= 1);  // only 帮助 takes strangers
}

void phones(std::string_view raw) {
  if (const auto phone = text::normalise_phone(raw)) {
    check(phone->starts_with('+') && phone->size() >= 9 && phone->size() <= 16);
    check(text::normalise_phone(*phone) == phone);
    const std::string masked = text::mask_phone(*phone);
    for (auto run : digit_runs(masked)) check(!cn_mobile(run));
  }
  const std::string masked = text::mask_phone(raw);
  check(text::valid_utf8(masked));

  // A masked text shows none of the mobile numbers that stood alone in it. Full-width digits are
  // digits to the masker (１３８…), so they are read as digits here too: "１13800000001" is one
  // twelve-digit number, not a mobile beside a character (found by a 10-minute run, session 9).
  const std::string in_text = text::mask_phones_in(raw);
  const std::string raw_digits = ascii_digits(raw);
  std::set<std::string_view> mobiles;
  for (auto run : digit_runs(raw_digits)) {
    if (cn_mobile(run)) mobiles.insert(run);
    if (run.size() == 13 && run.starts_with("86") && cn_mobile(run.substr(2))) mobiles.insert(run.substr(2));
    if (run.size() == 15 && run.starts_with("0086") && cn_mobile(run.substr(4))) mobiles.insert(run.substr(4));
  }
  const std::string in_text_digits = ascii_digits(in_text);
  for (auto run : digit_runs(in_text_digits)) check(!mobiles.contains(run));
  check(!text::valid_utf8(raw) || text::valid_utf8(in_text));
}

void distances(std::string_view raw) {
  const std::size_t half = raw.size() / 2;
  const std::string_view a = raw.substr(0, std::min<std::size_t>(half, 64));
  const std::string_view b = raw.substr(half, 64);
  const std::size_t ab = text::edit_distance(a, b);
  check(ab == text::edit_distance(b, a));
  const std::size_t la = text::length_u32(a);
  const std::size_t lb = text::length_u32(b);
  check(ab <= std::max(la, lb) && ab >= (la > lb ? la - lb : lb - la));
  check(text::edit_distance(a, a) == 0);
  check((ab == 0) == (text::to_u32(a) == text::to_u32(b)));
}

// The units of one part in its encoding (the SDK's encoders are the yardstick).
std::size_t units(const std::string& part, sms::Encoding encoding) {
  if (encoding == sms::Encoding::gsm7) {
    const auto septets = sms::gsm7_septets(part);
    check(septets.has_value());
    return septets->size();
  }
  return sms::ucs2_encode(part).size() / 2;
}

void sms_parts(std::string_view raw, std::uint8_t knobs) {
  static const std::string kSignatures[] = {"", "【幸福村】", "[Village]"};
  const std::string& signature = kSignatures[knobs % 3];
  const std::string whole = sms::with_signature(raw, signature);
  const std::size_t max_parts = (knobs & 4) != 0 ? 2 : sms::kMaxParts;
  const sms::Segments s = sms::split(raw, signature, max_parts);
  if (whole.empty()) {
    check(s.parts.empty() && s.units == 0);
    return;
  }
  check(!s.parts.empty() && s.parts.size() <= max_parts);
  const bool single = s.parts.size() == 1;
  const bool gsm = s.encoding == sms::Encoding::gsm7;
  const std::size_t limit =
      gsm ? (single ? sms::kGsm7Single : sms::kGsm7Part) : (single ? sms::kUcs2Single : sms::kUcs2Part);
  std::string joined;
  std::size_t total = 0;
  for (const auto& p : s.parts) {
    check(!p.empty());
    const std::size_t u = units(p, s.encoding);
    check(u <= limit);
    total += u;
    joined += p;
  }
  if (joined != whole) {
    // Cut at max_parts: the last part ends with the ellipsis, after a prefix of the rest.
    const std::string ellipsis = gsm ? "..." : "…";
    check(s.parts.size() == max_parts && s.parts.back().ends_with(ellipsis));
    check(whole.starts_with(joined.substr(0, joined.size() - ellipsis.size())));
  }
  if (gsm) {
    check(text::valid_utf8(whole) && total == s.units);
  }
  if (max_parts == sms::kMaxParts) check(sms::count(raw, signature) == s.parts.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), std::min(size, kMaxText));
  normalised_text(raw);
  phones(raw);
  distances(raw);
  sms_parts(raw, size > 0 ? data[0] : 0);
  return 0;
}

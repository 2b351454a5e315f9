#pragma once
// Small helpers every plugin needs, header-only so that plugins (which never link each other)
// share one copy of the source: the village's UTC offset and local time, the clock, a refusal
// with its Chinese and English halves and its HTTP status, path and query parameters, and the
// CSV cell of every export.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/directory.hpp"
#include "villagebot/http.hpp"
#include "villagebot/i18n.hpp"
#include "villagebot/scheduler.hpp"

namespace villagebot::plugin_support {

// A cadre's scope (四包一联): the units a person answers for, with their sub-units; empty means
// the whole village (no person, no unit, or the village itself).
inline std::vector<OrgUnit> scope_units(Directory& directory, std::int64_t person_id) {
  if (person_id <= 0) return {};
  auto units = directory.units_responsible_for(person_id);
  for (const auto& u : units)
    if (u.parent_id == 0) return {};
  return units;
}

// How many of the audience's people are outside those units (0 when the scope is everywhere).
inline std::int64_t outside_scope(Directory& directory, const std::vector<OrgUnit>& units, const Audience& audience) {
  if (units.empty()) return 0;
  Audience scope;
  for (const auto& u : units) scope.org_units.push_back(u.id);
  const auto inside = directory.resolve(scope);
  const std::set<std::int64_t> allowed(inside.begin(), inside.end());
  std::int64_t outside = 0;
  for (auto id : directory.resolve(audience))
    if (!allowed.contains(id)) ++outside;
  return outside;
}

// "一组、二组/东院": the units' paths for a refusal.
inline std::string unit_names(const std::vector<OrgUnit>& units) {
  std::string out;
  for (const auto& u : units) out += (out.empty() ? "" : "、") + u.path;
  return out;
}

// The village's offset from UTC in seconds: "+08:00" style, UTC, or (every zone of China) +8.
inline std::int64_t utc_offset_s(const std::string& zone) {
  if (zone == "UTC" || zone == "Etc/UTC") return 0;
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int h = (zone[1] - '0') * 10 + (zone[2] - '0');
    const int m = (zone[4] - '0') * 10 + (zone[5] - '0');
    const std::int64_t s = h * 3600 + m * 60;
    return zone[0] == '-' ? -s : s;
  }
  return 8 * 3600;
}

// The scheduler's clock (injectable in tests) in unix milliseconds.
inline std::int64_t now_ms(const Scheduler& scheduler) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(scheduler.now().time_since_epoch()).count();
}

// "2026-11-29 08:00" (or "… 08:00:00" with seconds) in village time.
inline std::string local_time(std::int64_t ms, std::int64_t offset_s, bool with_seconds = false) {
  using namespace std::chrono;
  const sys_seconds t{seconds{ms / 1000 + offset_s}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()));
  std::string out = buf;
  if (with_seconds) {
    std::snprintf(buf, sizeof buf, ":%02d", static_cast<int>(hms.seconds().count()));
    out += buf;
  }
  return out;
}

// A time given by a person or a client: unix milliseconds, RFC 3339 ("2026-11-29T08:00:00+08:00",
// "…Z"), or "YYYY-MM-DD HH:MM[:SS]" in village time. nullopt when it is none of these.
inline std::optional<std::int64_t> parse_time(const std::string& text, std::int64_t utc_offset_s) {
  if (!text.empty() && text.size() <= 15 && text.find_first_not_of("0123456789") == std::string::npos)
    return std::stoll(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used) != 6) return std::nullopt;
  if (sep != 'T' && sep != ' ') return std::nullopt;
  std::size_t at = static_cast<std::size_t>(used);
  if (at < text.size() && text[at] == ':') {
    int more = 0;
    if (std::sscanf(text.c_str() + at, ":%2d%n", &s, &more) != 1) return std::nullopt;
    at += static_cast<std::size_t>(more);
    while (at < text.size() && (text[at] == '.' || (text[at] >= '0' && text[at] <= '9'))) ++at;  // fractions
  }
  std::int64_t offset = utc_offset_s;
  if (at < text.size()) {
    if (text[at] == 'Z' && at + 1 == text.size()) {
      offset = 0;
    } else if ((text[at] == '+' || text[at] == '-') && text.size() == at + 6 && text[at + 3] == ':') {
      int oh = 0, om = 0;
      if (std::sscanf(text.c_str() + at + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
      offset = (oh * 3600 + om * 60) * (text[at] == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} - seconds{offset};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// A plugin's refusal of a request: a code (not_found, conflict, forbidden, out_of_scope,
// invalid …) and a message written "中文 / English".
class Refusal : public std::runtime_error {
 public:
  Refusal(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  [[nodiscard]] const std::string& code() const { return code_; }
  // The Chinese or the English half of the message (the whole when it has one language).
  [[nodiscard]] std::string in(Lang lang) const {
    const std::string both = what();
    const auto slash = both.find(" / ");
    if (slash == std::string::npos) return both;
    return lang == Lang::en ? both.substr(slash + 3) : both.substr(0, slash);
  }

 private:
  std::string code_;
};

// The API's answer to a refusal: 404, 409, 403 or 422 by its code.
inline HttpResponse refused(const Refusal& e) {
  const std::string& c = e.code();
  const int status = c == "not_found"                          ? 404
                     : c == "conflict"                         ? 409
                     : c == "forbidden" || c == "out_of_scope" ? 403
                                                               : 422;
  return HttpResponse::error(status, c, e.what());
}

// A decimal id of at most 15 digits, or nullopt.
inline std::optional<std::int64_t> decimal_id(std::string_view v) {
  if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::stoll(std::string(v));
}

// The path parameter {name} as an id.
inline std::optional<std::int64_t> id_of(const HttpRequest& req, std::string_view name = "id") {
  return decimal_id(req.path_param(name));
}

// A non-negative integer query parameter clamped to [lo, hi]; fallback when absent or malformed.
inline std::int64_t int_param(const HttpRequest& req, std::string_view name, std::int64_t fallback, std::int64_t lo,
                              std::int64_t hi) {
  const std::string v = req.query_param(name);
  if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos) return fallback;
  return std::clamp<std::int64_t>(std::stoll(v), lo, hi);
}

// A CSV cell: quoted when needed; a leading = + - @ is written with ' (Excel's formula guard,
// the same as the core's people export).
inline std::string csv_cell(const std::string& v) {
  std::string s = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') ? "'" + v : v;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace villagebot::plugin_support

#include "delivery/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace villagebot::delivery {

namespace {

using namespace std::chrono;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
  const char* name;
  int lo, hi;
  const std::string_view* names;  // nullptr or names for lo..
  std::size_t name_count;
};

int value_of(std::string_view token, const Field& f) {
  const std::string t = lower(token);
  for (std::size_t i = 0; i < f.name_count; ++i)
    if (t == f.names[i]) return f.lo + static_cast<int>(i);
  int v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size() || token.empty())
    throw std::invalid_argument(std::string("cron ") + f.name + ": '" + std::string(token) + "' is not a number");
  return v;
}

template <std::size_t N>
bool parse_field(std::string_view text, const Field& f, std::bitset<N>& bits) {
  bits.reset();
  const bool any = text == "*" || text == "?";
  for (std::string_view item : split(text, ',')) {
    int step = 1;
    if (const std::size_t slash = item.find('/'); slash != std::string_view::npos) {
      step = value_of(item.substr(slash + 1), Field{f.name, 1, f.hi, nullptr, 0});
      if (step < 1) throw std::invalid_argument(std::string("cron ") + f.name + ": the step must be at least 1");
      item = item.substr(0, slash);
    }
    int lo = f.lo, hi = f.hi;
    if (item != "*" && item != "?") {
      if (const std::size_t dash = item.find('-'); dash != std::string_view::npos) {
        lo = value_of(item.substr(0, dash), f);
        hi = value_of(item.substr(dash + 1), f);
      } else {
        lo = hi = value_of(item, f);
        if (step > 1) hi = f.hi;  // "5/15" = from 5 every 15
      }
    }
    if (lo < f.lo || hi > f.hi || lo > hi)
      throw std::invalid_argument(std::string("cron ") + f.name + ": '" + std::string(item) + "' is outside " +
                                  std::to_string(f.lo) + "-" + std::to_string(f.hi));
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return any;
}

}  // namespace

CronSpec CronSpec::parse(std::string_view expression) {
  std::string e(expression);
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front()))) e.erase(0, 1);
  const std::string l = lower(e);
  std::string fields_text = e;
  if (l == "@hourly")
    fields_text = "0 * * * *";
  else if (l == "@daily" || l == "@midnight")
    fields_text = "0 0 * * *";
  else if (l == "@weekly")
    fields_text = "0 0 * * 0";
  else if (l == "@monthly")
    fields_text = "0 0 1 * *";
  else if (l == "@yearly" || l == "@annually")
    fields_text = "0 0 1 1 *";
  std::vector<std::string_view> fields;
  std::string_view rest = fields_text;
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = rest.find_first_of(" \t");
    fields.push_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (fields.size() != 5)
    throw std::invalid_argument("a cron expression has five fields (minute hour day month weekday): '" + e + "'");
  CronSpec c;
  c.text_ = e;
  parse_field(fields[0], Field{"minute", 0, 59, nullptr, 0}, c.minutes_);
  parse_field(fields[1], Field{"hour", 0, 23, nullptr, 0}, c.hours_);
  c.days_any_ = parse_field(fields[2], Field{"day of month", 1, 31, nullptr, 0}, c.days_);
  parse_field(fields[3], Field{"month", 1, 12, kMonths.data(), kMonths.size()}, c.months_);
  std::bitset<8> weekdays;
  c.weekdays_any_ = parse_field(fields[4], Field{"day of week", 0, 7, kWeekdays.data(), kWeekdays.size()}, weekdays);
  for (std::size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
  if (weekdays[7]) c.weekdays_[0] = true;
  return c;
}

CronSpec::Clock::time_point CronSpec::next_after(Clock::time_point after, seconds utc_offset) const {
  // Work in local time as if it were UTC, then shift back.
  const auto local = floor<minutes>(after + utc_offset) + minutes(1);
  sys_days day = floor<days>(local);
  auto minute_of_day = duration_cast<minutes>(local - day).count();
  for (int i = 0; i < 366 * 5; ++i, day += days(1), minute_of_day = 0) {
    const year_month_day ymd(day);
    if (!months_[static_cast<unsigned>(ymd.month())]) continue;
    const bool dom = days_[static_cast<unsigned>(ymd.day())];
    const bool dow = weekdays_[weekday(day).c_encoding()];
    const bool day_ok = days_any_ && weekdays_any_ ? true : days_any_ ? dow : weekdays_any_ ? dom : (dom || dow);
    if (!day_ok) continue;
    for (auto m = minute_of_day; m < 24 * 60; ++m) {
      if (!hours_[static_cast<std::size_t>(m / 60)]) {
        m = (m / 60) * 60 + 59;  // skip the rest of this hour
        continue;
      }
      if (minutes_[static_cast<std::size_t>(m % 60)])
        return Clock::time_point(duration_cast<Clock::duration>(day.time_since_epoch() + minutes(m) - utc_offset));
    }
  }
  return Clock::time_point::max();
}

seconds parse_utc_offset(std::string_view zone) {
  const std::string z = lower(zone);
  if (z.empty() || z == "utc" || z == "z" || z == "gmt") return seconds(0);
  // Every zone of the People's Republic keeps Beijing time (UTC+8), no DST.
  for (std::string_view cn : {"asia/shanghai", "asia/chongqing", "asia/harbin", "asia/urumqi", "asia/kashgar", "prc",
                              "asia/hong_kong", "asia/macau", "asia/taipei", "beijing"})
    if (z == cn) return hours(8);
  if ((z[0] == '+' || z[0] == '-') && (z.size() == 6 && z[3] == ':')) {
    int h = 0, m = 0;
    auto r1 = std::from_chars(z.data() + 1, z.data() + 3, h);
    auto r2 = std::from_chars(z.data() + 4, z.data() + 6, m);
    if (r1.ec == std::errc() && r2.ec == std::errc() && h <= 14 && m < 60) {
      const seconds off = hours(h) + minutes(m);
      return z[0] == '-' ? -off : off;
    }
  }
  throw std::invalid_argument("time zone '" + std::string(zone) +
                              "': use an offset like +08:00, UTC, or Asia/Shanghai");
}

DailyWindow DailyWindow::parse(std::string_view text) {
  DailyWindow w;
  if (text.empty()) return w;
  auto hhmm = [&](std::string_view t) {
    int h = -1, m = -1;
    const std::size_t colon = t.find(':');
    if (colon != std::string_view::npos) {
      auto r1 = std::from_chars(t.data(), t.data() + colon, h);
      auto r2 = std::from_chars(t.data() + colon + 1, t.data() + t.size(), m);
      if (r1.ec != std::errc() || r1.ptr != t.data() + colon || r2.ec != std::errc() || r2.ptr != t.data() + t.size())
        h = -1;
    }
    if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
      throw std::invalid_argument("'" + std::string(text) + "': use HH:MM-HH:MM, e.g. 21:30-07:00");
    return h * 60 + m;
  };
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) throw std::invalid_argument("'" + std::string(text) + "': use HH:MM-HH:MM");
  w.start_min_ = hhmm(text.substr(0, dash)) % (24 * 60);
  w.end_min_ = hhmm(text.substr(dash + 1)) % (24 * 60);
  return w;
}

bool DailyWindow::contains(Clock::time_point t, seconds utc_offset) const {
  if (empty()) return false;
  const auto local = floor<minutes>(t + utc_offset);
  const auto m = (local - floor<days>(local)).count();
  return start_min_ < end_min_ ? (m >= start_min_ && m < end_min_) : (m >= start_min_ || m < end_min_);
}

DailyWindow::Clock::time_point DailyWindow::end_of(Clock::time_point t, seconds utc_offset) const {
  if (!contains(t, utc_offset)) return t;
  const auto local = t + utc_offset;
  auto day = floor<days>(local);
  const auto m = duration_cast<minutes>(local - day).count();
  if (start_min_ > end_min_ && m >= start_min_) day += days(1);  // the window ends tomorrow
  return Clock::time_point(duration_cast<Clock::duration>(day.time_since_epoch() + minutes(end_min_) - utc_offset));
}

}  // namespace villagebot::delivery

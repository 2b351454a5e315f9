// iCalendar feeds (RFC 5545) of a person's shifts and of a post's, for phone calendars: one
// VEVENT per shift with a stable UID, UTC times, TEXT escaping and 75-octet line folding that
// never splits a UTF-8 character. A cancelled shift stays in the feed as STATUS:CANCELLED so that
// a subscribed calendar removes it.
#include <chrono>
#include <cstdio>

#include "shifts.hpp"

namespace villagebot::volunteers {

namespace {

// Feeds hold the shifts of the last 90 days and all ahead: a calendar keeps what it saw before.
constexpr std::int64_t kFeedPastMs = 90LL * 24 * 3600 * 1000;

std::string ics_time(std::int64_t ms) {
  using namespace std::chrono;
  const sys_seconds t{seconds{ms / 1000}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

// RFC 5545 3.3.11 TEXT: backslash, semicolon, comma and newline escaped; other controls dropped.
std::string ics_text(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) continue;
    if (c == '\\' || c == ';' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

// RFC 5545 3.1: lines of at most 75 octets, folded with CRLF and a space, never inside a
// UTF-8 character.
std::string fold(const std::string& line) {
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < line.size();) {
    std::size_t len = 1;
    const auto c = static_cast<unsigned char>(line[i]);
    if (c >= 0xF0)
      len = 4;
    else if (c >= 0xE0)
      len = 3;
    else if (c >= 0xC0)
      len = 2;
    if (col + len > 75) {
      out += "\r\n ";
      col = 1;
    }
    out.append(line, i, len);
    col += len;
    i += len;
  }
  return out + "\r\n";
}

std::string calendar(const std::string& name, const std::vector<Shift>& shifts, std::int64_t now_ms) {
  std::string out = fold("BEGIN:VCALENDAR") + fold("VERSION:2.0") + fold("PRODID:-//villagebot//volunteers//ZH") +
                    fold("CALSCALE:GREGORIAN") + fold("METHOD:PUBLISH") + fold("X-WR-CALNAME:" + ics_text(name));
  for (const auto& s : shifts) {
    out += fold("BEGIN:VEVENT") + fold("UID:shift-" + std::to_string(s.id) + "@villagebot") +
           fold("DTSTAMP:" + ics_time(now_ms)) + fold("DTSTART:" + ics_time(s.start_ms)) +
           fold("DTEND:" + ics_time(s.end_ms)) + fold("SUMMARY:" + ics_text(s.post_name + "值班")) +
           (s.place.empty() ? std::string() : fold("LOCATION:" + ics_text(s.place))) +
           fold("DESCRIPTION:" + ics_text("第 " + std::to_string(s.id) + " 号班次，" + std::to_string(s.signed_up) +
                                          "/" + std::to_string(s.capacity) + " 人。签到：发送「签到」")) +
           fold(std::string("STATUS:") + (s.cancelled_at_ms > 0 ? "CANCELLED" : "CONFIRMED")) + fold("END:VEVENT");
  }
  return out + fold("END:VCALENDAR");
}

}  // namespace

std::string Shifts::ics_of_person(std::int64_t person_id) {
  const auto mine = select(
      "JOIN vol_signups g ON g.shift_id = s.id WHERE g.person_id = ? AND g.status IN ('signed', 'completed') AND "
      "s.end_ms > ? ORDER BY s.start_ms LIMIT 1000",
      {person_id, now_ms() - kFeedPastMs});
  const auto p = directory_.person(person_id);
  return calendar((p ? p->name : std::string("志愿者")) + "的值班", mine, now_ms());
}

std::string Shifts::ics_of_post(const std::string& code) {
  const auto p = post(code);
  const auto list = shifts_between(now_ms() - kFeedPastMs, INT64_MAX, code);
  return calendar(p ? p->name : code, list, now_ms());
}

}  // namespace villagebot::volunteers

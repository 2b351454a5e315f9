#pragma once
// Small helpers every plugin needs, header-only so that plugins (which never link each other)
// share one copy of the source: the village's UTC offset and the CSV cell of every export.
#include <cstdint>
#include <string>

namespace villagebot::plugin_support {

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

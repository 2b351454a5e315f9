#pragma once
#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

// Cron expressions for recurring jobs, evaluated in the village's time zone
// (a fixed UTC offset: China keeps no daylight saving time).
namespace villagebot::delivery {

class CronSpec {
 public:
  using Clock = std::chrono::system_clock;
  // Five fields, minute hour day-of-month month day-of-week, each `*`, a value,
  // a range `a-b`, a list `a,b`, a step `*/n` or `a-b/n`; months and weekdays
  // also by English name (jan, mon); day-of-week 0 and 7 are Sunday. Also
  // @hourly @daily @weekly @monthly @yearly. Throws std::invalid_argument
  // naming the bad field.
  static CronSpec parse(std::string_view expression);

  // The first time strictly after `after` that matches, in local time
  // UTC+utc_offset. As in Vixie cron, when both day fields are restricted a
  // day matching either one matches. Clock::time_point::max() if none within
  // five years (e.g. "0 0 31 2 *").
  [[nodiscard]] Clock::time_point next_after(Clock::time_point after, std::chrono::seconds utc_offset) const;

  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_any_ = true;
  bool weekdays_any_ = true;
};

// "+08:00", "-05:30", "UTC", "Asia/Shanghai" (and the other zones of China,
// all UTC+8 by law) → the offset. Throws std::invalid_argument.
std::chrono::seconds parse_utc_offset(std::string_view zone);

// A daily window in local time, e.g. quiet hours "21:30-07:00" (may wrap past
// midnight). An empty window ("") never contains anything.
class DailyWindow {
 public:
  using Clock = std::chrono::system_clock;
  DailyWindow() = default;
  // "HH:MM-HH:MM"; throws std::invalid_argument.
  static DailyWindow parse(std::string_view text);
  [[nodiscard]] bool empty() const { return start_min_ == end_min_; }
  [[nodiscard]] bool contains(Clock::time_point t, std::chrono::seconds utc_offset) const;
  // The end of the window that contains t (t itself when it is outside).
  [[nodiscard]] Clock::time_point end_of(Clock::time_point t, std::chrono::seconds utc_offset) const;

 private:
  int start_min_ = 0, end_min_ = 0;  // minutes after local midnight
};

}  // namespace villagebot::delivery

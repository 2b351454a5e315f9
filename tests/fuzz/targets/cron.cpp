// Fuzz target: cron expressions, UTC offsets and daily windows ([delivery] quiet_hours, plugins'
// schedules), which come from the config file. A bad text throws std::invalid_argument, nothing else;
// a parsed expression's next time is after the start, matches again from itself, and never loops.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "delivery/cron.hpp"

using villagebot::delivery::CronSpec;
using villagebot::delivery::DailyWindow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto start = CronSpec::Clock::time_point{} + std::chrono::hours(24 * 365 * 56);  // 2026
  try {
    const CronSpec spec = CronSpec::parse(text);
    const auto next = spec.next_after(start, std::chrono::hours(8));
    if (next <= start) std::abort();  // strictly after
    if (next != CronSpec::Clock::time_point::max()) {
      const auto again = spec.next_after(next, std::chrono::hours(8));
      if (again <= next) std::abort();
    }
  } catch (const std::invalid_argument&) {
  }
  try {
    (void)villagebot::delivery::parse_utc_offset(text);
  } catch (const std::invalid_argument&) {
  }
  try {
    const DailyWindow window = DailyWindow::parse(text);
    const auto end = window.end_of(start, std::chrono::hours(8));
    if (end < start) std::abort();
    if (!window.empty() && window.contains(start, std::chrono::hours(8)) && end == start) std::abort();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

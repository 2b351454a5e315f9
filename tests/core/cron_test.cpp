#include "delivery/cron.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace villagebot::delivery {
namespace {

using namespace std::chrono;
using Clock = system_clock;

constexpr seconds kBeijing = hours(8);

// Beijing local time → time_point.
Clock::time_point bj(int y, unsigned mo, unsigned d, int h, int mi) {
  return Clock::time_point(sys_days(year(y) / month(mo) / day(d)).time_since_epoch() + hours(h) + minutes(mi) -
                           kBeijing);
}

std::string show(Clock::time_point t) {
  const auto local = floor<minutes>(t + kBeijing);
  const auto dd = floor<days>(local);
  const year_month_day ymd(dd);
  const auto m = (local - dd).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(m / 60),
                static_cast<int>(m % 60));
  return buf;
}

std::string next(const char* expr, Clock::time_point after) {
  return show(CronSpec::parse(expr).next_after(after, kBeijing));
}

TEST(Cron, EveryDayAtAFixedLocalTime) {
  EXPECT_EQ(next("0 8 * * *", bj(2026, 11, 29, 7, 59)), "2026-11-29 08:00");
  EXPECT_EQ(next("0 8 * * *", bj(2026, 11, 29, 8, 0)), "2026-11-30 08:00") << "strictly after";
  EXPECT_EQ(next("30 21 * * *", bj(2026, 12, 31, 22, 0)), "2027-01-01 21:30") << "across the year";
}

TEST(Cron, ListsRangesStepsAndNames) {
  EXPECT_EQ(next("*/15 * * * *", bj(2026, 11, 29, 10, 7)), "2026-11-29 10:15");
  EXPECT_EQ(next("0 9-17/4 * * *", bj(2026, 11, 29, 9, 30)), "2026-11-29 13:00");
  EXPECT_EQ(next("0 7 * * mon-fri", bj(2026, 11, 28, 12, 0)), "2026-11-30 07:00") << "Saturday → Monday";
  EXPECT_EQ(next("0 7 * * 0", bj(2026, 11, 28, 12, 0)), "2026-11-29 07:00") << "0 is Sunday";
  EXPECT_EQ(next("0 7 * * 7", bj(2026, 11, 28, 12, 0)), "2026-11-29 07:00") << "so is 7";
  EXPECT_EQ(next("0 0 1 jan,jul *", bj(2026, 11, 29, 0, 0)), "2027-01-01 00:00");
  EXPECT_EQ(next("5,35 * * * *", bj(2026, 11, 29, 10, 6)), "2026-11-29 10:35");
}

TEST(Cron, BothDayFieldsRestrictedMeansEither) {
  // The 1st of the month or any Friday (Vixie cron).
  EXPECT_EQ(next("0 12 1 * fri", bj(2026, 11, 29, 13, 0)), "2026-12-01 12:00");
  EXPECT_EQ(next("0 12 1 * fri", bj(2026, 12, 2, 13, 0)), "2026-12-04 12:00");
}

TEST(Cron, ShortcutsAndImpossibleDates) {
  EXPECT_EQ(next("@daily", bj(2026, 11, 29, 13, 0)), "2026-11-30 00:00");
  EXPECT_EQ(next("@monthly", bj(2026, 11, 29, 13, 0)), "2026-12-01 00:00");
  EXPECT_EQ(next("0 0 29 2 *", bj(2026, 3, 1, 0, 0)), "2028-02-29 00:00") << "the next leap day";
  EXPECT_EQ(CronSpec::parse("0 0 31 2 *").next_after(bj(2026, 1, 1, 0, 0), kBeijing), Clock::time_point::max());
}

TEST(Cron, BadExpressionsNameTheField) {
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
                          "*/0 * * * *", "a * * * *", "5-1 * * * *", "* * * * * *"}) {
    EXPECT_THROW(CronSpec::parse(bad), std::invalid_argument) << bad;
  }
  try {
    CronSpec::parse("0 25 * * *");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("hour"), std::string::npos) << e.what();
  }
}

TEST(UtcOffset, NamesAndOffsets) {
  EXPECT_EQ(parse_utc_offset("Asia/Shanghai"), hours(8));
  EXPECT_EQ(parse_utc_offset("+08:00"), hours(8));
  EXPECT_EQ(parse_utc_offset("-05:30"), -(hours(5) + minutes(30)));
  EXPECT_EQ(parse_utc_offset("UTC"), seconds(0));
  EXPECT_THROW(parse_utc_offset("Mars/Olympus"), std::invalid_argument);
  EXPECT_THROW(parse_utc_offset("+8"), std::invalid_argument);
}

TEST(DailyWindow, QuietHoursWrapPastMidnight) {
  const auto quiet = DailyWindow::parse("21:30-07:00");
  EXPECT_FALSE(quiet.contains(bj(2026, 11, 29, 21, 29), kBeijing));
  EXPECT_TRUE(quiet.contains(bj(2026, 11, 29, 21, 30), kBeijing));
  EXPECT_TRUE(quiet.contains(bj(2026, 11, 30, 3, 0), kBeijing));
  EXPECT_FALSE(quiet.contains(bj(2026, 11, 30, 7, 0), kBeijing));
  EXPECT_EQ(show(quiet.end_of(bj(2026, 11, 29, 23, 0), kBeijing)), "2026-11-30 07:00");
  EXPECT_EQ(show(quiet.end_of(bj(2026, 11, 30, 1, 0), kBeijing)), "2026-11-30 07:00");
  EXPECT_EQ(show(quiet.end_of(bj(2026, 11, 30, 12, 0), kBeijing)), "2026-11-30 12:00") << "outside: unchanged";
  const auto lunch = DailyWindow::parse("12:00-14:00");
  EXPECT_TRUE(lunch.contains(bj(2026, 11, 30, 13, 0), kBeijing));
  EXPECT_FALSE(lunch.contains(bj(2026, 11, 30, 14, 0), kBeijing));
  EXPECT_TRUE(DailyWindow::parse("").empty());
  EXPECT_FALSE(DailyWindow::parse("").contains(bj(2026, 11, 30, 13, 0), kBeijing));
  for (const char* bad : {"21:30", "25:00-07:00", "21:60-07:00", "9-7", "21:30-07:00x"})
    EXPECT_THROW(DailyWindow::parse(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace villagebot::delivery

#include "pipeline/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace villagebot::pipeline {
namespace {

using namespace std::chrono_literals;
using Verdict = RateLimiter::Verdict;

const char* name(Verdict v) {
  switch (v) {
    case Verdict::allow:
      return "allow";
    case Verdict::warn:
      return "warn";
    case Verdict::silent:
      return "silent";
  }
  return "?";
}

class RateLimiterTest : public ::testing::Test {
 protected:
  // Fixed, far from the clock's epoch: the tests never depend on the real time.
  RateLimiter::Clock::time_point t0 = RateLimiter::Clock::time_point{} + 24h;
};

TEST_F(RateLimiterTest, AllowsNThenWarnsOnceThenStaysSilent) {
  RateLimiter limiter(3, 60s);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(name(limiter.check("+8613800000001", t0 + std::chrono::seconds(i))), std::string("allow")) << i;
  EXPECT_STREQ(name(limiter.check("+8613800000001", t0 + 3s)), "warn");
  EXPECT_STREQ(name(limiter.check("+8613800000001", t0 + 4s)), "silent");
  EXPECT_STREQ(name(limiter.check("+8613800000001", t0 + 5s)), "silent");
}

TEST_F(RateLimiterTest, RefillAfterTheWindowAllowsAgainAndResetsTheWarning) {
  RateLimiter limiter(3, 60s);
  const std::string sender = "+8613800000001";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limiter.check(sender, t0), Verdict::allow);
  ASSERT_EQ(limiter.check(sender, t0), Verdict::warn);
  ASSERT_EQ(limiter.check(sender, t0 + 1s), Verdict::silent);

  const auto later = t0 + 61s;  // a full window later the bucket is full again
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.check(sender, later), Verdict::allow) << i;
  EXPECT_EQ(limiter.check(sender, later), Verdict::warn) << "a new burst gets a new warning";
  EXPECT_EQ(limiter.check(sender, later), Verdict::silent);
}

TEST_F(RateLimiterTest, TokensComeBackGradually) {
  RateLimiter limiter(3, 60s);  // one message per 20 s
  const std::string sender = "+8613800000002";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limiter.check(sender, t0), Verdict::allow);
  ASSERT_EQ(limiter.check(sender, t0), Verdict::warn);
  EXPECT_EQ(limiter.check(sender, t0 + 10s), Verdict::silent);  // half a token
  EXPECT_EQ(limiter.check(sender, t0 + 21s), Verdict::allow);   // one token back
  EXPECT_EQ(limiter.check(sender, t0 + 22s), Verdict::warn);    // warned again after an allowed message
}

TEST_F(RateLimiterTest, SendersAreIndependent) {
  RateLimiter limiter(2, 60s);
  ASSERT_EQ(limiter.check("a", t0), Verdict::allow);
  ASSERT_EQ(limiter.check("a", t0), Verdict::allow);
  ASSERT_EQ(limiter.check("a", t0), Verdict::warn);
  EXPECT_EQ(limiter.check("b", t0), Verdict::allow);
  EXPECT_EQ(limiter.check("b", t0), Verdict::allow);
  EXPECT_EQ(limiter.check("b", t0), Verdict::warn);
  EXPECT_EQ(limiter.check("a", t0), Verdict::silent);
}

TEST_F(RateLimiterTest, PruningIdleSendersKeepsLimitsForActiveOnes) {
  RateLimiter limiter(2, 60s);  // one message per 30 s
  ASSERT_EQ(limiter.check("other", t0), Verdict::allow);
  ASSERT_EQ(limiter.check("busy", t0 + 30s), Verdict::allow);
  ASSERT_EQ(limiter.check("busy", t0 + 30s), Verdict::allow);
  ASSERT_EQ(limiter.check("busy", t0 + 30s), Verdict::warn);
  // A window after the first check the limiter drops full buckets; "busy" has
  // only refilled one token since and must keep its state.
  ASSERT_EQ(limiter.check("other", t0 + 61s), Verdict::allow);
  EXPECT_EQ(limiter.check("busy", t0 + 61s), Verdict::allow);
  EXPECT_EQ(limiter.check("busy", t0 + 61s), Verdict::warn);
}

TEST_F(RateLimiterTest, CapacityZeroDisablesLimiting) {
  RateLimiter limiter(0, 60s);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.check("+8613800000001", t0), Verdict::allow) << i;
}

TEST_F(RateLimiterTest, OneMessagePerWindow) {
  RateLimiter limiter(1, 1s);
  EXPECT_EQ(limiter.check("s", t0), Verdict::allow);
  EXPECT_EQ(limiter.check("s", t0 + 500ms), Verdict::warn);
  EXPECT_EQ(limiter.check("s", t0 + 1100ms), Verdict::allow);
}

}  // namespace
}  // namespace villagebot::pipeline

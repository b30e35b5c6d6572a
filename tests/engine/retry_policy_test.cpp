#include "engine/retry_policy.hpp"

#include <gtest/gtest.h>

namespace hookd::engine {
namespace {

AttemptResult failed(int status = 500) { return AttemptResult{false, status, std::nullopt}; }

TEST(RetryPolicy, DefaultScheduleIsExponentialWithJitterWithinBounds) {
  RetryPolicy policy({});
  // Middle of the jitter range: exactly the formula. 10 s, 30 s, 90 s, ... capped at 24 h.
  EXPECT_EQ(policy.next_delay_ms(1, failed(), 0.5), 10'000u);
  EXPECT_EQ(policy.next_delay_ms(2, failed(), 0.5), 30'000u);
  EXPECT_EQ(policy.next_delay_ms(3, failed(), 0.5), 90'000u);
  EXPECT_EQ(policy.next_delay_ms(9, failed(), 0.5), 65'610'000u);
  EXPECT_EQ(policy.next_delay_ms(1, failed(), 0.0), 8'000u);    // -20%
  EXPECT_EQ(policy.next_delay_ms(1, failed(), 0.9999999), 11'999u);  // just under +20%
  EXPECT_EQ(policy.next_delay_ms(10, failed(), 0.5), std::nullopt);  // 10 attempts in all
  std::uint64_t total = 0;
  for (std::uint32_t a = 1; a < 10; ++a) total += *policy.next_delay_ms(a, failed(), 0.5);
  EXPECT_GT(total, 20 * 3600 * 1000ull);  // the schedule spans about a day
  EXPECT_LT(total, 30 * 3600 * 1000ull);
}

TEST(RetryPolicy, CapAndExplicitSchedule) {
  RetryOptions capped;
  capped.max_delay_ms = 60'000;
  EXPECT_EQ(RetryPolicy(capped).next_delay_ms(8, failed(), 0.5), 60'000u);

  RetryOptions explicit_schedule;
  explicit_schedule.schedule_ms = {5, 10, 20};
  explicit_schedule.max_attempts = 6;
  RetryPolicy policy(explicit_schedule);
  EXPECT_EQ(policy.next_delay_ms(1, failed(), 0.0), 5u);   // no jitter on explicit waits
  EXPECT_EQ(policy.next_delay_ms(3, failed(), 0.9), 20u);
  EXPECT_EQ(policy.next_delay_ms(5, failed(), 0.9), 20u);  // the last repeats
  EXPECT_EQ(policy.next_delay_ms(6, failed(), 0.9), std::nullopt);
}

TEST(RetryPolicy, GoneEndsAndRetryAfterIsHonouredWithinTheCap) {
  RetryPolicy policy({});
  EXPECT_EQ(policy.next_delay_ms(1, failed(410), 0.5), std::nullopt);
  EXPECT_EQ(policy.next_delay_ms(1, AttemptResult{false, 429, 120'000}, 0.5), 120'000u);
  EXPECT_EQ(policy.next_delay_ms(1, AttemptResult{false, 503, 999'999'999}, 0.5), 86'400'000u);
  EXPECT_EQ(policy.next_delay_ms(1, AttemptResult{false, 500, 120'000}, 0.5), 10'000u);  // only on 429/503
  EXPECT_EQ(policy.next_delay_ms(1, AttemptResult{true, 200, std::nullopt}, 0.5), std::nullopt);
}

}  // namespace
}  // namespace hookd::engine

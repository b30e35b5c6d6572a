#include "engine/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace hookd::engine {
namespace {

TEST(TimerWheel, ItemsComeOutAtTheirTimeNeverBefore) {
  TimerWheel<int> wheel(1000, 10);
  wheel.insert(1000, 1);   // due now
  wheel.insert(1045, 2);   // between ticks: comes out at the next tick boundary
  wheel.insert(1640, 3);   // crosses into level 1
  std::vector<int> out;
  wheel.advance(1000, out);
  EXPECT_EQ(out, std::vector<int>{1});
  wheel.advance(1044, out);
  EXPECT_EQ(out, std::vector<int>{1});
  wheel.advance(1050, out);
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  wheel.advance(1639, out);
  EXPECT_EQ(out.size(), 2u);
  wheel.advance(1640, out);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, PastDueItemsComeOutOnTheNextAdvance) {
  TimerWheel<int> wheel(5000, 10);
  wheel.insert(10, 7);
  EXPECT_EQ(wheel.next_wakeup_ms(), 5000);
  std::vector<int> out;
  wheel.advance(5000, out);
  EXPECT_EQ(out, std::vector<int>{7});
  EXPECT_EQ(wheel.next_wakeup_ms(), std::nullopt);
}

// Random due times over every level and the overflow, expired in small and large steps: every
// item comes out exactly once, never early, and no later than the step that passed its tick.
TEST(TimerWheel, RandomScheduleAcrossAllLevelsAndOverflow) {
  std::mt19937_64 rng(42);
  const std::int64_t start = 1'000'000, tick = 10;
  TimerWheel<std::int64_t> wheel(start, tick);
  std::vector<std::int64_t> dues;
  std::uniform_int_distribution<std::int64_t> near(0, 700), mid(0, 50'000), far(0, 400'000'000);
  for (int i = 0; i < 3000; ++i) {
    std::int64_t due = start + (i % 3 == 0 ? near(rng) : i % 3 == 1 ? mid(rng) : far(rng));
    dues.push_back(due);
    wheel.insert(due, due);
  }
  std::vector<std::int64_t> out;
  std::int64_t now = start;
  std::size_t seen = 0;
  std::uniform_int_distribution<std::int64_t> step(1, 5'000'000);
  for (int round = 0; wheel.size() > 0; ++round) {
    now += (round % 2 == 0) ? 7 : step(rng);  // small and large steps in turn
    wheel.advance(now, out);
    for (; seen < out.size(); ++seen) EXPECT_LE(out[seen], now) << "early";
    // Nothing due by the last tick boundary may still be inside.
    std::int64_t boundary = now / tick * tick;
    std::size_t due_by_now = static_cast<std::size_t>(std::count_if(dues.begin(), dues.end(), [&](auto d) { return d <= boundary; }));
    ASSERT_EQ(out.size(), due_by_now) << "late at " << now;
  }
  std::sort(out.begin(), out.end());
  std::sort(dues.begin(), dues.end());
  EXPECT_EQ(out, dues);
}

TEST(TimerWheel, NextWakeupPointsAtTheFirstItem) {
  TimerWheel<int> wheel(0, 10);
  wheel.insert(245, 1);
  auto wake = wheel.next_wakeup_ms();
  ASSERT_TRUE(wake);
  EXPECT_EQ(*wake, 250);
  std::vector<int> out;
  wheel.advance(*wake, out);
  EXPECT_EQ(out, std::vector<int>{1});
}

}  // namespace
}  // namespace hookd::engine

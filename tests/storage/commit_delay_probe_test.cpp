#include "storage/commit_delay_probe.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace hookd::storage {
namespace {

using Clock = CommitDelayProbe::Clock;
using std::chrono::milliseconds;

// Takes a group every millisecond from `from` for `span`, of the size `synced` gives for whether
// the take before had the delay on (publishers that wait on their answers send less when it was).
// Returns the time after the last take.
Clock::time_point take_for(CommitDelayProbe& probe, Clock::time_point from, Clock::duration span,
                           const std::function<std::size_t(bool)>& synced) {
  bool delay_before = false;
  auto t = from;
  for (; t < from + span; t += milliseconds(1)) delay_before = probe.take(t, synced(delay_before));
  return t;
}

const auto kSteady = [](bool) -> std::size_t { return 10; };                 // a stream at its own pace
const auto kSlowedBy20Percent = [](bool delay) -> std::size_t { return delay ? 8 : 10; };

// The four trials, each 200 ms by default: without the delay, with, with, without.
constexpr auto kTrials = milliseconds(800);

TEST(CommitDelayProbe, TriesWithoutTheDelayThenWithItTwiceThenWithout) {
  CommitDelayProbe probe;
  Clock::time_point t0{};
  EXPECT_FALSE(probe.take(t0, 10));
  EXPECT_FALSE(probe.take(t0 + milliseconds(199), 10));
  EXPECT_TRUE(probe.take(t0 + milliseconds(200), 10));
  EXPECT_TRUE(probe.take(t0 + milliseconds(599), 10));
  EXPECT_FALSE(probe.take(t0 + milliseconds(600), 10));
  EXPECT_FALSE(probe.take(t0 + milliseconds(799), 10));
}

TEST(CommitDelayProbe, KeepsTheDelayForRequestsThatComeAsOftenWithIt) {
  CommitDelayProbe probe;
  auto t = take_for(probe, Clock::time_point{}, kTrials, kSteady);
  EXPECT_TRUE(probe.take(t, 10));  // the verdict
  EXPECT_TRUE(probe.kept());
  // It holds for 20 s: every take has the delay on.
  int without = 0;
  take_for(probe, t + milliseconds(1), std::chrono::seconds(19), [&](bool delay) -> std::size_t {
    without += !delay;
    return 10;
  });
  EXPECT_EQ(without, 1);  // the first take's "before", which had none
}

TEST(CommitDelayProbe, SetsTheDelayAsideForPublishersItSlowsDown) {
  CommitDelayProbe probe;
  auto t = take_for(probe, Clock::time_point{}, kTrials, kSlowedBy20Percent);
  EXPECT_FALSE(probe.take(t, 10));
  EXPECT_FALSE(probe.kept());
  EXPECT_FALSE(probe.take(t + std::chrono::seconds(19), 10));  // held
  // 20 s on, it tries again, and keeps the delay if the publishers have changed.
  auto again = t + std::chrono::seconds(20);
  EXPECT_FALSE(probe.take(again, 10));
  EXPECT_TRUE(probe.take(again + milliseconds(200), 10));
  t = take_for(probe, again + milliseconds(1), kTrials, kSteady);
  EXPECT_TRUE(probe.take(t, 10));
  EXPECT_TRUE(probe.kept());
}

// Groups of 12 and more share their fsync well without the delay: it is not worth a loss of
// rate too small to measure.
TEST(CommitDelayProbe, SetsTheDelayAsideWhereGroupsAreLargeWithoutIt) {
  CommitDelayProbe probe;
  auto t = take_for(probe, Clock::time_point{}, kTrials, [](bool) -> std::size_t { return 12; });
  EXPECT_FALSE(probe.take(t, 12));
  CommitDelayProbe smaller;
  t = take_for(smaller, Clock::time_point{}, kTrials, [](bool) -> std::size_t { return 11; });
  EXPECT_TRUE(smaller.take(t, 11));
}

TEST(CommitDelayProbe, ToleratesASmallDifference) {
  auto slowed_by_4_percent = [](bool delay) -> std::size_t { return delay ? 96 : 100; };
  CommitDelayProbe::Options large_groups{.small_group = 1000};
  CommitDelayProbe probe(large_groups);
  auto t = take_for(probe, Clock::time_point{}, kTrials, slowed_by_4_percent);
  EXPECT_TRUE(probe.take(t, 10));
  large_groups.tolerance = 0.0;
  CommitDelayProbe strict(large_groups);
  t = take_for(strict, Clock::time_point{}, kTrials, slowed_by_4_percent);
  EXPECT_FALSE(strict.take(t, 10));
}

// Where in the four trials a take at `into` falls: whether it is counted, and on which side.
struct Place {
  bool counted;
  bool with_delay;
};
Place place(Clock::duration into) {
  return {into % milliseconds(200) >= milliseconds(50), into >= milliseconds(200) && into < milliseconds(600)};
}

// Groups held by the trial before, and publishers still adjusting, come in a trial's first 50 ms:
// they are not counted.
TEST(CommitDelayProbe, CountsNoGroupsInATrialsFirstMoments) {
  CommitDelayProbe probe;
  Clock::time_point t0{};
  auto t = t0;
  for (; t < t0 + kTrials; t += milliseconds(1)) {
    Place p = place(t - t0);
    // The trials with the delay get their requests in bursts, all in their first moments.
    probe.take(t, p.with_delay ? (p.counted ? 0 : 1000) : 10);
  }
  EXPECT_FALSE(probe.take(t, 10));
}

// Takes one synced request a millisecond, in the counted part of each trial without the delay
// until it has `without` there, and none in the trials with it: the verdict.
bool verdict_for(std::size_t without) {
  CommitDelayProbe probe;
  Clock::time_point t0{};
  auto t = t0;
  std::size_t given[2] = {0, 0};
  for (; t < t0 + kTrials; t += milliseconds(1)) {
    Place p = place(t - t0);
    std::size_t& in_trial = given[t - t0 >= milliseconds(600)];
    std::size_t synced = p.counted && !p.with_delay && in_trial < without ? 1 : 0;
    in_trial += synced;
    probe.take(t, synced);
  }
  EXPECT_EQ(given[0] + given[1], 2 * without);
  probe.take(t, 1);
  return probe.kept();
}

TEST(CommitDelayProbe, GivesNoVerdictOnTooFewRequests) {
  EXPECT_TRUE(verdict_for(49));   // under the 50 a trial needs: the delay stays as it was, on
  EXPECT_FALSE(verdict_for(50));  // enough, and none with the delay
}

// hookd's own writes at its start begin the trials; a publisher that comes seconds later is
// judged by trials of its own.
TEST(CommitDelayProbe, JudgesALoadThatComesAfterTheTrialsByTrialsOfItsOwn) {
  CommitDelayProbe probe;
  Clock::time_point t0{};
  probe.take(t0, 1);
  auto load = t0 + std::chrono::seconds(5);
  EXPECT_FALSE(probe.take(load, 10));  // too few to tell: the trials start again, without the delay
  EXPECT_TRUE(probe.kept());
  auto t = take_for(probe, load + milliseconds(1), kTrials, kSlowedBy20Percent);
  EXPECT_FALSE(probe.take(t, 10));
  EXPECT_FALSE(probe.kept());
}

// Publishers that start during the first trial make it look slow; the delay is judged against the
// trial without it after its own.
TEST(CommitDelayProbe, JudgesALoadThatStartsDuringTheTrialsByItsFullRate) {
  auto starting_at = [](Clock::duration start, const std::function<std::size_t(bool)>& synced) {
    CommitDelayProbe probe;
    Clock::time_point t0{};
    bool delay_before = false;
    auto t = t0;
    for (; t < t0 + kTrials; t += milliseconds(1))
      delay_before = probe.take(t, t - t0 < start ? 1 : synced(delay_before));
    return probe.take(t, 10);
  };
  EXPECT_TRUE(starting_at(milliseconds(120), kSteady));
  // Slowed down by the delay, they are told apart even so (the sums of the trials would not:
  // 2 x 0.8 against 1 + about 0.6).
  EXPECT_FALSE(starting_at(milliseconds(120), kSlowedBy20Percent));
}

// Publishers that stop during a trial with the delay make it look slow: the delay is set aside,
// to be tried again later.
TEST(CommitDelayProbe, SetsTheDelayAsideWhenTheLoadStopsDuringItsTrials) {
  CommitDelayProbe probe;
  Clock::time_point t0{};
  auto t = t0;
  for (; t < t0 + kTrials; t += milliseconds(1)) probe.take(t, t - t0 < milliseconds(500) ? 10 : 1);
  EXPECT_FALSE(probe.take(t, 1));
}

}  // namespace
}  // namespace hookd::storage

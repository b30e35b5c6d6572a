// Whether the group committer's commit delay (group_commit.hpp) is worth having on, found by
// trying it. The delay saves fsyncs and CPU under a stream of requests that comes at its own pace,
// and costs publishers that wait for each answer before they send again: their answers come later,
// so their requests come less often (bench/RESULTS.md, step 58: up to a fifth of their rate). Which
// kind of publisher is on the other side cannot be told from one connection's timing (a backend
// that publishes through a pool of connections looks like one that waits on its answers: step 67),
// but it shows in how many requests come in a while with the delay and without.
//
// So the committer takes its groups for four short trials, without the delay, with it, with it,
// without, and keeps the delay for the next while if as many synced requests came in each trial
// with it as in the busier trial without, give or take a tolerance, and the groups without it were
// small; otherwise it goes without for that while. Then it tries again. Comparing the slower trial
// with the delay against the faster one without errs towards setting it aside when the load
// changes during the trials (a publisher starting, or stopping), which costs only the fsyncs it
// would have saved. Where groups are large already, they share their fsync well without the
// delay, and a small loss of rate to it would buy little. Too few requests to tell (hookd's own
// writes at its start, a light load) leave the verdict as it was, and the trials start again: the
// first verdict then comes from the first load that can be measured. Before any, the delay is on:
// under a light load it acts on few groups, as few come with several requests.
//
// Not thread-safe: the committer's thread alone uses it. Times are passed in, for tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hookd::storage {

class CommitDelayProbe {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    Clock::duration trial = std::chrono::milliseconds(200);  // each of the four trials
    // The start of each trial is not counted: groups held by the trial before, and publishers
    // still settling into the change.
    Clock::duration settle = std::chrono::milliseconds(50);
    Clock::duration hold = std::chrono::seconds(20);  // how long a verdict holds before the next trials
    // The delay stays on if each of its trials counted at least (1 - tolerance) of the busier one
    // without: a steady stream's trials differ by a few percent (a publisher catching up at its start
    // by more), while those it slows down lost 15-25% where groups are small (8 connections, step 67).
    double tolerance = 0.10;
    std::uint64_t min_requests = 50;  // fewer counted in both trials without: too few to tell
    double small_group = 12;  // the delay is kept only if the groups without it averaged fewer synced requests
  };

  CommitDelayProbe() : CommitDelayProbe(Options{}) {}
  explicit CommitDelayProbe(Options options) : options_(options) {}

  // Called as the committer takes a group with `synced` (at least one) synced requests in it:
  // whether the delay is on for this take (this group makes the next one wait for as many).
  bool take(Clock::time_point now, std::size_t synced);

  // The verdict of the last trials: true while the delay is kept. True before any.
  bool kept() const { return kept_; }

 private:
  void start_trials(Clock::time_point now);

  static constexpr bool kTrialHasDelay[4] = {false, true, true, false};

  const Options options_;
  bool probing_ = false;
  bool started_ = false;
  Clock::time_point since_{};  // the first trial's start while probing, else the verdict's
  std::uint64_t counted_[4] = {};  // synced requests counted in each trial
  std::uint64_t groups_[4] = {};   // the groups they came in
  bool kept_ = true;
};

}  // namespace hookd::storage

#include "storage/commit_delay_probe.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

namespace hookd::storage {

void CommitDelayProbe::start_trials(Clock::time_point now) {
  probing_ = true;
  since_ = now;
  std::fill(std::begin(counted_), std::end(counted_), 0);
  std::fill(std::begin(groups_), std::end(groups_), 0);
}

bool CommitDelayProbe::take(Clock::time_point now, std::size_t synced) {
  if (!probing_ && (!started_ || now - since_ >= options_.hold)) {
    started_ = true;
    start_trials(now);
  }
  if (!probing_) return kept_;
  auto into = now - since_;
  auto trial = static_cast<std::size_t>(into / options_.trial);
  if (trial >= std::size(kTrialHasDelay)) {
    // Trials 0 and 3 were without the delay, 1 and 2 with it.
    auto without = std::max(counted_[0], counted_[3]);
    if (without < options_.min_requests) {  // too few to tell: the verdict stands, the trials start again
      start_trials(now);
      return kTrialHasDelay[0];
    }
    auto with = std::min(counted_[1], counted_[2]);
    auto group_without = static_cast<double>(counted_[0] + counted_[3]) / static_cast<double>(groups_[0] + groups_[3]);
    bool kept = static_cast<double>(with) >= (1.0 - options_.tolerance) * static_cast<double>(without) &&
                group_without < options_.small_group;
    if (kept != kept_)
      spdlog::info("group commit: the commit delay is {}: {} and {} synced requests came in its trials, {} and {} "
                   "without it, in groups of {:.1f}",
                   kept ? "on again" : "set aside", counted_[1], counted_[2], counted_[0], counted_[3], group_without);
    kept_ = kept;
    probing_ = false;
    since_ = now;
    return kept_;
  }
  if (into - static_cast<Clock::rep>(trial) * options_.trial >= options_.settle) {
    counted_[trial] += synced;
    ++groups_[trial];
  }
  return kTrialHasDelay[trial];
}

}  // namespace hookd::storage

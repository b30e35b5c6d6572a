#include "storage/commit_delay_probe.hpp"

#include <spdlog/spdlog.h>

#include <iterator>

namespace hookd::storage {

bool CommitDelayProbe::take(Clock::time_point now, std::size_t synced) {
  if (!probing_ && (!started_ || now - since_ >= options_.hold)) {
    started_ = probing_ = true;
    since_ = now;
    counted_[0] = counted_[1] = groups_without_ = 0;
  }
  if (!probing_) return kept_;
  auto into = now - since_;
  auto trial = static_cast<std::size_t>(into / options_.trial);
  if (trial >= std::size(kTrialHasDelay)) {
    auto without = static_cast<double>(counted_[0]);
    bool kept = counted_[0] < options_.min_requests ||
                (static_cast<double>(counted_[1]) >= (1.0 - options_.tolerance) * without &&
                 without < options_.small_group * static_cast<double>(groups_without_));
    if (kept != kept_)
      spdlog::info("group commit: the commit delay is {}: {} synced requests came in its trials, {} in {} groups without it",
                   kept ? "on again" : "set aside", counted_[1], counted_[0], groups_without_);
    kept_ = kept;
    probing_ = false;
    since_ = now;
    return kept_;
  }
  bool with_delay = kTrialHasDelay[trial];
  if (into - static_cast<Clock::rep>(trial) * options_.trial >= options_.settle) {
    counted_[with_delay] += synced;
    groups_without_ += !with_delay;
  }
  return with_delay;
}

}  // namespace hookd::storage

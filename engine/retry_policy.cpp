#include "engine/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace hookd::engine {

std::optional<std::uint64_t> RetryPolicy::next_delay_ms(std::uint32_t attempt, const AttemptResult& result,
                                                        double unit) const {
  if (result.success || result.status == 410 || attempt >= options_.max_attempts) return std::nullopt;

  // The receiver said when: honoured, but never past the longest wait.
  if ((result.status == 429 || result.status == 503) && result.retry_after_ms)
    return std::min(*result.retry_after_ms, options_.max_delay_ms);

  if (!options_.schedule_ms.empty()) {
    std::size_t i = std::min<std::size_t>(attempt - 1, options_.schedule_ms.size() - 1);
    return options_.schedule_ms[i];
  }
  double delay = static_cast<double>(options_.base_delay_ms) * std::pow(options_.factor, attempt - 1);
  delay = std::min(delay, static_cast<double>(options_.max_delay_ms));
  delay *= 1 + options_.jitter * (2 * unit - 1);
  return static_cast<std::uint64_t>(std::max(0.0, delay));
}

}  // namespace hookd::engine

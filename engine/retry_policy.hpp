// When to try a failed delivery again (SPEC §5). Pure: randomness and time are passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace hookd::engine {

struct RetryOptions {
  std::uint32_t max_attempts = 10;             // attempts in all, the first included
  std::uint64_t base_delay_ms = 10'000;        // wait after the first failure
  double factor = 3;                           // each further wait is this much longer
  std::uint64_t max_delay_ms = 86'400'000;     // no wait is longer
  std::vector<std::uint64_t> schedule_ms;      // explicit waits instead of the formula; the last repeats
  double jitter = 0.2;                         // formula waits vary by +-20%; explicit ones do not
};

// What the receiver made of an attempt, as far as retrying cares.
struct AttemptResult {
  bool success = false;                        // a 2xx in time
  int status = 0;                              // HTTP status, 0 if none arrived
  std::optional<std::uint64_t> retry_after_ms; // a Retry-After header, parsed
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options) : options_(std::move(options)) {}

  // After attempt number `attempt` (1-based) failed with `result`: the wait before the next one,
  // or nullopt when the delivery has failed for good (attempts used up, or 410 Gone).
  // `unit` is a uniform random number in [0, 1) for the jitter.
  std::optional<std::uint64_t> next_delay_ms(std::uint32_t attempt, const AttemptResult& result, double unit) const;

  std::uint32_t max_attempts() const { return options_.max_attempts; }

 private:
  RetryOptions options_;
};

}  // namespace hookd::engine

// Small measurement helpers of the load tool: clocks, percentiles, and facts about a process.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hookd::bench {

// Nanoseconds on the monotonic clock: comparable across the tool's threads.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The `p`-th percentile (0..100) of `values` in milliseconds; sorts `values`. 0 when empty.
inline double percentile_ms(std::vector<std::int64_t>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return static_cast<double>(values[std::min(index, values.size() - 1)]) / 1e6;
}

// One line of JSON with numbers written plainly (Boost.JSON writes 201.35 as 2.0135E2).
class JsonLine {
 public:
  JsonLine& add(const std::string& key, double value, int decimals = 2);
  JsonLine& add(const std::string& key, std::uint64_t value);
  JsonLine& add(const std::string& key, const std::string& value);
  JsonLine& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonLine& add(const std::string& key, bool value);
  std::string str() const { return "{" + body_ + "}"; }
  // The value added last under `key` (a number), for figures derived from others.
  double number(const std::string& key) const;

 private:
  JsonLine& raw(const std::string& key, const std::string& json);
  std::string body_;
  std::vector<std::pair<std::string, double>> numbers_;
};

// What /proc tells about a running process.
struct ProcessUsage {
  double cpu_seconds = 0;      // user + system
  std::uint64_t peak_rss_kib = 0;  // VmHWM
  std::uint64_t rss_kib = 0;       // VmRSS now
};
ProcessUsage process_usage(pid_t pid);

}  // namespace hookd::bench

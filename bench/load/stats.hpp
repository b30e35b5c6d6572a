// Small measurement helpers of the load tool: clocks, percentiles, and facts about a process.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
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
  // An object of numbers, in the map's order.
  JsonLine& add(const std::string& key, const std::map<std::string, double>& values, int decimals = 2);
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

// CPU seconds of a process's live threads, summed by thread name: hookd names its threads
// (hookd-commit, hookd-engine, ...) and RocksDB its own (rocksdb:high for flushes, rocksdb:low
// for compactions). A thread that has ended is no longer counted.
std::map<std::string, double> thread_cpu_seconds(pid_t pid);

// The whole machine's CPU time so far (/proc/stat), in clock ticks: all of it, the part no process
// used (idle, or idle waiting for I/O), and the part the hypervisor gave to other machines while
// this one had work (steal: a VM's noisy neighbours, the main reason rates swing here).
struct MachineTime {
  std::uint64_t total = 0;
  std::uint64_t idle = 0;
  std::uint64_t steal = 0;
};
MachineTime machine_time();
// Fractions of the machine's CPU time between two readings.
struct MachineShares {
  double busy = 0;   // used by processes and the kernel (interrupts included)
  double steal = 0;  // taken by the hypervisor
};
MachineShares machine_shares(const MachineTime& before, const MachineTime& after);

}  // namespace hookd::bench

#include "bench/load/stats.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace hookd::bench {

JsonLine& JsonLine::raw(const std::string& key, const std::string& json) {
  if (!body_.empty()) body_ += ',';
  body_ += boost::json::serialize(boost::json::string(key)) + ":" + json;
  return *this;
}

JsonLine& JsonLine::add(const std::string& key, double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  numbers_.emplace_back(key, value);
  return raw(key, std::isfinite(value) ? buf : "null");
}

JsonLine& JsonLine::add(const std::string& key, std::uint64_t value) {
  numbers_.emplace_back(key, static_cast<double>(value));
  return raw(key, std::to_string(value));
}

JsonLine& JsonLine::add(const std::string& key, const std::string& value) {
  return raw(key, boost::json::serialize(boost::json::string(value)));
}

JsonLine& JsonLine::add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }

JsonLine& JsonLine::add(const std::string& key, const std::map<std::string, double>& values, int decimals) {
  JsonLine object;
  for (const auto& [name, value] : values) object.add(name, value, decimals);
  return raw(key, object.str());
}

double JsonLine::number(const std::string& key) const {
  for (auto it = numbers_.rbegin(); it != numbers_.rend(); ++it)
    if (it->first == key) return it->second;
  return 0;
}

namespace {

// A /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line: the name in its parentheses and the
// CPU seconds (user + system) it reports.
struct StatLine {
  std::string name;
  double cpu_seconds = 0;
};

std::optional<StatLine> read_stat(const std::filesystem::path& path) {
  std::ifstream stat(path);
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The name may hold spaces and parentheses: it runs from the first '(' to the last ')'. utime
  // and stime are the 14th and 15th fields of the line, the 12th and 13th after the name.
  auto open = content.find('(');
  auto close = content.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  StatLine line{content.substr(open + 1, close - open - 1)};
  std::istringstream rest(content.substr(close + 1));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i == 12) utime = std::stoull(field);
    if (i == 13) stime = std::stoull(field);
  }
  line.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return line;
}

}  // namespace

ProcessUsage process_usage(pid_t pid) {
  ProcessUsage usage;
  std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string name;
    std::uint64_t kib = 0;
    fields >> name >> kib;
    if (name == "VmHWM:") usage.peak_rss_kib = kib;
    if (name == "VmRSS:") usage.rss_kib = kib;
  }
  if (auto stat = read_stat(base + "/stat")) usage.cpu_seconds = stat->cpu_seconds;
  return usage;
}

std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> by_name;
  std::error_code ec;  // a thread may end while the directory is listed
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    if (auto stat = read_stat(task.path() / "stat")) by_name[stat->name] += stat->cpu_seconds;
  return by_name;
}

MachineTime machine_time() {
  // The first line: "cpu  user nice system idle iowait irq softirq steal guest guest_nice".
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  MachineTime time;
  std::uint64_t ticks = 0;
  for (int i = 0; i < 8 && stat >> ticks; ++i) {  // guest time is already counted in user time
    time.total += ticks;
    if (i == 3 || i == 4) time.idle += ticks;
    if (i == 7) time.steal = ticks;
  }
  return time;
}

MachineShares machine_shares(const MachineTime& before, const MachineTime& after) {
  auto total = static_cast<double>(after.total - before.total);
  if (total == 0) return {};
  auto idle = static_cast<double>(after.idle - before.idle);
  auto steal = static_cast<double>(after.steal - before.steal);
  return {.busy = (total - idle - steal) / total, .steal = steal / total};
}

}  // namespace hookd::bench

#include "bench/load/stats.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
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

double JsonLine::number(const std::string& key) const {
  for (auto it = numbers_.rbegin(); it != numbers_.rend(); ++it)
    if (it->first == key) return it->second;
  return 0;
}

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
  std::ifstream stat(base + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (in parentheses, which may hold spaces): utime and stime are
  // the 14th and 15th fields of the line, the 12th and 13th after the name.
  auto close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(content.substr(close + 2));
    std::string field;
    std::uint64_t utime = 0, stime = 0;
    for (int i = 1; i <= 13 && rest >> field; ++i) {
      if (i == 12) utime = std::stoull(field);
      if (i == 13) stime = std::stoull(field);
    }
    usage.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return usage;
}

}  // namespace hookd::bench

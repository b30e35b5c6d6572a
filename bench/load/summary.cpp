// hookd_bench_summary: hookd_load's runs summed up. Reads the JSON lines that hookd_load printed
// (from the files named, or stdin) and prints one JSON line per scenario with the median of each
// of its figures over the runs, then one line per target of bench/README.md ("Targets") that the
// runs measure, checked against those medians. See bench/README.md.
//
// Single runs on the project's 2-core machine vary by +-20% from one minute to the next
// (RESULTS.md): a verdict on one run says little, on the median of three or more rounds, taken
// in turn, much more. Targets are goals, not assertions: the exit status is 0 whatever they say,
// 1 only if nothing could be read, 2 on a usage error.
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/stats.hpp"

namespace hookd::bench {
namespace {

namespace json = boost::json;

// The runs of each scenario, in the order the scenarios first appear.
struct Runs {
  std::vector<std::string> order;
  std::map<std::string, std::vector<json::object>> by_scenario;
};

void read_runs(std::istream& in, Runs& runs) {
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    // Anything else on the way (Google Benchmark's table, this tool's own lines) is skipped.
    if (ec || !v.is_object()) continue;
    const json::object& run = v.as_object();
    const json::string* scenario = run.contains("scenario") ? run.at("scenario").if_string() : nullptr;
    if (!scenario || run.contains("summary")) continue;
    std::string name(*scenario);
    auto& list = runs.by_scenario[name];
    if (list.empty()) runs.order.push_back(name);
    list.push_back(run);
  }
}

std::optional<double> number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  return std::nullopt;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The median of `field` over the runs that have it as a number.
std::optional<double> median_of(const std::vector<json::object>& runs, const std::string& field) {
  std::vector<double> values;
  for (const auto& run : runs)
    if (auto it = run.find(field); it != run.end())
      if (auto x = number(it->value())) values.push_back(*x);
  if (values.empty()) return std::nullopt;
  return median(values);
}

void add_figure(JsonLine& line, const std::string& key, double value) {
  if (value >= 0 && value == std::floor(value) && value < 1e15)
    line.add(key, static_cast<std::uint64_t>(value));
  else
    line.add(key, value, 3);
}

// One line per scenario: its runs' count, whether all were ok, and the median of every number
// at the top level of its runs, in the order of its first run.
void print_medians(const Runs& runs) {
  for (const auto& name : runs.order) {
    const auto& list = runs.by_scenario.at(name);
    JsonLine line;
    line.add("summary", name).add("runs", static_cast<std::uint64_t>(list.size()));
    bool ok = std::all_of(list.begin(), list.end(), [](const json::object& run) {
      auto it = run.find("ok");
      return it != run.end() && it->value().is_bool() && it->value().as_bool();
    });
    line.add("ok", ok);
    for (const auto& [key, value] : list.front()) {
      if (!number(value)) continue;
      if (auto m = median_of(list, std::string(key))) add_figure(line, std::string(key), *m);
    }
    std::cout << line.str() << '\n';
  }
}

// A target of the table, measured on one scenario's medians: `field`, or, with `of_scenario`,
// `field` over `of_share` of `of_field` in that other scenario (https against one; failing's healthy
// nine webhooks against the nine's share of fanout10).
struct Target {
  const char* what;
  const char* scenario;
  const char* field;
  bool at_least;  // else: below
  double goal;
  const char* of_scenario = nullptr;
  const char* of_field = nullptr;
  double of_share = 1;
};

const Target kTargets[] = {
    {"end-to-end, 1 webhook, HTTP: deliveries/s", "one", "delivery_rate", true, 25'000},
    {"end-to-end, 1 webhook, HTTP: fraction of the ceiling", "one", "ceiling_fraction", true, 0.30},
    {"end-to-end, 10 webhooks per event: deliveries/s", "fanout10", "delivery_rate", true, 40'000},
    {"end-to-end over HTTPS: fraction of the HTTP figure", "https", "delivery_rate", true, 0.60, "one",
     "delivery_rate"},
    {"ingress, single-event requests, 64 connections: events/s", "ingress", "ingress_events_per_s", true, 30'000},
    {"ingress, batches of 100: events/s", "ingress-batch", "ingress_events_per_s", true, 150'000},
    {"steady 10,000 events/s, cold: end-to-end p99 ms", "latency", "e2e_p99_ms", false, 20},
    {"steady 10,000 events/s, cold: ack p99 ms", "latency", "ack_p99_ms", false, 10},
    {"steady 10,000 events/s, warm: end-to-end p99 ms", "latency-steady", "e2e_p99_ms", false, 20},
    {"steady 10,000 events/s, warm: ack p99 ms", "latency-steady", "ack_p99_ms", false, 10},
    // Slowed by at most 10%: the nine healthy webhooks at 90% or more of what they get in fanout10.
    {"20% failing receiver: healthy webhooks against fanout10", "failing", "healthy_delivery_rate", true, 0.90,
     "fanout10", "delivery_rate", 0.9},
    {"1,000,000 scheduled retries: RSS MiB while they wait (300 MB)", "retries", "waiting_rss_mib", false,
     300e6 / (1 << 20)},
    {"1,000,000 scheduled retries: fraction of a core while they wait", "retries", "waiting_cpu_fraction", false,
     0.02},
};

// One line per target whose scenarios were run.
void print_targets(const Runs& runs) {
  for (const auto& t : kTargets) {
    auto it = runs.by_scenario.find(t.scenario);
    if (it == runs.by_scenario.end()) continue;
    std::optional<double> measured = median_of(it->second, t.field);
    std::size_t count = it->second.size();
    if (measured && t.of_scenario) {
      auto of = runs.by_scenario.find(t.of_scenario);
      if (of == runs.by_scenario.end()) continue;
      auto base = median_of(of->second, t.of_field);
      if (!base || *base <= 0) continue;
      measured = *measured / (*base * t.of_share);
      count = std::min(count, of->second.size());
    }
    if (!measured) continue;
    JsonLine line;
    line.add("target", t.what).add("scenario", t.scenario);
    add_figure(line, "measured", *measured);
    char goal[32];
    std::snprintf(goal, sizeof goal, "%s %g", t.at_least ? ">=" : "<", t.goal);
    line.add("goal", goal);
    line.add("met", t.at_least ? *measured >= t.goal : *measured < t.goal);
    line.add("runs", static_cast<std::uint64_t>(count));
    std::cout << line.str() << '\n';
  }
}

}  // namespace
}  // namespace hookd::bench

int main(int argc, char** argv) {
  using namespace hookd::bench;
  Runs runs;
  if (argc == 1) read_runs(std::cin, runs);
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      std::cerr << "hookd_bench_summary: cannot read " << argv[i] << " (usage: hookd_bench_summary [FILE...])\n";
      return 2;
    }
    read_runs(in, runs);
  }
  if (runs.order.empty()) {
    std::cerr << "hookd_bench_summary: no runs of hookd_load found\n";
    return 1;
  }
  print_medians(runs);
  print_targets(runs);
  return 0;
}

#include "engine/retention.hpp"

#include <vector>

namespace hookd::engine {

RetentionCounts remove_expired(storage::Store& store, Engine& engine, std::int64_t now_ms,
                               const RetentionOptions& options, const std::atomic<bool>& stop) {
  RetentionCounts counts;
  storage::ExpiryScan scan;
  scan.done = !options.keep_ms;
  std::int64_t cutoff_ms = now_ms - options.keep_ms.value_or(0);
  std::vector<storage::ExpiredEvent> step;
  std::size_t step_deliveries = 0;
  auto remove_step = [&] {
    auto removed = engine.remove_expired(std::move(step), cutoff_ms);
    counts.events += removed.events;
    counts.deliveries += removed.deliveries;
    step.clear();
    step_deliveries = 0;
  };
  while (!scan.done && !stop) {
    for (auto& e : store.expired_events(scan, cutoff_ms, options.events_per_scan)) {
      if (!step.empty() && step_deliveries + e.deliveries.size() > options.deliveries_per_step) remove_step();
      step_deliveries += e.deliveries.size();
      step.push_back(std::move(e));
    }
    if (!step.empty()) remove_step();
  }
  if (!stop) counts.idempotency_records = store.purge_idempotency(now_ms, options.idempotency_ttl_ms);
  return counts;
}

}  // namespace hookd::engine

#include "engine/retention.hpp"

namespace hookd::engine {

RetentionCounts remove_expired(storage::Store& store, Engine& engine, std::int64_t now_ms,
                               const RetentionOptions& options, const std::atomic<bool>& stop) {
  RetentionCounts counts;
  storage::ExpiryScan scan;
  scan.done = !options.keep_ms;
  std::int64_t cutoff_ms = now_ms - options.keep_ms.value_or(0);
  while (!scan.done && !stop) {
    auto expired = store.expired_events(scan, cutoff_ms, options.events_per_step);
    if (expired.empty()) continue;
    auto removed = engine.remove_expired(std::move(expired), cutoff_ms);
    counts.events += removed.events;
    counts.deliveries += removed.deliveries;
  }
  if (!stop) counts.idempotency_records = store.purge_idempotency(now_ms, options.idempotency_ttl_ms);
  return counts;
}

}  // namespace hookd::engine

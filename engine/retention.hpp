// Retention (SPEC §6): what hookd keeps, and for how long. An event is removed, with its
// deliveries and their attempts, once it was created `keep_ms` ago and each of its deliveries has
// been finished (succeeded, failed or canceled) for that long; an event still being delivered, or
// retried by hand, stays until then. Idempotency records are removed once they have expired.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "engine/engine.hpp"
#include "storage/store.hpp"

namespace hookd::engine {

struct RetentionOptions {
  std::optional<std::int64_t> keep_ms;  // retention.days; none: kept for good
  std::int64_t idempotency_ttl_ms = storage::kIdempotencyTtlMs;
  std::size_t events_per_scan = 64;  // looked for at a time (Store::expired_events)
  // Removed in one write: whole events with about this many deliveries. The engine's thread reads
  // each delivery again first, about 3.5 us each from the block cache, where the scan just left
  // them: short steps keep deliveries from waiting behind it.
  std::size_t deliveries_per_step = 256;
};

struct RetentionCounts {
  std::uint64_t events = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t idempotency_records = 0;
  bool operator==(const RetentionCounts&) const = default;
  RetentionCounts& operator+=(const RetentionCounts& more) {
    events += more.events;
    deliveries += more.deliveries;
    idempotency_records += more.idempotency_records;
    return *this;
  }
};

// One pass over the whole store at `now_ms`: reads on the calling thread (which may block), removes
// through the engine (Engine::remove_expired), in steps. Returns early, with what it removed so
// far, once `stop` is set. Throws storage::StoreError if a read fails.
RetentionCounts remove_expired(storage::Store& store, Engine& engine, std::int64_t now_ms,
                               const RetentionOptions& options, const std::atomic<bool>& stop);

}  // namespace hookd::engine

// The /metrics page: hookd's counters and gauges in the Prometheus text format (version 0.0.4).
#pragma once

#include <cstdint>
#include <string>

#include "engine/engine.hpp"
#include "engine/retention.hpp"
#include "storage/store.hpp"

namespace hookd {

struct MetricsSnapshot {
  std::uint64_t events_accepted = 0;
  std::uint64_t api_connections = 0;
  std::uint64_t api_requests_in_progress = 0;
  engine::Engine::Stats engine;
  storage::StoreStats store;
  bool commit_delay_kept = false;              // storage::GroupCommitter::commit_delay_kept()
  std::uint64_t retention_passes = 0;          // finished since start
  engine::RetentionCounts retention_removed;   // by them
};

std::string render_metrics(const MetricsSnapshot& m);

}  // namespace hookd

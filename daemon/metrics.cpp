#include "daemon/metrics.hpp"

#include <sstream>

namespace hookd {
namespace {

void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, std::uint64_t value) {
  family(out, name, type, help);
  out << name << ' ' << value << '\n';
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& m) {
  std::ostringstream out;
  const auto& e = m.engine;
  family(out, "hookd_build_info", "gauge", "hookd's version.");
  out << "hookd_build_info{version=\"" << HOOKD_VERSION << "\"} 1\n";
  metric(out, "hookd_events_accepted_total", "counter", "Events made durable and acknowledged.", m.events_accepted);

  family(out, "hookd_attempts_total", "counter", "Delivery attempts by outcome (success: a 2xx in time).");
  out << "hookd_attempts_total{outcome=\"success\"} " << e.attempts - e.attempts_failed << '\n'
      << "hookd_attempts_total{outcome=\"failure\"} " << e.attempts_failed << '\n';
  family(out, "hookd_deliveries_total", "counter", "Deliveries finished, by outcome.");
  out << "hookd_deliveries_total{outcome=\"succeeded\"} " << e.succeeded << '\n'
      << "hookd_deliveries_total{outcome=\"failed\"} " << e.failed << '\n'
      << "hookd_deliveries_total{outcome=\"canceled\"} " << e.canceled << '\n';
  metric(out, "hookd_retries_scheduled_total", "counter", "Failed attempts that scheduled another.", e.retried);
  metric(out, "hookd_delivery_connections_opened_total", "counter",
         "Connections opened to receivers (kept-alive ones are reused).", e.connections_opened);

  family(out, "hookd_attempt_duration_seconds", "histogram", "Time from sending an attempt to its outcome.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < engine::Engine::kLatencyBucketsMs.size(); ++i) {
    cumulative += e.latency_buckets[i];
    out << "hookd_attempt_duration_seconds_bucket{le=\"" << engine::Engine::kLatencyBucketsMs[i] / 1000.0 << "\"} "
        << cumulative << '\n';
  }
  cumulative += e.latency_buckets.back();
  out << "hookd_attempt_duration_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
      << "hookd_attempt_duration_seconds_sum " << e.latency_sum_ms / 1000.0 << '\n'
      << "hookd_attempt_duration_seconds_count " << cumulative << '\n';

  metric(out, "hookd_api_connections", "gauge", "Open connections to the API and ingress listeners.",
         m.api_connections);
  metric(out, "hookd_api_requests_in_progress", "gauge",
         "Requests on those connections from their first byte until their answer is written.",
         m.api_requests_in_progress);
  metric(out, "hookd_attempts_in_flight", "gauge", "Attempts waiting for their receiver now.", e.in_flight);
  metric(out, "hookd_queue_depth", "gauge", "Due deliveries held in memory, waiting for their time or a slot.",
         e.in_memory);
  metric(out, "hookd_scheduled_deliveries", "gauge",
         "Active deliveries in the durable due index (estimate): retries, and new ones beyond the engine's memory.",
         m.store.due_entries);
  metric(out, "hookd_rocksdb_live_sst_bytes", "gauge", "Size of the store's live SST files.", m.store.live_sst_bytes);
  metric(out, "hookd_rocksdb_memtable_bytes", "gauge", "Size of the store's memtables.", m.store.memtable_bytes);
  metric(out, "hookd_rocksdb_background_errors", "gauge", "Store write or compaction errors since start.",
         m.store.background_errors);
  metric(out, "hookd_rocksdb_syncs_total", "counter", "Fsyncs of the store's log since start.", m.store.syncs);
  metric(out, "hookd_commit_delay_active", "gauge",
         "1 while the store's commit delay (storage.commit_delay_us) is in use: set, and found by its last trials "
         "to cost the publishers no rate; else 0.",
         m.commit_delay_kept ? 1 : 0);
  metric(out, "hookd_engine_read_failures_total", "counter",
         "Store reads of the delivery engine that failed (an I/O error, a corrupt block); each is tried again.",
         e.read_failures);
  metric(out, "hookd_retention_passes_total", "counter", "Retention passes finished since start.", m.retention_passes);
  family(out, "hookd_retention_removed_total", "counter", "Records removed by retention since start, by kind.");
  out << "hookd_retention_removed_total{kind=\"events\"} " << m.retention_removed.events << '\n'
      << "hookd_retention_removed_total{kind=\"deliveries\"} " << m.retention_removed.deliveries << '\n'
      << "hookd_retention_removed_total{kind=\"idempotency_records\"} " << m.retention_removed.idempotency_records << '\n';
  return out.str();
}

}  // namespace hookd

// The load tool's publisher: N events to hookd's ingress with C requests in flight over at most C
// keep-alive connections, one event per request or in batches, as fast as possible or at a fixed
// rate, on one thread. A request that fails (503, connection lost) is sent again with the same
// event ids: ingress is idempotent by publisher id, so nothing is published twice.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hookd::bench {

struct PublishOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string key;
  std::string integration;
  std::size_t events = 10'000;
  std::size_t connections = 64;
  std::size_t batch = 1;         // events per request; 1 uses POST /v2/events/
  double rate = 0;               // events per second in all; 0: as fast as possible
  std::size_t body_bytes = 1024; // size of each event's data, which is the delivered body
  std::string run_id;            // prefix of the event ids, unique per run
  std::function<std::string(std::size_t)> type_of;  // event type of event n
};

struct PublishResult {
  std::uint64_t acknowledged = 0;
  std::uint64_t resent = 0;        // requests sent again after a failure
  std::uint64_t server_errors = 0; // answers 5xx other than 503 (no space): a request hookd failed
  double seconds = 0;              // from the first request to the last acknowledgement
  std::vector<std::int64_t> ack_latency_ns;  // per request
  std::vector<std::int64_t> ack_sent_ns;     // when each of those was sent, on now_ns()'s clock
  std::string error;               // set when events could not be published at all
};

// The event's data as the receiver expects it: {"n":N,"t":T,"pad":"..."}, `bytes` long.
std::string event_data(std::size_t n, std::int64_t t_ns, std::size_t bytes);

PublishResult publish(const PublishOptions& options);

// Writes `result`'s acknowledged requests to `path`, one line each in the order they were sent:
// the send time in nanoseconds since the Unix epoch (to set beside hookd's log and other traces)
// and the latency in nanoseconds, separated by a space. Throws std::runtime_error if it cannot.
void write_ack_log(const std::string& path, const PublishResult& result);

}  // namespace hookd::bench

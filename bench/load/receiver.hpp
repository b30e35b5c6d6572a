// The load tool's webhook receiver: HTTP or HTTPS on loopback, one thread. It checks every
// delivery's Gigapay-Signature with its webhook's secret, dedupes by Webhook-Id, and records when
// each delivery first arrived. It can fail a fraction of the requests to some webhooks and answer
// slowly.
//
// Webhook w is served at /hook/<w>. A delivery's body is an event's data, which the publisher makes
// as {"n":<event number>,"t":<publish time, ns on the monotonic clock>,"pad":"..."}.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/unordered/unordered_flat_set.hpp>

#include "api/http_server.hpp"
#include "signing/signature.hpp"
#include "tests/support/loopback_server.hpp"

namespace hookd::bench {

struct ReceiverOptions {
  std::optional<test::CertificateFiles> tls;  // HTTPS with these
  std::size_t failing_webhooks = 0;     // webhooks 0..failing_webhooks-1 fail ...
  double fail_rate = 0;                 // ... this fraction of their requests, with a 503
  std::chrono::milliseconds delay{0};   // every answer waits this long
};

// What arrived, summed up.
struct Tally {
  std::uint64_t requests = 0;         // every request, failed ones and repeats included
  std::uint64_t unique = 0;           // deliveries received at least once (and answered 2xx)
  std::uint64_t unique_healthy = 0;   // ... of them to webhooks that never fail
  std::uint64_t duplicates = 0;       // deliveries received again after a 2xx
  std::uint64_t bad_signatures = 0;
  std::uint64_t failed_on_purpose = 0;
  std::int64_t first_ns = 0;          // first and last unique arrival
  std::int64_t last_ns = 0;
  std::int64_t last_healthy_ns = 0;
};

class Receiver {
 public:
  explicit Receiver(ReceiverOptions options);
  ~Receiver();

  // base_url() + "/hook/" + w is webhook w's URL.
  std::string base_url() const;

  // Starts a round: the secrets of the webhooks by index, how many events there are, and how
  // many deliveries each event should get. Forgets the previous round.
  void expect(std::vector<std::string> secrets, std::vector<std::uint32_t> expected_per_event);

  // Fails no more requests from now on (for the scheduled-retries scenario).
  void heal();

  Tally tally() const;
  // Deliveries expected in this round and not received.
  std::uint64_t missing() const;
  // End-to-end latencies (publish to first arrival) of this round, ns. Moves them out.
  std::vector<std::int64_t> take_latencies();

 private:
  class Handler;
  struct Verdict {
    bool fail = false;
  };
  Verdict record(std::size_t webhook, std::string_view signature, std::string_view webhook_id, std::string_view body);

  ReceiverOptions options_;
  std::unique_ptr<Handler> handler_;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<signing::Hmac>> keys_;  // by webhook
  std::vector<std::uint32_t> expected_;               // by event
  std::vector<std::uint32_t> received_;               // by event
  std::uint64_t missing_ = 0;                         // expected deliveries not received yet
  boost::unordered_flat_set<std::string> seen_;       // Webhook-Id of deliveries answered 2xx
  std::vector<std::int64_t> latencies_;
  Tally tally_;
  bool healed_ = false;
  std::mt19937_64 random_{42};
  std::unique_ptr<test::LoopbackServer> server_;  // last: stopped first, before what its handler uses
};

}  // namespace hookd::bench

// The delivery engine: schedules deliveries from the due index and makes their attempts.
//
// The due index in RocksDB is the source of truth for what is attempted when. The engine keeps
// what falls due soon (within `horizon`) in a timer wheel, at most `memory_capacity` entries, and
// a cursor into the index: every entry at or before the cursor is in memory or done; later ones
// are loaded as time advances. So memory stays bounded however many retries wait, and a restart
// resumes every active delivery at its time (attempts in flight at a crash are made again:
// delivery is at-least-once, receivers dedupe by Webhook-Id).
//
// All scheduling state lives on the engine's own thread; the public functions post to it. Every
// change of a delivery after its creation (attempt results, cancellation, manual retry) happens
// there too, so they never race each other.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/delivery_client.hpp"
#include "engine/record_cache.hpp"
#include "engine/retry_policy.hpp"
#include "engine/timer_wheel.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

namespace hookd::engine {

struct EngineOptions {
  RetryOptions retry;
  ClientOptions client;
  std::size_t max_in_flight = 1024;             // attempts in flight in all
  std::size_t max_in_flight_per_webhook = 16;   // ... and to one webhook
  std::size_t memory_capacity = 100'000;        // due entries held in memory at most
  std::chrono::milliseconds horizon{60'000};    // how far ahead due entries are loaded
  std::function<std::int64_t()> now_ms;         // wall clock, ms since the Unix epoch (required)
  std::function<double()> random_unit;          // uniform in [0, 1), for jitter; default: a PRNG
};

class Engine {
 public:
  enum class RetryOutcome { Scheduled, NotFound, NotRetryable, Unavailable };

  // Upper bounds (ms) of the attempt latency histogram's buckets; one more bucket takes the rest.
  static constexpr std::array<std::uint32_t, 11> kLatencyBucketsMs = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

  struct Stats {
    std::uint64_t in_flight = 0;
    std::uint64_t in_memory = 0;   // due entries in the wheel and the ready queues
    std::uint64_t attempts = 0;
    std::uint64_t attempts_failed = 0;  // attempts without a 2xx
    std::uint64_t succeeded = 0;   // deliveries
    std::uint64_t failed = 0;      // deliveries failed for good
    std::uint64_t canceled = 0;    // deliveries canceled
    std::uint64_t retried = 0;     // attempts that scheduled another
    std::uint64_t connections_opened = 0;  // to receivers; pooled ones are reused
    std::array<std::uint64_t, kLatencyBucketsMs.size() + 1> latency_buckets{};  // per bucket, not cumulative
    std::uint64_t latency_sum_ms = 0;
    bool loaded = false;           // the due index has been read once since start
  };

  // Attempt records are written through `committer` (shared with ingress), so the engine's thread
  // never waits on a write; they are durable soon (storage::Durability::Soon) and share ingress's
  // syncs or, without ingress, one sync per the committer's sync delay.
  Engine(storage::Store& store, storage::GroupCommitter& committer, EngineOptions options);
  ~Engine();  // stops if running

  // Starts the engine's thread, which loads the due index and begins attempting.
  void start();
  // Stops scheduling new attempts, waits for those in flight (each bounded by the client's
  // timeout) and joins the thread. Deliveries not finished stay in the due index.
  void stop();

  // Thread-safe. New deliveries were committed (or their commit failed: created.durable). Must be
  // called before anything the engine submits to the committer afterwards is applied, i.e. from
  // the commit's own callback: then a durable record is current unless the engine already knows
  // the delivery (a scan of the due index found it first), and its first attempt reads nothing.
  void deliveries_created(storage::CreatedDeliveries created);
  // Thread-safe. A webhook was deleted: its active deliveries are canceled.
  void webhook_deleted(std::string integration_id, std::uint64_t webhook_seq);
  // Thread-safe; blocks until done. Schedules a failed or active delivery of the integration now.
  RetryOutcome retry_now(const std::string& integration_id, const std::string& delivery_id);

  Stats stats() const;

 private:
  void pump();
  void refill(std::int64_t now);
  // Queues `key` unless it is queued already or left to the index; true if it was queued.
  bool schedule(const storage::DueKey& key, std::int64_t now);
  // Puts a key that is to be queued where it belongs: ready if due at `now`, else in the wheel.
  void enqueue(const storage::DueKey& key, std::int64_t now);
  void start_attempt(const storage::DueKey& key);
  // `event` is the delivery's event if at hand; else it is read (through the record cache).
  net::awaitable<void> attempt(storage::Delivery delivery, std::shared_ptr<const storage::Event> event,
                               RecordKey webhook);
  // One attempt and its record; the due key of the next attempt if the delivery is still active.
  net::awaitable<std::optional<storage::DueKey>> make_attempt(storage::Delivery delivery,
                                                              std::shared_ptr<const storage::Event> event);
  void finish(const RecordKey& webhook, const std::string& delivery_id);
  void arm_timer(std::int64_t now);
  // Makes pump() run at `at` (ms, the engine's clock) or earlier.
  void wake_at(std::int64_t now, std::int64_t at);
  // Every change of deliveries goes through the group committer, which applies batches in the
  // order they were submitted. Until a batch is applied, the changed records are kept in pending_
  // and load() returns them, so the engine always sees its own writes. Before the engine's first
  // write of a new delivery, load() returns the record ingress handed over (fresh_).
  std::optional<storage::Delivery> load(const std::string& delivery_id) const;
  // The engine's writes go into one batch per round of its event loop: the batch is submitted
  // once the handlers queued when it was started have run, so a round of attempt results costs
  // one hand-off to the committer and one callback instead of one per attempt. A caller writes
  // into it and then calls submit(), with nothing that may throw (a store read) in between.
  storage::Batch& outgoing_batch();
  // Records that what was just written into outgoing_batch() stores `changed`; `done` runs on the
  // engine's thread once the batch is applied.
  void submit(std::vector<storage::Delivery> changed, std::function<void(bool ok)> done = {});
  void flush_outgoing();
  void settle(const std::vector<std::string>& ids, const storage::WriteStatus& status);
  std::int64_t now() const { return options_.now_ms(); }

  storage::Store& store_;
  storage::GroupCommitter& committer_;
  EngineOptions options_;
  RetryPolicy policy_;
  RecordCache records_;
  net::io_context io_{1};
  DeliveryClient client_;
  net::steady_timer timer_;
  std::optional<std::int64_t> timer_armed_at_;  // when the pending wait of timer_ ends, if one is pending
  std::thread thread_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_idle_sweep_{};

  TimerWheel<storage::DueKey> wheel_;
  storage::DueKey cursor_;                                  // index entries <= this are loaded or done
  // The maps keyed by delivery id hold every queued delivery (up to memory_capacity) and are used
  // a dozen times per attempt: open addressing (Boost's flat maps) instead of a node per entry
  // saves a cache miss on most lookups. Their references do not survive an insert.
  boost::unordered_flat_set<std::string> scheduled_;        // ids queued: in the wheel, ready or waiting
  // Deliveries with an attempt in flight, and whether something changed them meanwhile (a manual
  // retry, a cancellation): only then must the attempt re-read the record before writing its own.
  boost::unordered_flat_map<std::string, bool> in_flight_ids_;
  void mark_changed_if_in_flight(const std::string& delivery_id);
  std::deque<storage::DueKey> ready_;
  // Per webhook: the entries over its cap, and its attempts in flight.
  std::unordered_map<RecordKey, std::deque<storage::DueKey>, RecordKeyHash, RecordKeyEqual> waiting_;
  std::unordered_map<RecordKey, std::size_t, RecordKeyHash, RecordKeyEqual> in_flight_per_webhook_;
  std::size_t waiting_count_ = 0;
  struct Pending {
    storage::Delivery record;  // as the last submitted write leaves it
    std::size_t writes = 0;    // submitted and not yet applied
  };
  boost::unordered_flat_map<std::string, Pending> pending_;
  struct Outgoing {
    storage::Batch batch;
    std::vector<std::string> ids;                   // of the deliveries it changes, once per change
    std::vector<std::function<void(bool ok)>> done;
  };
  std::optional<Outgoing> outgoing_;  // this round's writes, until submitted
  // Records handed over by ingress, with their events, for deliveries queued and not yet written
  // by the engine. Bounded by what is queued: an entry goes when the delivery is written or found
  // stale. (Not the record cache: a backlog larger than the cache would evict exactly the events
  // needed next.) Held by pointer: the map's size swings with every burst, and an open-addressing
  // table then rehashes often at the same size (its guard against longer probes), moving every
  // entry: a whole record each, with its strings (5% of the engine's thread in `one`).
  struct Fresh {
    storage::Delivery record;
    std::shared_ptr<const storage::Event> event;
  };
  boost::unordered_flat_map<std::string, std::unique_ptr<Fresh>> fresh_;
  std::size_t in_flight_ = 0;

  std::atomic<std::uint64_t> stat_in_flight_{0}, stat_in_memory_{0}, stat_attempts_{0}, stat_attempts_failed_{0},
      stat_succeeded_{0}, stat_failed_{0}, stat_canceled_{0}, stat_retried_{0}, stat_latency_sum_ms_{0};
  std::array<std::atomic<std::uint64_t>, kLatencyBucketsMs.size() + 1> stat_latency_{};
  std::atomic<bool> loaded_{false};
};

// The wait a Retry-After header asks for: delta seconds, or an HTTP date relative to `now_ms`.
std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::int64_t now_ms);

}  // namespace hookd::engine

// The delivery engine: schedules deliveries from the due index and makes their attempts.
//
// The due index in RocksDB is the source of truth for what is attempted when. The engine keeps
// what falls due soon (within `horizon`) in a timer wheel, at most `memory_capacity` entries, and
// a cursor into the index: every entry at or before the cursor is in memory or done; later ones
// are loaded as time advances. So memory stays bounded however many retries wait, and a restart
// resumes every active delivery at its time (attempts in flight at a crash are made again:
// delivery is at-least-once, receivers dedupe by Webhook-Id).
//
// A store read that fails (an I/O error, a corrupt block) holds up only the delivery it was for,
// which is tried again after `read_retry`; the engine runs on.
//
// All scheduling state lives on the engine's own thread; the public functions post to it. Every
// change of a delivery after its creation (attempt results, cancellation, manual retry) happens
// there too, so they never race each other.
//
// engine.cpp has the thread and the public operations; engine_scheduling.cpp what is queued and
// started when; engine_attempt.cpp an attempt and its result; engine_writes.cpp the writes.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
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
  // After a store read failed (an I/O error, a corrupt block): when the entry or the scan of the
  // due index is tried again (an entry that fails again waits twice as long, up to 64 times
  // this). The due entry stays in the store meanwhile.
  std::chrono::milliseconds read_retry{1'000};
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
    std::uint64_t tracked = 0;     // deliveries queued, in flight or with writes not yet applied
    std::uint64_t attempts = 0;
    std::uint64_t attempts_failed = 0;  // attempts without a 2xx
    std::uint64_t succeeded = 0;   // deliveries
    std::uint64_t failed = 0;      // deliveries failed for good
    std::uint64_t canceled = 0;    // deliveries canceled
    std::uint64_t retried = 0;     // attempts that scheduled another
    std::uint64_t connections_opened = 0;  // to receivers; pooled ones are reused
    std::uint64_t read_failures = 0;  // store reads that failed (each tried again: see read_retry)
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
  // Deliveries written without due entries (created.fresh) are the engine's to index: it gives
  // each its due entry with its first write, or at once if it has no room for it, and removes
  // their fresh entry once all of those writes are applied. What is left of it at a stop or a
  // crash, the store's next open indexes.
  void deliveries_created(storage::CreatedDeliveries created);
  // Thread-safe. A webhook was deleted: its active deliveries are canceled.
  void webhook_deleted(std::string integration_id, std::uint64_t webhook_seq);
  // Thread-safe; blocks until done. Schedules a failed or active delivery of the integration now.
  RetryOutcome retry_now(const std::string& integration_id, const std::string& delivery_id);

  // Thread-safe; blocks until done. Retention: removes the events of `expired` (as
  // Store::expired_events found them) with their deliveries and attempts, but not an event of
  // which a delivery is the engine's now (queued, in flight, or written and not yet applied) or
  // has changed since it was found (a manual retry made it active, or it finished at or after
  // `cutoff_ms`). The check and the removal happen on the engine's thread, where every change of a
  // delivery is made, so none can slip between them.
  struct Removed {
    std::size_t events = 0;
    std::size_t deliveries = 0;
  };
  Removed remove_expired(std::vector<storage::ExpiredEvent> expired, std::int64_t cutoff_ms);

  Stats stats() const;

 private:
  void pump();
  void refill(std::int64_t now);
  // Queues `key` unless it is queued already or left to the index; true if it was queued.
  bool schedule(const storage::DueKey& key, std::int64_t now);
  // Puts a key that is to be queued where it belongs: ready if due at `now`, else in the wheel.
  void enqueue(const storage::DueKey& key, std::int64_t now);
  // Starts attempts while there is room in flight: first of the webhooks that had a slot freed,
  // then of the ready keys.
  void start_ready();
  // Takes the waiting entries of `webhook` until one is started or waits again, or none is left;
  // false if it stopped before that because no attempt may start now (it is to be called again).
  bool start_waiting(const RecordKey& webhook);
  // The records of `ids` in the store, in their order, read in one lookup. If that fails, each
  // is read alone, so that an unreadable record (an I/O error, a corrupt block) holds up only its
  // own delivery: its entry in `failed` is set.
  std::vector<std::optional<storage::Delivery>> read_records(std::span<const std::string> ids,
                                                             std::vector<bool>& failed);
  // The record of an entry could not be read: the entry waits in the wheel, read_retry and twice
  // as long after each further failure in a row, and is tried again. Nothing else about the
  // delivery changes; its due entry stays in the store.
  void defer(storage::DueKey key, std::int64_t now);
  // Whether an attempt of this delivery may start without reading its record: it is in flight, or
  // its record is held in memory.
  bool holds_record(const std::string& delivery_id) const;
  enum class Start { Started, Waits, Dropped };
  // `read`: the store's record of the delivery, read by the caller unless holds_record(). Dropped:
  // the entry was stale (its delivery changed since it was queued) or its delivery is in flight.
  Start start_attempt(const storage::DueKey& key, std::optional<storage::Delivery> read);
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
  // order they were submitted. Until a batch is applied, the changed records are kept in tracked_
  // and load() returns them, so the engine always sees its own writes. Before the engine's first
  // write of a new delivery, load() returns the record ingress handed over.
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
  std::int64_t scan_retry_at_ = 0;                          // after a failed scan of the index: not before
  std::deque<storage::DueKey> ready_;
  // Per webhook: the entries over its cap, and its attempts in flight.
  std::unordered_map<RecordKey, std::deque<storage::DueKey>, RecordKeyHash, RecordKeyEqual> waiting_;
  std::unordered_map<RecordKey, std::size_t, RecordKeyHash, RecordKeyEqual> in_flight_per_webhook_;
  std::size_t waiting_count_ = 0;
  // Webhooks with waiting entries whose attempt ended, in that order: each has a slot to fill.
  std::deque<RecordKey> freed_;

  // What the engine knows of one delivery beyond the store, from when it is queued (or written)
  // until it is neither queued nor in flight and its writes are applied. One entry per delivery,
  // looked up a few times per attempt.
  struct Tracked {
    bool queued = false;     // in the wheel, ready or waiting (an entry may also be left there stale)
    bool in_flight = false;  // an attempt is being made
    // Something changed it while its attempt was in flight (a manual retry, a cancellation): only
    // then must the attempt re-read the record before writing its own.
    bool changed_in_flight = false;
    std::uint8_t failed_reads = 0;  // store reads that failed in a row, at most 6 (see defer())
    std::uint32_t unapplied_writes = 0;  // submitted to the committer and not yet applied
    // Handed over with created.fresh and not written by the engine yet: the delivery has no due
    // entry, its fresh entry (in fresh_) lists it instead. Cleared by the engine's first write.
    std::pair<const std::uint64_t, std::uint32_t>* fresh = nullptr;
    // While writes are unapplied: the delivery as the last of them leaves it. Before the engine's
    // first write: the delivery ingress handed over, with its event, so that a first attempt reads
    // nothing back (not left to the record cache: a backlog larger than the cache would evict
    // exactly the events needed next). Else none: the store has it. Held by pointer so that an
    // entry stays small: most entries of a long backlog of retries hold none.
    struct Record {
      storage::Delivery delivery;
      std::shared_ptr<const storage::Event> event;  // while handed over
    };
    std::unique_ptr<Record> record;

    bool idle() const { return !queued && !in_flight && unapplied_writes == 0 && !record && !fresh; }
    void handed_over(storage::Delivery delivery, std::shared_ptr<const storage::Event> event) {
      record = std::make_unique<Record>(Record{std::move(delivery), std::move(event)});
    }
    void written(storage::Delivery delivery) {
      if (!record) record = std::make_unique<Record>();
      record->delivery = std::move(delivery);
      record->event.reset();
      ++unapplied_writes;
    }
    void applied() {
      if (--unapplied_writes == 0) record.reset();  // the store has it now
    }
    // Forgets a delivery ingress handed over (not one of the engine's unapplied writes).
    void drop_handed_over() {
      if (unapplied_writes == 0) record.reset();
    }
  };
  // Hashes the whole id eight bytes at a time (std::hash); boost::hash of a string combines it
  // four bytes at a time, and this map is used at every step of every attempt.
  struct IdHash {
    std::size_t operator()(const std::string& id) const noexcept { return std::hash<std::string>()(id); }
  };
  // Open addressing (Boost's flat map) instead of a node per entry saves a cache miss on most
  // lookups. References into it do not survive an insert.
  boost::unordered_flat_map<std::string, Tracked, IdHash> tracked_;
  Tracked& track(const std::string& delivery_id);
  Tracked* find_tracked(const std::string& delivery_id);
  void forget_if_idle(const std::string& delivery_id);
  void mark_changed_if_in_flight(const std::string& delivery_id);
  // Queues `key` for `t` unless it is queued already or left to the index; true if it was queued.
  bool schedule(Tracked& t, const storage::DueKey& key, std::int64_t now);

  // Fresh entries (see Tracked::fresh) by key, the seq of the first delivery each lists: how many
  // of those deliveries are fresh still or have writes not yet applied. Node-based: Tracked and
  // Outgoing point at entries.
  std::unordered_map<std::uint64_t, std::uint32_t> fresh_;
  using FreshEntry = decltype(fresh_)::value_type;
  // Writes a change of a delivery, stored until now as `before`, into outgoing_batch(); if the
  // delivery is fresh (see Tracked::fresh), counts it off its fresh entry once applied.
  void put_delivery(const storage::Delivery& delivery, const storage::Delivery& before);
  // Gives a fresh delivery that stays unchanged for now its due entry (the engine has no room for
  // it), and counts it off once applied.
  void index_fresh(Tracked& tracked, const storage::DueKey& key);
  // A write that counted off fresh deliveries was applied (`ok`) or failed: in the second case
  // their entry stays until the store's next open, which indexes what the engine could not.
  void count_off_fresh(const std::vector<FreshEntry*>& entries, bool ok);
  // Writes the removal of `entry` and forgets it: none of the deliveries it lists is fresh now.
  void remove_fresh(FreshEntry& entry);

  struct Outgoing {
    storage::Batch batch;
    std::vector<std::string> ids;                   // of the deliveries it changes, once per change
    std::vector<std::function<void(bool ok)>> done;
    std::vector<FreshEntry*> fresh;                 // an entry per fresh delivery it writes
    // The earliest due entry it gives a fresh delivery that the engine had no room for: the
    // cursor goes back before it once it is applied, so that a scan finds it.
    std::optional<std::int64_t> indexed_from;
  };
  std::optional<Outgoing> outgoing_;  // this round's writes, until submitted
  // Deliveries whose removal by retention is not applied yet: a manual retry does not find them.
  std::unordered_set<std::string> removing_;
  std::size_t in_flight_ = 0;

  std::atomic<std::uint64_t> stat_in_flight_{0}, stat_in_memory_{0}, stat_tracked_{0}, stat_attempts_{0}, stat_attempts_failed_{0},
      stat_succeeded_{0}, stat_failed_{0}, stat_canceled_{0}, stat_retried_{0}, stat_latency_sum_ms_{0},
      stat_read_failures_{0};
  std::array<std::atomic<std::uint64_t>, kLatencyBucketsMs.size() + 1> stat_latency_{};
  std::atomic<bool> loaded_{false};
};

// The wait a Retry-After header asks for: delta seconds, or an HTTP date relative to `now_ms`.
std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::int64_t now_ms);

}  // namespace hookd::engine

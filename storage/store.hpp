// hookd's durable store: integrations, API keys, webhooks, events, deliveries with their attempts,
// and idempotency records, in RocksDB.
//
// Deliveries live in three places written together: the record, an index per webhook and per
// event (for listing), and, while the delivery is active, the due index: keys ordered by due time,
// the source of truth for what is attempted when. (New deliveries handed straight to the engine
// wait in a fresh entry instead until it first writes them: see NewDue.)
//
// Contract:
// - Thread-safe: every method may be called from any thread at once.
// - Reads return std::nullopt for "not found"; they throw StoreError only when the store itself
//   fails (I/O error, corruption), which callers treat as a server error, or, under
//   MemoryOnlyReads, with Kind::WouldBlock where they would have to read a file.
// - Writes go through a Batch: everything in one Batch is applied atomically and is on disk
//   (fsynced) when write() returns Ok. A failed write changes nothing.
// - Time is passed in by callers (milliseconds since the Unix epoch); the store never reads a clock.
// - Only one process may open a data directory; a second open fails with StoreError::Kind::Busy.
//
// The key layout is described in storage/store_internal.hpp, next to the code that builds the keys.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace rocksdb {
class DB;
class Status;
class Env;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace hookd::storage {

struct StoreError : std::runtime_error {
  // WouldBlock: a read under MemoryOnlyReads needed a file (see there).
  enum class Kind { Io, NoSpace, Corruption, Busy, WouldBlock };
  StoreError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
  Kind kind;
};

// The outcome of a write. Ok, or why nothing was written.
class [[nodiscard]] WriteStatus {
 public:
  static WriteStatus ok() { return WriteStatus(); }
  static WriteStatus failed(StoreError::Kind kind, std::string message) {
    WriteStatus s;
    s.kind_ = kind;
    s.message_ = std::move(message);
    return s;
  }
  bool is_ok() const { return !kind_; }
  // Only meaningful when !is_ok().
  StoreError::Kind kind() const { return *kind_; }
  const std::string& message() const { return message_; }

 private:
  std::optional<StoreError::Kind> kind_;
  std::string message_;
};

// A position in the due index: entries are ordered by due time, then delivery id.
struct DueKey {
  std::int64_t due_ms = 0;
  std::string delivery_id;
  auto operator<=>(const DueKey&) const = default;

  // The position just before every entry due at `due_ms` (delivery ids are printable, so "\x7f"
  // sorts after each of them at due_ms - 1).
  static DueKey before(std::int64_t due_ms) { return DueKey{due_ms - 1, "\x7f"}; }
};

// Where new deliveries wait until the engine first writes them (Batch::put_new_deliveries).
// Indexed: a due entry each, as every active delivery has. Fresh: one "fresh" entry lists them
// all instead, for deliveries handed to the engine as their batch commits, which it removes once
// it has written each of them (their first result, a cancellation or a manual retry gives each
// its due entry if it stays active). Two writes per batch instead of two per delivery; what a
// crash leaves of them the store's next open turns back into due entries.
enum class NewDue { Indexed, Fresh };

// New deliveries as the commit of their batch wrote them, with their events: what ingress hands
// the delivery engine right after the commit, so that a first attempt reads nothing back. When the
// commit failed (`durable` false), the batch may or may not be stored: only the due keys count.
struct CreatedDeliveries {
  std::vector<Delivery> deliveries;
  std::vector<std::shared_ptr<const Event>> events;
  bool durable = false;
  // Written with NewDue::Fresh: listed in one fresh entry, keyed by the first one's seq, and not
  // in the due index.
  bool fresh = false;
};

// An event that retention may remove, with all its deliveries (Store::expired_events).
struct ExpiredEvent {
  Event event;
  std::vector<Delivery> deliveries;
};

// How far a scan for expired events has come. A new one starts at the beginning.
struct ExpiryScan {
  std::string after;  // the position: the last key looked at
  bool done = false;  // every event has been looked at
};

// What the store reports about itself, for metrics. Estimates where RocksDB keeps estimates.
struct StoreStats {
  std::uint64_t due_entries = 0;        // active deliveries waiting in the due index (estimate)
  std::uint64_t live_sst_bytes = 0;
  std::uint64_t memtable_bytes = 0;
  std::uint64_t background_errors = 0;  // write or compaction errors since open
  std::uint64_t syncs = 0;              // fsyncs of the log since open: synced writes and sync()
};

template <typename T>
struct Page {
  std::uint64_t total = 0;  // items in the whole list, not just this page
  std::vector<T> items;
};

class Store;

// A set of changes applied atomically by Store::write(). Cheap to create; single-threaded.
class Batch {
 public:
  ~Batch();
  Batch(Batch&&) noexcept;

  void put_integration(const Integration& integration);
  void put_api_key(const ApiKey& key);
  void delete_api_key(const ApiKey& key);
  // Stores `webhook`. If it had another id before (a PATCH that renamed it), pass the old id so
  // that its index entry is removed in the same batch.
  void put_webhook(const Webhook& webhook, std::optional<std::string_view> previous_id = std::nullopt);
  void delete_webhook(const Webhook& webhook);
  void put_idempotency(std::string_view integration_id, std::string_view key, const IdempotencyRecord& record);
  void put_event(const Event& event);
  // Stores new deliveries, their entries in the per-webhook index and, if active, where `due`
  // says (see NewDue; one fresh entry, keyed by the first, lists them all by their events). Each run
  // of deliveries of one event shares one entry in the per-event index that lists them, keyed by
  // the run's first delivery: one record per event where fan-out to ten webhooks would otherwise
  // write ten.
  void put_new_deliveries(std::span<const Delivery> deliveries, NewDue due = NewDue::Indexed);
  // Stores a change of `delivery`, stored until now as `before`, and moves its due-index entry:
  // removes the one `before` had (if it was active and `before_due` is Indexed: a delivery
  // written with NewDue::Fresh has none until its first change) and adds one at next_attempt_ms
  // if the delivery is active now.
  void put_delivery(const Delivery& delivery, const Delivery& before, NewDue before_due = NewDue::Indexed);
  // A due entry for a delivery written with NewDue::Fresh that stays unchanged for now.
  void put_due(std::int64_t due_ms, std::string_view delivery_id);
  // Removes the fresh entry keyed by its first delivery's seq, once each delivery it lists has a
  // due entry or is finished.
  void delete_fresh(std::uint64_t first_delivery_seq);
  // An attempt of a delivery that is not its latest one (Delivery::last_attempt).
  void put_attempt(std::string_view delivery_id, const Attempt& attempt);
  // Removes `event` with `deliveries`, which must be all of its deliveries, their index entries
  // and their attempts: retention (Store::expired_events).
  void delete_event(const Event& event, std::span<const Delivery> deliveries);

  bool empty() const;

 private:
  friend class Store;
  Batch(const Store& store, std::size_t reserve_bytes);
  // Sequence numbers are persisted as a high-water mark per kind, merged once when written.
  void note_seq(int kind, std::uint64_t seq);
  // Moves `other`'s marks not yet written into this batch's.
  void take_seqs(Batch& other);
  void seal();
  const Store* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  std::uint64_t high_water_[3] = {0, 0, 0};  // by Store::Sequence
  bool webhooks_changed_ = false;
  bool api_keys_changed_ = false;
};

class Store {
 public:
  struct Options {
    std::string path;                    // the data directory; created if missing
    std::size_t block_cache_bytes = 64u << 20;  // RocksDB block cache size. Default 64 MiB.
    std::size_t memtable_bytes = 64u << 20;     // RocksDB memtables of all families together. Default 64 MiB.
    // Writes are refused while less than this is free: room for memtable flushes and compactions.
    // Default 256 MiB.
    std::uint64_t min_free_bytes = 256u << 20;
    // When true, RocksDB's flush and compaction threads run under SCHED_IDLE: only on CPU time that
    // no ordinary thread wants, so that a flush does not delay acknowledgements and deliveries on a
    // busy machine. While RocksDB stalls writes they run at the ordinary priority, where the
    // process may raise them (storage/background_priority.hpp). Default false.
    bool idle_background_threads = false;
    // Called once, with RocksDB's account, when RocksDB fails a write or a sync (see write()).
    std::function<void(const std::string&)> on_failed_write = {};
  };

  // While one of these lives on a thread, the store's reads on that thread use only what is in
  // memory (memtables, block cache, open table files' filters and indexes) and throw StoreError
  // Kind::WouldBlock where they would have to read a file: for work on an event loop, which then
  // moves to a thread that may block. Nests.
  class MemoryOnlyReads {
   public:
    MemoryOnlyReads();
    ~MemoryOnlyReads();
    MemoryOnlyReads(const MemoryOnlyReads&) = delete;
    MemoryOnlyReads& operator=(const MemoryOnlyReads&) = delete;

   private:
    bool previous_;
  };

  // Opens (creating if needed) the store. Throws StoreError, Kind::Busy if another process has it.
  explicit Store(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A batch to fill. `reserve_bytes`, when the caller knows about how much it will write (say,
  // the size of the request it stores), saves the batch's buffer from growing by doubling.
  Batch batch(std::size_t reserve_bytes = 0) const { return Batch(*this, reserve_bytes); }
  // Applies `batch` atomically and fsyncs before returning Ok.
  //
  // Once RocksDB has failed a write or a sync (a full disk, an I/O error), every later write and
  // sync fails without reaching it, and Options::on_failed_write is called: what RocksDB wrote of
  // the failed write's log record is unknown, and writing after it is not safe (Debian's RocksDB
  // 7.8 asserts on the log's next write, even after it has recovered from the error, and a sync
  // that failed may have dropped pages that a later sync would report as written). Reopening the
  // store recovers from the log up to its last whole record: what was acknowledged, and possibly
  // the failed write, which its caller was told had failed.
  WriteStatus write(Batch& batch) { return write(batch, true); }
  // Applies `batch` atomically without waiting for the disk. A later synced write makes it durable
  // too (the log is synced up to that write).
  WriteStatus write_unsynced(Batch& batch) { return write(batch, false); }
  // Applies every batch of `batches` in one write: one log write for all, and one fsync if `sync`.
  // Each batch stays atomic, and either all of them are written or none.
  WriteStatus write_all(std::span<Batch> batches, bool sync = true);
  // Makes every write applied so far durable: fsyncs the log.
  WriteStatus sync();

  // False while the file system of the data directory has less than min_free_bytes free: then
  // every write fails with Kind::NoSpace before reaching RocksDB (a write that RocksDB fails for
  // lack of space is the store's last until it is reopened: see write()). Writes work again by
  // themselves once space returns. Checked at most every 100 ms.
  bool has_space() const;

  // Allocates a new, never reused, sequence number of a kind. Persisted by the write that stores
  // the record carrying it.
  enum class Sequence { Webhook, Event, Delivery };
  std::uint64_t next_seq(Sequence kind);
  std::uint64_t next_webhook_seq() { return next_seq(Sequence::Webhook); }

  std::optional<Integration> find_integration(std::string_view id) const;
  std::vector<Integration> list_integrations() const;

  std::optional<ApiKey> find_api_key_by_hash(std::string_view key_hash) const;
  // Changes after every write that stored or deleted an API key, failed writes included. What a
  // caller derives from API keys stays valid while this stays the same, if the caller read it
  // before reading them.
  std::uint64_t api_keys_version() const { return api_keys_version_; }
  std::optional<ApiKey> find_api_key(std::string_view id) const;
  std::vector<ApiKey> list_api_keys() const;

  std::optional<Webhook> find_webhook(std::string_view integration_id, std::string_view id) const;
  std::optional<Webhook> find_webhook_by_seq(std::string_view integration_id, std::uint64_t seq) const;
  // Changes after every write that stored or deleted a webhook. What a caller derives from
  // webhooks stays valid while this stays the same, if the caller read it before reading them.
  std::uint64_t webhooks_version() const { return webhooks_version_; }
  // Webhooks of one integration in creation order, `limit` of them after skipping `offset`.
  Page<Webhook> list_webhooks(std::string_view integration_id, std::uint64_t offset, std::uint64_t limit) const;

  // The record stored under (integration, key), if it is younger than `ttl_ms` at `now_ms`.
  std::optional<IdempotencyRecord> find_idempotency(std::string_view integration_id, std::string_view key,
                                                    std::int64_t now_ms, std::int64_t ttl_ms) const;
  std::optional<Event> find_event(std::string_view integration_id, std::string_view id) const;
  // find_event for each of `ids`, in their order: one lookup for all, which costs far less than
  // one find_event each (batch ingress checks every publisher id it is given).
  std::vector<std::optional<Event>> find_events(std::string_view integration_id, std::span<const std::string> ids) const;
  std::optional<Event> find_event_by_seq(std::string_view integration_id, std::uint64_t seq) const;
  Page<Event> list_events(std::string_view integration_id, std::uint64_t offset, std::uint64_t limit) const;

  std::optional<Delivery> find_delivery(std::string_view id) const;
  // find_delivery for each of `ids`, in their order, in one lookup (the engine reads a backlog
  // beyond its memory back this way).
  std::vector<std::optional<Delivery>> find_deliveries(std::span<const std::string> ids) const;
  std::vector<Delivery> deliveries_of_event(std::string_view integration_id, std::uint64_t event_seq) const;
  // Deliveries to one webhook in creation order; `only_active` skips finished ones.
  Page<Delivery> list_deliveries_of_webhook(std::string_view integration_id, std::uint64_t webhook_seq,
                                            std::uint64_t offset, std::uint64_t limit, bool only_active = false) const;
  // Every attempt of `delivery`, as read (the latest from its record, the earlier ones from the
  // attempts family), in order. Read the delivery first: an attempt written between the two reads
  // then moves one the record already holds into the family, and it is not listed twice.
  std::vector<Attempt> list_attempts(const Delivery& delivery) const;

  // Retention: events created before `cutoff_ms` whose deliveries are all finished and last
  // changed before it, with those deliveries; at most `limit`, going on from `scan` and advancing
  // it. Events are looked at by integration, then in creation order, and an integration's first
  // event created at or after the cutoff ends its part of the scan (creation times follow
  // creation order but for steps of the clock). At most 4 * `limit` events are looked at per
  // call, so that each call stays short. Reads only: the caller removes what it finds.
  std::vector<ExpiredEvent> expired_events(ExpiryScan& scan, std::int64_t cutoff_ms, std::size_t limit) const;

  // Due-index entries strictly after `after` and due before `until_ms`, in order, at most `limit`.
  std::vector<DueKey> scan_due(const DueKey& after, std::int64_t until_ms, std::size_t limit) const;
  std::uint64_t count_due() const;  // exact, by a scan: for tests and tools, not for hot paths
  std::uint64_t count_fresh() const;  // fresh entries (see NewDue), by a scan: for tests
  StoreStats stats() const;

  // Writes a consistent copy of the whole store into `dir` (which must not exist), hard-linking
  // files where the file system allows. The copy is itself a data directory: restore by pointing
  // hookd at it. Safe while the store is in use.
  WriteStatus checkpoint(const std::string& dir);

  // Deletes idempotency records older than `ttl_ms` at `now_ms`; returns how many.
  std::size_t purge_idempotency(std::int64_t now_ms, std::int64_t ttl_ms);

 private:
  friend class Batch;
  enum Family { kIntegrations, kApiKeys, kWebhooks, kIdempotency, kEvents, kDeliveries, kDue, kAttempts, kMeta };
  rocksdb::ColumnFamilyHandle* family(Family f) const { return families_[f]; }
  std::optional<std::string> get(Family f, std::string_view key) const;
  // At open: gives each delivery that a fresh entry left by the last run lists, and that is still
  // active, its due entry (again, if the engine wrote one: the same key), and removes the entries.
  void index_fresh_deliveries();
  // get() for each of `keys` in one MultiGet, which costs far less than one get() each: calls
  // `found(i, value)` for each key present.
  void get_all(Family f, std::span<const std::string> keys,
               const std::function<void(std::size_t, std::string_view)>& found) const;

  std::unique_ptr<rocksdb::Env> env_;  // the log files' (storage/prefilled_logs.hpp); outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  // write_all's group of batches, joined in one buffer that is kept between calls: one allocated
  // afresh for every group cost page faults as dear as the copy into it (bench/RESULTS.md, steps
  // 33 and 45).
  std::mutex group_mutex_;
  std::string group_buffer_;
  WriteStatus write(Batch& batch, bool sync);
  WriteStatus write(rocksdb::WriteBatch& batch, bool sync);
  std::optional<WriteStatus> refuse_write() const;     // after a failed write (see write())
  WriteStatus failed_write(const rocksdb::Status& s);  // reports it; every later write is refused

  std::function<void(const std::string&)> on_failed_write_;
  std::atomic<bool> write_failed_{false};

  std::string path_;
  std::uint64_t min_free_bytes_;
  std::atomic<std::uint64_t> seqs_[3] = {0, 0, 0};  // by Sequence
  std::atomic<std::uint64_t> webhooks_version_{0};
  std::atomic<std::uint64_t> api_keys_version_{0};
  mutable std::atomic<std::int64_t> space_checked_ns_{0};
  mutable std::atomic<bool> has_space_{true};
  std::atomic<std::uint64_t> syncs_{0};
};

}  // namespace hookd::storage

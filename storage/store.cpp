#include "storage/store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include "storage/background_priority.hpp"
#include "storage/codec.hpp"
#include "storage/crc32c.hpp"
#include "storage/prefilled_logs.hpp"
#include "storage/store_internal.hpp"
#include "storage/tuning.hpp"

namespace hookd::storage {
namespace {

using namespace internal;

rocksdb::ReadOptions read_options() {
  rocksdb::ReadOptions o;
  if (memory_only_reads) o.read_tier = rocksdb::kBlockCacheTier;  // Incomplete instead of file reads
  return o;
}

// A point read's status and value. Under memory-only reads RocksDB 7.8 answers some reads it
// cannot make from memory with OK and an empty value instead of Incomplete (it marks the key "may
// exist"): MultiGet when a filter lets the key through and its data block is not cached, and a
// read of a table file that is not open. No value this store reads by key is empty, so under
// memory-only reads an empty one means the read needs a file.
void check_read(const rocksdb::Status& s, std::size_t value_size) {
  if (s.ok() && value_size == 0 && memory_only_reads)
    throw StoreError(StoreError::Kind::WouldBlock, "get: the value may be in a file (an empty answer)");
  check(s, "get");
}

std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// Calls fn(key, value) for every entry of `cf` whose key starts with `prefix`, until fn returns false.
template <typename Fn>
void scan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, Fn&& fn,
          rocksdb::ReadOptions options = read_options()) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, cf));
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next()) {
    if (!fn(view(it->key()), view(it->value()))) break;
  }
  check(it->status(), "scan");
}

}  // namespace

Store::Store(const Options& options)
    : on_failed_write_(options.on_failed_write), path_(options.path), min_free_bytes_(options.min_free_bytes) {
  // The write-ahead log is zero-filled ahead of its writes: an acknowledgement's sync then only
  // overwrites (storage/prefilled_logs.hpp).
  env_ = new_prefilled_log_env();
  Tuning tuning = tune(options, env_.get());
  // A flush or compaction competing for the cores held up acknowledgements at a steady load:
  // a waking ordinary thread always preempts one under SCHED_IDLE (bench/RESULTS.md, step 60).
  if (options.idle_background_threads) tuning.db.listeners.push_back(std::make_shared<IdleBackgroundThreads>());
  // Also what links hookd's CRC-32C in place of RocksDB's own (storage/crc32c.hpp).
  spdlog::debug("store: CRC-32C by {}", crc32c_implementation());

  // Created here rather than by RocksDB, which logs an error while it lists a missing directory.
  // If this fails, so does the open, with RocksDB's account of why.
  std::error_code ignored;
  std::filesystem::create_directories(options.path, ignored);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(tuning.db, options.path, tuning.families, &families_, &raw);
  if (!s.ok()) {
    // RocksDB reports a held LOCK file as an I/O error naming the lock.
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      throw StoreError(StoreError::Kind::Busy,
                       "data directory " + options.path + " is in use by another process: " + s.ToString());
    check(s, "open");
  }
  db_.reset(raw);

  for (auto kind : {Sequence::Webhook, Sequence::Event, Sequence::Delivery})
    if (auto hwm = get(kMeta, seq_key(kind))) seqs_[static_cast<int>(kind)] = read_be64(*hwm);
  index_fresh_deliveries();
}

void Store::index_fresh_deliveries() {
  std::vector<std::uint64_t> firsts;  // the entries, by the seq of their first delivery
  std::vector<std::pair<std::string, std::uint64_t>> events;  // (integration, event seq) they list
  // Once, at open: what it reads is not kept in the block cache (a seek reads a block of each
  // table file of the family, of records mostly).
  rocksdb::ReadOptions once = read_options();
  once.fill_cache = false;
  scan(
      *db_, family(kDeliveries), "f",
      [&](std::string_view k, std::string_view v) {
        firsts.push_back(read_be64(k.substr(1)));
        read_events(v, events);
        return true;
      },
      once);
  if (firsts.empty()) return;
  Batch batch = this->batch();
  std::size_t active = 0;
  for (const auto& [integration, seq] : events)
    for (const auto& d : deliveries_of_event(integration, seq)) {
      if (!is_active(d.state)) continue;
      batch.put_due(d.next_attempt_ms, d.id);  // the same key as the engine's, if it wrote one
      ++active;
    }
  for (std::uint64_t first : firsts) batch.delete_fresh(first);
  if (auto status = write(batch); !status.is_ok())
    throw StoreError(status.kind(), "indexing the fresh deliveries of the last run: " + status.message());
  spdlog::info("store: {} fresh entries of the last run give {} active deliveries their due entries", firsts.size(),
               active);
}

Store::~Store() {
  for (auto* h : families_) db_->DestroyColumnFamilyHandle(h);
  if (db_) db_->Close().PermitUncheckedError();
}

WriteStatus Store::write(Batch& batch, bool sync) {
  batch.seal();
  auto status = write(*batch.batch_, sync);
  if (status.is_ok() && batch.webhooks_changed_) ++webhooks_version_;  // after the write: readers see it
  // Also after a failed write, which may have reached the memtables: a revoked key must not stay
  // valid in a cache.
  if (batch.api_keys_changed_) ++api_keys_version_;
  return status;
}

namespace {

// A batch's Data() is its log record: a 12-byte header (the sequence number, fixed64, then the
// number of operations, fixed32; both little-endian) and the operations one after another. That
// is the write-ahead log's format, which RocksDB keeps readable across versions, so batches join
// by concatenating their operations under one header that counts them all, as RocksDB's own
// (internal) WriteBatchInternal::Append does. (A count that disagreed with the operations would
// fail the write as corrupt, not store anything.)
constexpr std::size_t kBatchHeaderBytes = 12;

// A batch over a buffer that it gives back after the write, so that the group's buffer is kept
// between groups. WriteBatch keeps its contents in `rep_`, protected for subclasses; one made
// from a string works out what it holds (HasMerge() and the like) from the contents when asked.
class LentBatch final : public rocksdb::WriteBatch {
 public:
  explicit LentBatch(std::string&& rep) : WriteBatch(std::move(rep)) {}
  std::string give_back() { return std::move(rep_); }
};

}  // namespace

WriteStatus Store::write_all(std::span<Batch> batches, bool sync) {
  if (batches.size() == 1) return write(batches.front(), sync);
  std::lock_guard lock(group_mutex_);
  std::string& rep = group_buffer_;
  rep.assign(kBatchHeaderBytes, '\0');
  std::uint64_t count = 0;
  bool webhooks_changed = false, api_keys_changed = false;
  // The group is one record, applied whole or not at all, so one high-water merge per kind serves
  // all of its batches: one per batch cost a memtable insert each, about a tenth of the
  // committer's time with single-event requests.
  Batch marks(*this, 64);
  for (auto& b : batches) {
    marks.take_seqs(b);
    webhooks_changed |= b.webhooks_changed_;
    api_keys_changed |= b.api_keys_changed_;
    rep.append(b.batch_->Data(), kBatchHeaderBytes);
    count += b.batch_->Count();
  }
  marks.seal();
  rep.append(marks.batch_->Data(), kBatchHeaderBytes);
  count += marks.batch_->Count();
  for (std::size_t i = 0; i < 4; ++i) rep[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  LentBatch all(std::move(rep));
  auto status = write(all, sync);
  rep = all.give_back();
  // The buffer of a rare huge group is not kept for good.
  constexpr std::size_t kKeptGroupBytes = 64u << 20;
  if (rep.capacity() > kKeptGroupBytes) rep = std::string();
  if (status.is_ok() && webhooks_changed) ++webhooks_version_;
  if (api_keys_changed) ++api_keys_version_;
  return status;
}

WriteStatus Store::write(rocksdb::WriteBatch& batch, bool sync) {
  if (auto refused = refuse_write()) return *refused;
  if (!has_space())
    return WriteStatus::failed(StoreError::Kind::NoSpace,
                               "less than " + std::to_string(min_free_bytes_) + " bytes free for " + path_);
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return failed_write(s);
  if (sync) ++syncs_;
  return WriteStatus::ok();
}

WriteStatus Store::sync() {
  if (auto refused = refuse_write()) return *refused;
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return failed_write(s);
  ++syncs_;
  return WriteStatus::ok();
}

std::optional<WriteStatus> Store::refuse_write() const {
  if (!write_failed_.load(std::memory_order_acquire)) return std::nullopt;
  return WriteStatus::failed(StoreError::Kind::Io,
                             "the store takes no more writes after a failed one: a restart recovers from its log");
}

WriteStatus Store::failed_write(const rocksdb::Status& s) {
  auto status = WriteStatus::failed(kind_of(s), s.ToString());
  if (!write_failed_.exchange(true) && on_failed_write_) on_failed_write_(status.message());
  return status;
}

bool Store::has_space() const {
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto checked = space_checked_ns_.load(std::memory_order_relaxed);
  if (now - checked > 100'000'000 && space_checked_ns_.compare_exchange_strong(checked, now)) {
    struct statvfs fs {};
    if (::statvfs(path_.c_str(), &fs) == 0)
      has_space_ = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize >= min_free_bytes_;
  }
  return has_space_;
}

Store::MemoryOnlyReads::MemoryOnlyReads() : previous_(memory_only_reads) { memory_only_reads = true; }
Store::MemoryOnlyReads::~MemoryOnlyReads() { memory_only_reads = previous_; }

std::uint64_t Store::next_seq(Sequence kind) { return ++seqs_[static_cast<int>(kind)]; }

std::optional<std::string> Store::get(Family f, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(read_options(), family(f), slice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  check_read(s, value.size());
  return value;
}

void Store::get_all(Family f, std::span<const std::string> keys,
                    const std::function<void(std::size_t, std::string_view)>& found) const {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  // RocksDB sorts the keys unless told they are sorted already (bytewise, as std::string orders
  // them), as they are when the caller sorted them (batch ingress sorts ids to fold repeats).
  bool sorted = std::is_sorted(keys.begin(), keys.end());
  db_->MultiGet(read_options(), family(f), keys.size(), slices.data(), values.data(), statuses.data(), sorted);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    check_read(statuses[i], values[i].size());
    found(i, std::string_view(values[i].data(), values[i].size()));
  }
}

std::optional<Integration> Store::find_integration(std::string_view id) const {
  if (auto v = get(kIntegrations, id)) return decode<Integration>(*v);
  return std::nullopt;
}

std::vector<Integration> Store::list_integrations() const {
  std::vector<Integration> out;
  scan(*db_, family(kIntegrations), "", [&](std::string_view, std::string_view v) {
    out.push_back(decode<Integration>(v));
    return true;
  });
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_at_ms < b.created_at_ms; });
  return out;
}

std::optional<ApiKey> Store::find_api_key_by_hash(std::string_view key_hash) const {
  if (auto v = get(kApiKeys, "h" + std::string(key_hash))) return decode<ApiKey>(*v);
  return std::nullopt;
}

std::optional<ApiKey> Store::find_api_key(std::string_view id) const {
  if (auto hash = get(kApiKeys, "i" + std::string(id))) return find_api_key_by_hash(*hash);
  return std::nullopt;
}

std::vector<ApiKey> Store::list_api_keys() const {
  std::vector<ApiKey> out;
  scan(*db_, family(kApiKeys), "h", [&](std::string_view, std::string_view v) {
    out.push_back(decode<ApiKey>(v));
    return true;
  });
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_at_ms < b.created_at_ms; });
  return out;
}

std::optional<Webhook> Store::find_webhook(std::string_view integration_id, std::string_view id) const {
  auto seq = get(kWebhooks, id_key(integration_id, id));
  if (!seq) return std::nullopt;
  return find_webhook_by_seq(integration_id, read_be64(*seq));
}

std::optional<Webhook> Store::find_webhook_by_seq(std::string_view integration_id, std::uint64_t seq) const {
  if (auto v = get(kWebhooks, record_key(integration_id, seq))) return decode<Webhook>(*v);
  return std::nullopt;
}

Page<Webhook> Store::list_webhooks(std::string_view integration_id, std::uint64_t offset, std::uint64_t limit) const {
  Page<Webhook> page;
  scan(*db_, family(kWebhooks), scoped("r", integration_id, ""), [&](std::string_view, std::string_view v) {
    if (page.total >= offset && page.items.size() < limit) page.items.push_back(decode<Webhook>(v));
    ++page.total;
    return true;
  });
  return page;
}

std::optional<Event> Store::find_event(std::string_view integration_id, std::string_view id) const {
  auto seq = get(kEvents, id_key(integration_id, id));
  if (!seq) return std::nullopt;
  return find_event_by_seq(integration_id, read_be64(*seq));
}

std::vector<std::optional<Event>> Store::find_events(std::string_view integration_id,
                                                     std::span<const std::string> ids) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back(id_key(integration_id, id));
  std::vector<std::optional<Event>> events(ids.size());
  get_all(kEvents, keys, [&](std::size_t i, std::string_view seq) {
    events[i] = find_event_by_seq(integration_id, read_be64(seq));
  });
  return events;
}

std::optional<Event> Store::find_event_by_seq(std::string_view integration_id, std::uint64_t seq) const {
  if (auto v = get(kEvents, record_key(integration_id, seq))) return decode<Event>(*v);
  return std::nullopt;
}

Page<Event> Store::list_events(std::string_view integration_id, std::uint64_t offset, std::uint64_t limit) const {
  Page<Event> page;
  scan(*db_, family(kEvents), scoped("r", integration_id, ""), [&](std::string_view, std::string_view v) {
    if (page.total >= offset && page.items.size() < limit) page.items.push_back(decode<Event>(v));
    ++page.total;
    return true;
  });
  return page;
}

std::optional<Delivery> Store::find_delivery(std::string_view id) const {
  if (auto v = get(kDeliveries, "d" + std::string(id))) return decode<Delivery>(*v);
  return std::nullopt;
}

std::vector<std::optional<Delivery>> Store::find_deliveries(std::span<const std::string> ids) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back("d" + id);
  std::vector<std::optional<Delivery>> deliveries(ids.size());
  get_all(kDeliveries, keys, [&](std::size_t i, std::string_view v) { deliveries[i] = decode<Delivery>(v); });
  return deliveries;
}

std::vector<Delivery> Store::deliveries_of_event(std::string_view integration_id, std::uint64_t event_seq) const {
  std::vector<std::string> ids;
  std::string prefix = scoped("e", integration_id, be64(event_seq));
  scan(*db_, family(kDeliveries), prefix, [&](std::string_view k, std::string_view v) {
    if (v.empty())  // an entry of one delivery, written before step 54
      ids.emplace_back(k.substr(prefix.size()));
    else
      read_ids(v, ids);
    return true;
  });
  std::vector<Delivery> out;
  for (auto& d : find_deliveries(ids))
    if (d) out.push_back(std::move(*d));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

Page<Delivery> Store::list_deliveries_of_webhook(std::string_view integration_id, std::uint64_t webhook_seq,
                                                 std::uint64_t offset, std::uint64_t limit, bool only_active) const {
  Page<Delivery> page;
  scan(*db_, family(kDeliveries), scoped("w", integration_id, be64(webhook_seq)), [&](std::string_view, std::string_view id) {
    auto d = find_delivery(id);
    if (!d || (only_active && !is_active(d->state))) return true;
    if (page.total >= offset && page.items.size() < limit) page.items.push_back(std::move(*d));
    ++page.total;
    return true;
  });
  return page;
}

std::vector<Attempt> Store::list_attempts(const Delivery& delivery) const {
  std::vector<Attempt> out;
  const Attempt* last = delivery.last_attempt ? &*delivery.last_attempt : nullptr;
  scan(*db_, family(kAttempts), delivery.id + '\0', [&](std::string_view, std::string_view v) {
    Attempt a = decode<Attempt>(v);
    if (last && a.number >= last->number) return false;  // moved here after `delivery` was read
    out.push_back(std::move(a));
    return true;
  });
  if (last) out.push_back(*last);
  return out;
}

std::vector<ExpiredEvent> Store::expired_events(ExpiryScan& scan, std::int64_t cutoff_ms, std::size_t limit) const {
  std::vector<ExpiredEvent> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options(), family(kEvents)));
  it->Seek(slice(scan.after.empty() ? std::string_view("r") : std::string_view(scan.after)));
  for (std::size_t looked_at = 0; it->Valid() && out.size() < limit && looked_at < 4 * limit;) {
    std::string_view k = view(it->key());
    if (!k.starts_with('r')) break;  // past the event records, into the id index
    if (k == scan.after) {
      it->Next();
      continue;
    }
    ++looked_at;
    scan.after.assign(k);
    auto event = decode<Event>(view(it->value()));
    if (event.created_at_ms >= cutoff_ms) {
      // The integration's later events are younger still: on to the next integration, whose keys
      // are the first after every key that starts "r<integration>\0".
      scan.after = scoped("r", event.integration_id, "");
      scan.after.back() = '\1';
      it->Seek(slice(scan.after));
      continue;
    }
    auto deliveries = deliveries_of_event(event.integration_id, event.seq);
    if (std::all_of(deliveries.begin(), deliveries.end(),
                    [&](const Delivery& d) { return !is_active(d.state) && d.updated_at_ms < cutoff_ms; }))
      out.push_back({std::move(event), std::move(deliveries)});
    it->Next();
  }
  check(it->status(), "scan events");
  scan.done = !it->Valid() || !it->key().starts_with("r");
  return out;
}

std::vector<DueKey> Store::scan_due(const DueKey& after, std::int64_t until_ms, std::size_t limit) const {
  std::vector<DueKey> out;
  std::string start = due_key(after.due_ms, after.delivery_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options(), family(kDue)));
  for (it->Seek(slice(start)); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view k = view(it->key());
    if (k == start) continue;  // strictly after
    auto due = static_cast<std::int64_t>(read_be64(k));
    if (due >= until_ms) break;
    out.push_back(DueKey{due, std::string(k.substr(8))});
  }
  check(it->status(), "scan due");
  return out;
}

std::uint64_t Store::count_due() const {
  std::uint64_t n = 0;
  scan(*db_, family(kDue), "", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

std::uint64_t Store::count_fresh() const {
  std::uint64_t n = 0;
  scan(*db_, family(kDeliveries), "f", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

WriteStatus Store::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return WriteStatus::failed(kind_of(s), s.ToString());
  return WriteStatus::ok();
}

StoreStats Store::stats() const {
  auto property = [&](const std::string& name, rocksdb::ColumnFamilyHandle* cf = nullptr) {
    std::uint64_t v = 0;
    if (cf ? db_->GetIntProperty(cf, name, &v) : db_->GetAggregatedIntProperty(name, &v)) return v;
    return std::uint64_t{0};
  };
  StoreStats s;
  s.due_entries = property("rocksdb.estimate-num-keys", family(kDue));
  s.live_sst_bytes = property("rocksdb.live-sst-files-size");
  s.memtable_bytes = property("rocksdb.cur-size-all-mem-tables");
  s.background_errors = property("rocksdb.background-errors", family(kMeta));
  s.syncs = syncs_;
  return s;
}

std::optional<IdempotencyRecord> Store::find_idempotency(std::string_view integration_id, std::string_view key,
                                                         std::int64_t now_ms, std::int64_t ttl_ms) const {
  auto v = get(kIdempotency, scoped("", integration_id, key));
  if (!v) return std::nullopt;
  auto record = decode<IdempotencyRecord>(*v);
  if (now_ms - record.created_at_ms >= ttl_ms) return std::nullopt;
  return record;
}

std::size_t Store::purge_idempotency(std::int64_t now_ms, std::int64_t ttl_ms) {
  rocksdb::WriteBatch expired;
  scan(*db_, family(kIdempotency), "", [&](std::string_view k, std::string_view v) {
    if (now_ms - decode<IdempotencyRecord>(v).created_at_ms >= ttl_ms) check(expired.Delete(family(kIdempotency), slice(k)), "batch");
    return true;
  });
  std::size_t n = expired.Count();
  if (n > 0)
    if (auto status = write(expired, false); !status.is_ok()) throw StoreError(status.kind(), "purge: " + status.message());
  return n;
}

}  // namespace hookd::storage

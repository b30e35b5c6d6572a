// hookd's durable store: integrations, API keys, webhooks and idempotency records in RocksDB.
//
// Contract:
// - Thread-safe: every method may be called from any thread at once.
// - Reads return std::nullopt for "not found"; they throw StoreError only when the store itself
//   fails (I/O error, corruption), which callers treat as a server error.
// - Writes go through a Batch: everything in one Batch is applied atomically and is on disk
//   (fsynced) when write() returns Ok. A failed write changes nothing.
// - Time is passed in by callers (milliseconds since the Unix epoch); the store never reads a clock.
// - Only one process may open a data directory; a second open fails with StoreError::Kind::Busy.
//
// The key layout is described in storage/store.cpp, next to the code that builds the keys.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace hookd::storage {

struct StoreError : std::runtime_error {
  enum class Kind { Io, NoSpace, Corruption, Busy };
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

struct Integration {
  std::string id;
  std::string name;
  std::int64_t created_at_ms = 0;
};

enum Scope : std::uint8_t { kScopeManage = 1, kScopePublish = 2 };

struct ApiKey {
  std::string id;                         // public identifier, used to list and revoke
  std::string key_hash;                   // SHA-256 of the secret key; the key itself is never stored
  std::vector<std::string> integrations;  // integrations this key may act for
  std::uint8_t scopes = 0;                // bit set of Scope
  std::int64_t created_at_ms = 0;
};

struct Webhook {
  std::string integration_id;
  std::uint64_t seq = 0;  // internal and immutable: creation order, and what deliveries refer to
  std::string id;         // client-visible, may change through PATCH
  std::string url;
  std::vector<std::string> events;
  std::string secret_key;
  std::string metadata_json = "{}";  // a serialized JSON object, opaque to the store
  std::int64_t created_at_ms = 0;
};

// A stored response to a request made with an Idempotency-Key.
struct IdempotencyRecord {
  std::string fingerprint;  // identifies method, path and body of the first request
  int status = 0;
  std::string body;
  std::int64_t created_at_ms = 0;
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

  bool empty() const;

 private:
  friend class Store;
  explicit Batch(const Store& store);
  const Store* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

class Store {
 public:
  struct Options {
    std::string path;                    // the data directory; created if missing
    std::size_t block_cache_bytes = 64u << 20;  // RocksDB block cache size. Default 64 MiB.
  };

  // Opens (creating if needed) the store. Throws StoreError, Kind::Busy if another process has it.
  explicit Store(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Batch batch() const { return Batch(*this); }
  // Applies `batch` atomically and fsyncs before returning Ok.
  WriteStatus write(Batch& batch);

  // Allocates a new, never reused, webhook sequence number. Persisted with the next write.
  std::uint64_t next_webhook_seq();

  std::optional<Integration> find_integration(std::string_view id) const;
  std::vector<Integration> list_integrations() const;

  std::optional<ApiKey> find_api_key_by_hash(std::string_view key_hash) const;
  std::optional<ApiKey> find_api_key(std::string_view id) const;
  std::vector<ApiKey> list_api_keys() const;

  std::optional<Webhook> find_webhook(std::string_view integration_id, std::string_view id) const;
  std::optional<Webhook> find_webhook_by_seq(std::string_view integration_id, std::uint64_t seq) const;
  // Webhooks of one integration in creation order, `limit` of them after skipping `offset`.
  Page<Webhook> list_webhooks(std::string_view integration_id, std::uint64_t offset, std::uint64_t limit) const;

  // The record stored under (integration, key), if it is younger than `ttl_ms` at `now_ms`.
  std::optional<IdempotencyRecord> find_idempotency(std::string_view integration_id, std::string_view key,
                                                    std::int64_t now_ms, std::int64_t ttl_ms) const;
  // Deletes idempotency records older than `ttl_ms` at `now_ms`; returns how many.
  std::size_t purge_idempotency(std::int64_t now_ms, std::int64_t ttl_ms);

 private:
  friend class Batch;
  enum Family { kIntegrations, kApiKeys, kWebhooks, kIdempotency, kMeta, kFamilyCount };
  rocksdb::ColumnFamilyHandle* family(Family f) const { return families_[f]; }
  std::optional<std::string> get(Family f, std::string_view key) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::atomic<std::uint64_t> webhook_seq_{0};
};

}  // namespace hookd::storage

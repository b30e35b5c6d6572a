// The events and webhooks that attempts read, kept in memory. An event never changes once stored,
// so the latest `event_capacity` are kept (the deliveries of one event are attempted together); a
// webhook is kept while Store::webhooks_version() stays the same, so every attempt still uses the
// webhook's current url and secret. Not thread-safe: the engine uses it on its own thread.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "signing/signature.hpp"
#include "storage/store.hpp"

namespace hookd::engine {

// A record of an integration by its sequence number (an event's or a webhook's), and a view of
// one for lookups that build no string.
struct RecordKey {
  std::string integration_id;
  std::uint64_t seq = 0;
};
struct RecordKeyView {
  std::string_view integration_id;
  std::uint64_t seq = 0;
};
struct RecordKeyHash {
  using is_transparent = void;
  std::size_t operator()(RecordKeyView k) const {
    return std::hash<std::string_view>()(k.integration_id) ^ (std::hash<std::uint64_t>()(k.seq) * 0x9e3779b97f4a7c15ULL);
  }
  std::size_t operator()(const RecordKey& k) const { return (*this)(RecordKeyView{k.integration_id, k.seq}); }
};
struct RecordKeyEqual {
  using is_transparent = void;
  static RecordKeyView view(const RecordKey& k) { return {k.integration_id, k.seq}; }
  static RecordKeyView view(RecordKeyView k) { return k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    auto x = view(a), y = view(b);
    return x.seq == y.seq && x.integration_id == y.integration_id;
  }
};

class RecordCache {
 public:
  explicit RecordCache(const storage::Store& store, std::size_t event_capacity = 4096,
                       std::size_t webhook_capacity = 16384)
      : store_(store), event_capacity_(event_capacity), webhook_capacity_(webhook_capacity) {}

  // Null when the store has no such record (a deleted webhook, a purged event): never cached.
  std::shared_ptr<const storage::Event> event(const std::string& integration_id, std::uint64_t seq) {
    if (auto it = events_.find(RecordKeyView{integration_id, seq}); it != events_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
      return it->second->second;
    }
    auto e = store_.find_event_by_seq(integration_id, seq);
    if (!e) return nullptr;
    auto body = std::make_shared<const storage::Event>(std::move(*e));
    lru_.emplace_front(RecordKey{integration_id, seq}, body);
    events_.emplace(lru_.front().first, lru_.begin());
    if (events_.size() > event_capacity_) {
      events_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return body;
  }

  // A webhook with a signer for its secret, kept as long as the webhook is.
  struct WebhookEntry {
    explicit WebhookEntry(storage::Webhook w)
        : record(std::move(w)), signer(std::array<std::string_view, 1>{record.secret_key}) {}
    storage::Webhook record;
    signing::Signer signer;
  };

  std::shared_ptr<WebhookEntry> webhook(const std::string& integration_id, std::uint64_t seq) {
    std::uint64_t version = store_.webhooks_version();  // before reading (see Store)
    if (version != webhooks_version_ || webhooks_.size() >= webhook_capacity_) {
      webhooks_.clear();
      webhooks_version_ = version;
    }
    if (auto it = webhooks_.find(RecordKeyView{integration_id, seq}); it != webhooks_.end()) return it->second;
    auto w = store_.find_webhook_by_seq(integration_id, seq);
    if (!w) return nullptr;
    auto shared = std::make_shared<WebhookEntry>(std::move(*w));
    webhooks_.emplace(RecordKey{integration_id, seq}, shared);
    return shared;
  }

 private:
  using EventEntry = std::pair<RecordKey, std::shared_ptr<const storage::Event>>;
  const storage::Store& store_;
  std::size_t event_capacity_;
  std::size_t webhook_capacity_;
  std::list<EventEntry> lru_;
  std::unordered_map<RecordKey, std::list<EventEntry>::iterator, RecordKeyHash, RecordKeyEqual> events_;
  std::uint64_t webhooks_version_ = 0;
  std::unordered_map<RecordKey, std::shared_ptr<WebhookEntry>, RecordKeyHash, RecordKeyEqual> webhooks_;
};

}  // namespace hookd::engine

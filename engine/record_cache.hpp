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
#include <unordered_map>

#include "signing/signature.hpp"
#include "storage/store.hpp"

namespace hookd::engine {

class RecordCache {
 public:
  explicit RecordCache(const storage::Store& store, std::size_t event_capacity = 4096,
                       std::size_t webhook_capacity = 16384)
      : store_(store), event_capacity_(event_capacity), webhook_capacity_(webhook_capacity) {}

  // Null when the store has no such record (a deleted webhook, a purged event): never cached.
  std::shared_ptr<const storage::Event> event(const std::string& integration_id, std::uint64_t seq) {
    std::string key = integration_id + '\0' + std::to_string(seq);
    if (auto it = events_.find(key); it != events_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
      return it->second->second;
    }
    auto e = store_.find_event_by_seq(integration_id, seq);
    if (!e) return nullptr;
    auto body = std::make_shared<const storage::Event>(std::move(*e));
    lru_.emplace_front(key, body);
    events_[key] = lru_.begin();
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
    std::string key = integration_id + '\0' + std::to_string(seq);
    if (auto it = webhooks_.find(key); it != webhooks_.end()) return it->second;
    auto w = store_.find_webhook_by_seq(integration_id, seq);
    if (!w) return nullptr;
    auto shared = std::make_shared<WebhookEntry>(std::move(*w));
    webhooks_[key] = shared;
    return shared;
  }

 private:
  using EventEntry = std::pair<std::string, std::shared_ptr<const storage::Event>>;
  const storage::Store& store_;
  std::size_t event_capacity_;
  std::size_t webhook_capacity_;
  std::list<EventEntry> lru_;
  std::unordered_map<std::string, std::list<EventEntry>::iterator> events_;
  std::uint64_t webhooks_version_ = 0;
  std::unordered_map<std::string, std::shared_ptr<WebhookEntry>> webhooks_;
};

}  // namespace hookd::engine

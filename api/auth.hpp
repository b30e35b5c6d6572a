// API key authentication (SPEC §1): "Authorization: Token <key>" and "Integration-ID: <id>".
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "api/http_types.hpp"
#include "storage/store.hpp"

namespace hookd::api {

struct Principal {
  storage::ApiKey key;
  std::string integration_id;
};

// API keys by hash, kept while Store::api_keys_version() stays the same: a key created, changed
// or revoked counts from the next request on, and a request reads no key from the store while
// none changed. Thread-safe.
class ApiKeyCache {
 public:
  explicit ApiKeyCache(const storage::Store& store, std::size_t capacity = 4096)
      : store_(store), capacity_(capacity) {}
  std::optional<storage::ApiKey> find(const std::string& key_hash);

 private:
  const storage::Store& store_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::uint64_t version_ = 0;
  std::unordered_map<std::string, storage::ApiKey> keys_;  // known keys only: unknown ones are read each time
};

// The principal if the request carries a known key that may act for its integration with
// `scope`; otherwise 401 (no or unknown key), 400 (no Integration-ID) or 403 (not permitted).
std::variant<Principal, Response> authenticate(ApiKeyCache& keys, const Request& request, storage::Scope scope);

// The hash under which a key is stored: SHA-256, hex. Keys carry 160 random bits, so a fast
// hash is enough; a slow password hash would only add latency to every request.
std::string hash_api_key(std::string_view key);

}  // namespace hookd::api

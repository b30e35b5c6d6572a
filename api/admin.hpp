// Operator actions on integrations and API keys (SPEC §1), shared by the `hookd` subcommands
// (on a stopped daemon's store) and the admin socket (of a running daemon). Results are the JSON
// the subcommands print. Thread-safe: actions are serialized by an internal lock.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/store.hpp"

namespace hookd::api {

class Admin {
 public:
  struct Error {
    enum Kind { Invalid, NotFound, Unavailable } kind;
    std::string message;
  };
  using Result = std::variant<boost::json::value, Error>;

  Admin(storage::Store& store, std::function<std::int64_t()> now_ms);

  // {"id", "name"}. The id defaults to a uuid4; one given must be 1-64 of [A-Za-z0-9._-] and free.
  Result create_integration(const std::string& name, const std::optional<std::string>& id);
  boost::json::value list_integrations() const;

  // {"id", "key", "integrations", "scopes"}: the key is in this answer only, and stored as a hash.
  // Scopes are "manage" and "publish"; none named means both.
  Result create_key(const std::vector<std::string>& integrations, const std::vector<std::string>& scopes);
  boost::json::value list_keys() const;  // without the keys themselves
  Result revoke_key(const std::string& id);

  // A consistent copy of the store in directory `to` (absolute, not existing yet): {"backup": to}.
  Result backup(const std::string& to);

  // On a store with no integration: creates one and a key with both scopes, and returns
  // {"integration": {...}, "key": {...}}. Otherwise nothing.
  std::optional<boost::json::value> bootstrap();

 private:
  Result commit(storage::Batch& batch, boost::json::value answer);

  storage::Store& store_;
  std::function<std::int64_t()> now_ms_;
  std::mutex mutex_;
};

}  // namespace hookd::api

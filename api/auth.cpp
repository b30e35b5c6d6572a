#include "api/auth.hpp"

#include <algorithm>

#include "api/errors.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {

std::string hash_api_key(std::string_view key) { return signing::hex(signing::sha256(key)); }

std::optional<storage::ApiKey> ApiKeyCache::find(const std::string& key_hash) {
  std::uint64_t version = store_.api_keys_version();  // before reading (see Store)
  {
    std::lock_guard lock(mutex_);
    if (version != version_) {
      keys_.clear();
      version_ = version;
    }
    if (auto it = keys_.find(key_hash); it != keys_.end()) return it->second;
  }
  auto key = store_.find_api_key_by_hash(key_hash);
  if (!key) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (version == version_) {
    if (keys_.size() >= capacity_) keys_.clear();
    keys_.emplace(key_hash, *key);
  }
  return key;
}

std::variant<Principal, Response> authenticate(ApiKeyCache& keys, const Request& request, storage::Scope scope) {
  auto auth = request.find(http::field::authorization);
  if (auth == request.end() || auth->value().empty()) return error_response(ApiError::NotAuthenticated);

  std::string_view value = auth->value();
  constexpr std::string_view kPrefix = "token ";
  bool has_prefix = value.size() > kPrefix.size() &&
                    std::equal(kPrefix.begin(), kPrefix.end(), value.begin(),
                               [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  if (!has_prefix) return error_response(ApiError::InvalidToken);
  std::string_view token = value.substr(kPrefix.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);

  auto key = keys.find(hash_api_key(token));
  if (!key) return error_response(ApiError::InvalidToken);

  auto integration = request.find("Integration-ID");  // header names compare case-insensitively
  if (integration == request.end() || integration->value().empty())
    return error_response(ApiError::MissingIntegration);
  std::string integration_id(integration->value());

  bool allowed = std::find(key->integrations.begin(), key->integrations.end(), integration_id) != key->integrations.end();
  if (!allowed || !(key->scopes & scope)) return error_response(ApiError::PermissionDenied);
  return Principal{std::move(*key), std::move(integration_id)};
}

}  // namespace hookd::api

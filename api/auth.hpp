// API key authentication (SPEC §1): "Authorization: Token <key>" and "Integration-ID: <id>".
#pragma once

#include <string>
#include <variant>

#include "api/http_types.hpp"
#include "storage/store.hpp"

namespace hookd::api {

struct Principal {
  storage::ApiKey key;
  std::string integration_id;
};

// The principal if the request carries a known key that may act for its integration with
// `scope`; otherwise 401 (no or unknown key), 400 (no Integration-ID) or 403 (not permitted).
std::variant<Principal, Response> authenticate(const storage::Store& store, const Request& request,
                                               storage::Scope scope);

// The hash under which a key is stored: SHA-256, hex. Keys carry 160 random bits, so a fast
// hash is enough; a slow password hash would only add latency to every request.
std::string hash_api_key(std::string_view key);

}  // namespace hookd::api

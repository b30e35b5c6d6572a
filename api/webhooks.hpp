// The Webhooks API of the seed: list, create, retrieve, update (PATCH), replace (PUT), delete.
// Handlers run after authentication (ctx.integration_id is set); mutating ones add their changes
// to ctx.batch, which the service commits.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/engine_hooks.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "storage/store.hpp"

namespace hookd::api {

class WebhooksApi {
 public:
  static constexpr std::size_t kMaxUrlLength = 2048;
  static constexpr std::size_t kMaxStringLength = 255;
  static constexpr std::size_t kSecretLength = 32;

  WebhooksApi(storage::Store& store, std::vector<std::string> event_types, std::function<std::int64_t()> now_ms,
              const EngineHooks& hooks);

  Response list(Context& ctx) const;
  Response create(Context& ctx) const;
  Response retrieve(Context& ctx) const;
  Response update(Context& ctx) const;   // PATCH: only the fields given
  Response replace(Context& ctx) const;  // PUT: url and events required, the rest reset to defaults
  Response destroy(Context& ctx) const;  // once committed, the engine cancels its deliveries

  // The webhook as the API shows it: {"id", "url", "events", "secret_key", "metadata"}.
  static boost::json::object to_json(const storage::Webhook& webhook);

 private:
  enum class Mode { Create, Replace, Update };
  // Applies the body's fields to `webhook` as `mode` prescribes; what is wrong goes to `errors`.
  void apply(const boost::json::object& body, Mode mode, storage::Webhook& webhook, FieldErrors& errors) const;
  Response save(Context& ctx, Mode mode) const;  // PATCH and PUT

  storage::Store& store_;
  std::vector<std::string> event_types_;
  std::function<std::int64_t()> now_ms_;
  const EngineHooks& hooks_;
};

}  // namespace hookd::api

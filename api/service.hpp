// The public API: routes, authentication, idempotency and the commit of each request's changes.
//
// Handlers are plain synchronous functions (they read and write RocksDB, which blocks), so the
// service runs them on a pool of blocking threads and hands the answer back to the connection.
// Mutating requests of the management API are serialized by one lock held across check, act and
// commit: uniqueness checks and idempotency records can then never race. They are rare enough
// that one lock costs nothing measurable; event ingress will not take it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.hpp"
#include "api/idempotency.hpp"
#include "api/router.hpp"
#include "api/webhooks.hpp"
#include "storage/store.hpp"

namespace hookd::api {

struct ApiOptions {
  std::vector<std::string> event_types;   // the event catalog webhooks may subscribe to
  std::string public_base_url;            // scheme://host[:port] for absolute URLs; empty: from Host
  std::function<std::int64_t()> now_ms;   // the clock, milliseconds since the Unix epoch
};

class ApiService final : public RequestHandler {
 public:
  ApiService(storage::Store& store, net::any_io_executor blocking, ApiOptions options);

  net::awaitable<Response> handle(Request request, RequestInfo info) override;

  // Answers on the calling thread: what handle() runs on the blocking pool.
  Response answer(const Request& request, const RequestInfo& info);

 private:
  // Wraps `handler` with authentication for `scope` and, for mutating methods, the write lock,
  // Idempotency-Key handling and the commit of the changes it made.
  Handler authenticated(storage::Scope scope, Handler handler);
  Response commit(storage::Batch& batch, Response res);

  storage::Store& store_;
  net::any_io_executor blocking_;
  ApiOptions options_;
  WebhooksApi webhooks_;
  Idempotency idempotency_;
  Router router_;
  std::mutex write_mutex_;
};

}  // namespace hookd::api

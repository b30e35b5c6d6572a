// The public API: routes, authentication, idempotency and the commit of each request's changes.
//
// Handlers are plain synchronous functions (they read and write RocksDB, which blocks), so the
// service runs them on a pool of blocking threads and hands the answer back to the connection.
// Mutating requests of the management API are serialized by one lock held across check, act and
// commit: uniqueness checks and idempotency records can then never race. They are rare enough
// that one lock costs nothing measurable. Event ingress takes no lock: its batches go to the group
// committer, and the connection waits for the shared fsync without holding a thread. Its handlers
// block on nothing but store reads, so they run right on the connection's event loop with reads
// limited to memory (Store::MemoryOnlyReads); the rare one that needs a file moves to the pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "api/http_types.hpp"
#include "api/idempotency.hpp"
#include "api/events.hpp"
#include "api/router.hpp"
#include "api/webhooks.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

namespace hookd::api {

struct ApiOptions {
  // Which routes a listener serves: everything, or (when ingress has its own listener) the
  // management API without ingress, or ingress alone.
  enum class Surface { All, Management, Ingress };
  Surface surface = Surface::All;
  std::vector<std::string> event_types;   // the event catalog webhooks may subscribe to
  std::string public_base_url;            // scheme://host[:port] for absolute URLs; empty: from Host
  std::function<std::int64_t()> now_ms;   // the clock, milliseconds since the Unix epoch
  EngineHooks engine;                     // what the API tells the delivery engine
  std::function<bool()> ready;            // /readyz answers 200 once this holds; unset: always
  std::function<std::string()> metrics;   // the Prometheus text for /metrics; unset: not served
};

class ApiService final : public RequestHandler {
 public:
  ApiService(storage::Store& store, storage::GroupCommitter& committer, net::any_io_executor blocking,
             ApiOptions options);

  net::awaitable<Response> handle(Request request, RequestInfo info) override;

  std::uint64_t events_accepted() const { return events_.accepted(); }

  // The request's X-Request-Id if it is a sane token (1-64 of [A-Za-z0-9._-]), else a new one.
  std::string request_id(const Request& request);

 private:
  // A handler's answer, with the batch it left for the group committer, if any.
  struct Prepared {
    Response response;
    std::optional<storage::Batch> deferred;
    std::function<void(bool)> on_commit;
    std::shared_ptr<const void> held = nullptr;  // Context::held_until_answered
  };
  // Routes and runs the handler on the calling thread. On an event loop, throws WouldBlock for
  // a route that may block or a store read that would (Store::MemoryOnlyReads is the caller's).
  Prepared prepare(const Request& request, const RequestInfo& info, const std::string& request_id,
                   bool on_event_loop = false);
  // The answer to a request, and whether its deferred batch (if any) became durable.
  struct Answered {
    Response response;
    storage::WriteStatus status;
    std::shared_ptr<const void> held = nullptr;  // Context::held_until_answered, let go before answering
  };
  // Runs prepare() where it is cheapest: right on the caller's event loop if the route and the
  // store reads it needs do not block (event ingress, normally), else on the blocking pool. The
  // deferred batch goes from there straight to the group committer (its on_commit runs on the
  // committer's thread), and the answer completes on the caller's executor. So an event costs
  // two thread hand-offs (to the committer and back) instead of four.
  template <class CompletionToken>
  auto async_prepare_and_commit(const Request& request, const RequestInfo& info, const std::string& request_id,
                                CompletionToken&& token);

  // Wraps `handler` with authentication for `scope` and, for mutating methods, the write lock,
  // Idempotency-Key handling and the commit of the changes it made.
  Handler authenticated(storage::Scope scope, Handler handler);
  // Ingress: authentication for `publish`; the handler leaves its batch in ctx.deferred.
  Handler publishing(Handler handler);
  Response commit(Context& ctx, storage::Batch& batch, Response res);

  storage::Store& store_;
  ApiKeyCache api_keys_;
  storage::GroupCommitter& committer_;
  net::any_io_executor blocking_;
  ApiOptions options_;
  WebhooksApi webhooks_;
  EventsApi events_;
  Idempotency idempotency_;
  Router router_;
  std::mutex write_mutex_;
  std::string request_id_prefix_;                   // random per process, so ids differ across restarts
  std::atomic<std::uint64_t> request_counter_{0};
};

}  // namespace hookd::api

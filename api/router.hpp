// Maps method and path to a handler, with path parameters: add(verb::get, "/v2/webhooks/:id/", h).
// A trailing slash is optional on every path. An unknown path answers 404, a known path with another
// method answers 405 with an Allow header. Path parameters arrive percent-decoded.
#pragma once

#include <boost/url/url_view.hpp>
#include <functional>
#include <optional>
#include <stdexcept>

#include "storage/store.hpp"
#include <string>
#include <vector>

#include "api/http_types.hpp"

namespace hookd::api {

// Everything a handler sees of one request.
struct Context {
  const Request& request;
  boost::urls::url_view target;     // the parsed request target (path and query)
  std::vector<std::string> params;  // path parameters in pattern order, decoded
  std::string base_url;             // scheme://host[:port] for absolute URLs in answers
  std::string integration_id;       // set once the request is authenticated
  storage::Batch* batch = nullptr;  // mutating handlers put their changes here; committed after
  // Ingress handlers instead hand over their own batch, which the service group-commits without
  // holding a thread; on_commit then learns whether it became durable (on the committer's
  // thread, for a deferred batch: keep it short).
  std::optional<storage::Batch> deferred;
  std::function<void(bool durable)> on_commit;
  // Routed on an event loop's thread: only routes added as event-loop safe may run (see Router).
  bool on_event_loop = false;
  // Kept until the answer is ready on the caller's thread, after on_commit: what the request
  // claimed (publisher ids), so that the committer's thread does not spend its time releasing it.
  std::shared_ptr<const void> held_until_answered = nullptr;
};

// Thrown where work would block an event loop's thread; the caller runs it on a blocking thread.
struct WouldBlock : std::runtime_error {
  WouldBlock() : std::runtime_error("would block") {}
};

using Handler = std::function<Response(Context&)>;

class Router {
 public:
  // An event-loop-safe route's handler blocks on nothing but store reads (which a
  // Store::MemoryOnlyReads guard turns into errors): it may run on an event loop's thread.
  enum class Blocking { May, OnlyOnStoreReads };
  void add(http::verb method, std::string_view pattern, Handler handler, Blocking blocking = Blocking::May);

  // Finds the route for the request in `ctx`, fills ctx.params and runs it. 404/405 otherwise.
  // With ctx.on_event_loop, throws WouldBlock instead of running a route that may block.
  Response route(Context& ctx) const;

 private:
  struct Route {
    http::verb method;
    std::vector<std::string> segments;  // ":name" marks a parameter
    Handler handler;
    Blocking blocking;
  };
  static bool match(const Route& route, const std::vector<std::string>& path, std::vector<std::string>& params);
  std::vector<Route> routes_;
};

}  // namespace hookd::api

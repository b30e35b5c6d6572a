// Maps method and path to a handler, with path parameters: add(verb::get, "/v2/webhooks/:id/", h).
// A trailing slash is optional on every path. An unknown path answers 404, a known path with another
// method answers 405 with an Allow header. Path parameters arrive percent-decoded.
#pragma once

#include <boost/url/url_view.hpp>
#include <functional>
#include <optional>

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
};

using Handler = std::function<Response(Context&)>;

class Router {
 public:
  void add(http::verb method, std::string_view pattern, Handler handler);

  // Finds the route for the request in `ctx`, fills ctx.params and runs it. 404/405 otherwise.
  Response route(Context& ctx) const;

 private:
  struct Route {
    http::verb method;
    std::vector<std::string> segments;  // ":name" marks a parameter
    Handler handler;
  };
  static bool match(const Route& route, const std::vector<std::string>& path, std::vector<std::string>& params);
  std::vector<Route> routes_;
};

}  // namespace hookd::api

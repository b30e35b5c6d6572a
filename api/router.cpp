#include "api/router.hpp"

#include <boost/url/parse_path.hpp>

#include "api/errors.hpp"

namespace hookd::api {
namespace {

// Path segments without empty ones, so that "/a/b/" and "/a/b" are the same path.
std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

void Router::add(http::verb method, std::string_view pattern, Handler handler, Blocking blocking) {
  routes_.push_back(Route{method, split(pattern), std::move(handler), blocking});
}

bool Router::match(const Route& route, const std::vector<std::string>& path, std::vector<std::string>& params) {
  if (route.segments.size() != path.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto& want = route.segments[i];
    if (!want.empty() && want[0] == ':')
      params.push_back(path[i]);
    else if (want != path[i])
      return false;
  }
  return true;
}

Response Router::route(Context& ctx) const {
  std::vector<std::string> path;
  for (auto segment : ctx.target.segments())
    if (!segment.empty()) path.push_back(segment);

  std::string allow;
  std::vector<std::string> params;
  for (const auto& r : routes_) {
    if (!match(r, path, params)) continue;
    if (r.method == ctx.request.method()) {
      if (ctx.on_event_loop && r.blocking == Blocking::May) throw WouldBlock();
      ctx.params = std::move(params);
      return r.handler(ctx);
    }
    if (!allow.empty()) allow += ", ";
    allow += std::string(http::to_string(r.method));
  }
  if (allow.empty()) return error_response(ApiError::NotFound);
  std::string detail = "Method \"" + std::string(ctx.request.method_string()) + "\" not allowed.";
  Response res = error_response(ApiError::MethodNotAllowed, detail);
  res.set(http::field::allow, allow);
  return res;
}

}  // namespace hookd::api

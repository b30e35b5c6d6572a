#include "api/pagination.hpp"

#include <boost/url/url.hpp>
#include <charconv>

#include "api/errors.hpp"

namespace hookd::api {
namespace {

std::optional<std::uint64_t> positive(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

// The absolute URL of this request with `page` set to `page`, or removed for page 1.
boost::json::value page_link(const Context& ctx, std::uint64_t page) {
  boost::urls::url link(ctx.target);
  if (page == 1)
    link.params().erase("page");
  else
    link.params().set("page", std::to_string(page));
  return boost::json::value(ctx.base_url + std::string(link.buffer()));
}

}  // namespace

std::variant<PageRequest, Response> page_request(const Context& ctx) {
  PageRequest req;
  auto params = ctx.target.params();
  if (auto it = params.find("page"); it != params.end()) {
    auto page = (*it).has_value ? positive((*it).value) : std::nullopt;
    if (!page) return error_response(ApiError::InvalidPage);
    req.page = *page;
  }
  if (auto it = params.find("page_size"); it != params.end() && (*it).has_value) {
    if (auto size = positive((*it).value)) req.page_size = std::min(*size, kMaxPageSize);
  }
  return req;
}

Response page_response(const Context& ctx, const PageRequest& page, std::uint64_t total, boost::json::array results) {
  std::uint64_t pages = total == 0 ? 1 : (total + page.page_size - 1) / page.page_size;
  if (page.page > pages) return error_response(ApiError::InvalidPage);
  boost::json::object body;
  body["count"] = total;
  body["next"] = page.page < pages ? page_link(ctx, page.page + 1) : nullptr;
  body["previous"] = page.page > 1 ? page_link(ctx, page.page - 1) : nullptr;
  body["results"] = std::move(results);
  return json_response(http::status::ok, body);
}

}  // namespace hookd::api

// Page-number pagination as the documented API does it: ?page=N&page_size=M, answers
// {"count", "next", "previous", "results"} with absolute URLs that keep the other query parameters.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <variant>

#include "api/router.hpp"

namespace hookd::api {

struct PageRequest {
  std::uint64_t page = 1;       // 1-based
  std::uint64_t page_size = 25;
  std::uint64_t offset() const { return (page - 1) * page_size; }
};

inline constexpr std::uint64_t kDefaultPageSize = 25;
inline constexpr std::uint64_t kMaxPageSize = 100;

// The page asked for. A page that is not a positive number is 404 "Invalid page.";
// a page_size that is not a positive number falls back to the default, and is capped at 100.
std::variant<PageRequest, Response> page_request(const Context& ctx);

// The list answer for `results` (the items of `page`) out of `total`; 404 if the page is past the end.
Response page_response(const Context& ctx, const PageRequest& page, std::uint64_t total, boost::json::array results);

// A whole list endpoint: reads the page asked for, fetches it with fetch(offset, limit) (a
// storage::Page<T>), shows each item with to_json(item), and answers.
template <class Fetch, class ToJson>
Response paginate(const Context& ctx, Fetch&& fetch, ToJson&& to_json) {
  auto page = page_request(ctx);
  if (auto* error = std::get_if<Response>(&page)) return std::move(*error);
  const auto& p = std::get<PageRequest>(page);
  auto items = fetch(p.offset(), p.page_size);
  boost::json::array results;
  for (const auto& item : items.items) results.push_back(to_json(item));
  return page_response(ctx, p, items.total, std::move(results));
}

}  // namespace hookd::api

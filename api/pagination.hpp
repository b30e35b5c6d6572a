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

}  // namespace hookd::api

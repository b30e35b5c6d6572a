// Bodies for event ingress: one event (POST /v2/events/) or a batch (/batch/), as JSON or
// form-encoded, chosen by the first byte. An accepted event must be retrievable afterwards.
#include <boost/json.hpp>

#include "tests/fuzz/fuzz_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hookd;
  if (size == 0) return 0;
  auto& api = fuzz::FuzzApi::get();
  bool batch = data[0] & 1;
  std::string_view type = data[0] & 2 ? "application/x-www-form-urlencoded" : "application/json";
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto res = api.send(api.authorized(http::verb::post, batch ? "/v2/events/batch/" : "/v2/events/", type, body));
  auto status = res.result();
  if (status == http::status::accepted || status == http::status::ok) {
    auto answer = boost::json::parse(res.body());
    boost::json::array events = batch ? answer.at("events").as_array() : boost::json::array{answer};
    for (const auto& event : events) {
      std::string id(event.at("id").as_string());
      auto again = api.send(api.authorized(http::verb::get, "/v2/events/" + fuzz::path_segment(id) + "/"));
      if (again.result() != http::status::ok) fuzz::fail("an accepted event cannot be retrieved: " + id);
    }
  } else if (status != http::status::bad_request && status != http::status::unsupported_media_type) {
    fuzz::fail("unexpected status " + std::to_string(res.result_int()) + ": " + res.body());
  }
  return 0;
}

// Bodies for the webhook endpoints: create (POST), update (PATCH) and replace (PUT), as JSON or
// form-encoded, chosen by the first byte; the rest is the body. Whatever is accepted must be a
// webhook the API can show again.
#include <boost/json.hpp>

#include "tests/fuzz/fuzz_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hookd;
  if (size == 0) return 0;
  auto& api = fuzz::FuzzApi::get();
  const http::verb methods[] = {http::verb::post, http::verb::patch, http::verb::put};
  http::verb method = methods[(data[0] & 3) % 3];
  std::string_view type = data[0] & 4 ? "application/x-www-form-urlencoded" : "application/json";
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  // Updates go to a fresh webhook each time, so that one accepted update does not steer the rest.
  std::string target = "/v2/webhooks/";
  if (method != http::verb::post) {
    auto made = api.send(api.authorized(http::verb::post, "/v2/webhooks/", "application/json",
                                        R"({"url": "https://receiver.example/h", "events": ["Payout.created"]})"));
    if (made.result() != http::status::created) fuzz::fail("could not create a webhook to update");
    target += fuzz::path_segment(boost::json::parse(made.body()).at("id").as_string()) + "/";
  }
  auto res = api.send(api.authorized(method, target, type, body));
  if (res.result() == http::status::created || res.result() == http::status::ok) {
    auto shown = boost::json::parse(res.body()).as_object();
    std::string id(shown.at("id").as_string());
    auto again = api.send(api.authorized(http::verb::get, "/v2/webhooks/" + fuzz::path_segment(id) + "/"));
    if (again.result() != http::status::ok) fuzz::fail("an accepted webhook cannot be retrieved: " + id);
    if (boost::json::parse(again.body()) != boost::json::value(shown)) fuzz::fail("a retrieved webhook differs from the answer");
    api.send(api.authorized(http::verb::delete_, "/v2/webhooks/" + fuzz::path_segment(id) + "/"));  // keep the list short
  } else if (res.result() != http::status::bad_request && res.result() != http::status::not_found &&
             res.result() != http::status::conflict) {
    fuzz::fail("unexpected status " + std::to_string(res.result_int()) + ": " + res.body());
  }
  return 0;
}

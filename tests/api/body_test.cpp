// Request bodies parsed into a BodyArena: the same documents as on the heap, whatever their size,
// and never two documents in one buffer.
#include "api/body.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hookd::api {
namespace {

namespace json = boost::json;

constexpr FieldKind kFields[] = {{"events", FieldKind::List}};

Request json_request(const json::value& body) {
  Request request(http::verb::post, "/v2/events/batch/", 11);
  request.set(http::field::content_type, "application/json");
  request.body() = json::serialize(body);
  return request;
}

// A batch of `n` events of about 1 KiB each, every one different.
json::value batch_of(int n) {
  json::array events;
  for (int i = 0; i < n; ++i)
    events.push_back(json::object{{"id", "evt-" + std::to_string(i)},
                                  {"type", "Payout.created"},
                                  {"data", {{"n", i}, {"note", std::string(1000, static_cast<char>('a' + i % 26))}}}});
  return json::object{{"events", std::move(events)}};
}

json::object parsed(const Request& request, json::storage_ptr storage = {}) {
  auto body = parse_body(request, kFields, std::move(storage));
  EXPECT_TRUE(std::holds_alternative<json::object>(body));
  return std::get<json::object>(std::move(body));
}

TEST(Body, DocumentsInAnArenaEqualThoseOnTheHeapBelowAndBeyondItsBuffer) {
  for (int n : {1, 100, 1000}) {  // the last is about 1 MiB, four times the buffer
    auto request = json_request(batch_of(n));
    json::object on_heap = parsed(request);
    BodyArena arena;
    json::object in_arena = parsed(request, arena.storage());
    EXPECT_EQ(in_arena, on_heap) << n << " events";
    EXPECT_EQ(in_arena.at("events").as_array().size(), static_cast<std::size_t>(n));
  }
}

TEST(Body, ASecondArenaOnTheSameThreadUsesTheHeapAndLeavesTheFirstDocumentIntact) {
  auto first_request = json_request(batch_of(100));
  auto expected = parsed(first_request);
  BodyArena outer;
  EXPECT_NE(outer.storage().get(), json::storage_ptr().get());  // the thread's buffer
  json::object first = parsed(first_request, outer.storage());
  {
    BodyArena inner;
    EXPECT_EQ(inner.storage().get(), json::storage_ptr().get());  // the heap
    json::object second = parsed(json_request(batch_of(200)), inner.storage());
    EXPECT_EQ(second.at("events").as_array().size(), 200u);
  }
  EXPECT_EQ(first, expected);  // not overwritten by the second document
}

TEST(Body, TheBufferIsFreeAgainOnceItsArenaEnds) {
  { BodyArena arena; }
  BodyArena next;
  EXPECT_NE(next.storage().get(), json::storage_ptr().get());
}

}  // namespace
}  // namespace hookd::api

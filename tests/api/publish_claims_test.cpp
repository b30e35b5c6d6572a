// A publisher id is claimed while a request publishes it: another request with that id is answered
// 409 at once, and once the first request's answer is ready the id is free again and names the
// first event. The group committer is held (a batch whose callback waits) so that the first
// request stays between its claim and its commit for as long as the test needs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <optional>

#include "api/admin.hpp"
#include "api/service.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class PublishClaims : public ::testing::Test {
 protected:
  PublishClaims() {
    storage::Store::Options options;
    options.path = dir_.str();
    options.min_free_bytes = 0;
    store_.emplace(options);
    committer_.emplace(*store_);
    auto first = Admin(*store_, now_ms).bootstrap();
    integration_ = first->at("integration").at("id").as_string();
    key_ = first->at("key").at("key").as_string();
    ApiOptions api_options;
    api_options.event_types = {"Payout.created"};
    api_options.now_ms = now_ms;
    api_.emplace(*store_, *committer_, blocking_.get_executor(), std::move(api_options));
  }

  ~PublishClaims() override {
    release_committer();
    api_.reset();
    blocking_.join();
  }

  Request publish(std::string_view target, const json::value& body) const {
    Request request(http::verb::post, target, 11);
    request.set(http::field::host, "hookd.test");
    request.set(http::field::authorization, "Token " + key_);
    request.set("Integration-ID", integration_);
    request.set(http::field::content_type, "application/json");
    request.body() = json::serialize(body);
    request.prepare_payload();
    return request;
  }

  static json::object event(std::string_view id, int n) {
    return {{"id", id}, {"type", "Payout.created"}, {"data", {{"n", n}}}};
  }

  // Starts `request` on `io`; its answer lands in `answer` when `io` runs it to the end.
  void start(net::io_context& io, Request request, std::optional<Response>& answer) {
    net::co_spawn(io, api_->handle(std::move(request), RequestInfo{}),
                  [&answer](std::exception_ptr error, Response res) {
                    ASSERT_FALSE(error);
                    answer = std::move(res);
                  });
  }

  // The answer to `request`, or nullopt if none came within a few seconds (it waits for a commit).
  std::optional<Response> send(Request request) {
    net::io_context io;
    std::optional<Response> answer;
    start(io, std::move(request), answer);
    io.run_for(std::chrono::seconds(5));
    return answer;
  }

  // The answer's status, or 0 for none.
  static unsigned status(const std::optional<Response>& answer) { return answer ? answer->result_int() : 0; }

  // Makes the committer's thread wait inside a batch's callback until release_committer().
  void hold_committer() {
    storage::Batch batch = store_->batch();
    batch.put_event({"another-integration", 1, "unrelated", "Payout.created", "{}", now_ms()});
    committer_->submit(std::move(batch), [this](const storage::WriteStatus&) {
      inside_.set_value();
      released_.get_future().wait();
    });
    inside_.get_future().wait();
  }

  void release_committer() {
    if (!committer_released_) released_.set_value();
    committer_released_ = true;
  }

  test::TempDir dir_;
  std::optional<storage::Store> store_;
  std::optional<storage::GroupCommitter> committer_;
  net::thread_pool blocking_{1};
  std::optional<ApiService> api_;
  std::string integration_, key_;
  std::promise<void> inside_, released_;  // members: set on the committer's thread, which may still
                                          // be in set_value() when the waiter wakes
  bool committer_released_ = false;
};

TEST_F(PublishClaims, AnIdBeingPublishedIsRefusedUntilTheFirstAnswerIsReady) {
  hold_committer();
  net::io_context first_io;
  std::optional<Response> first;
  start(first_io, publish("/v2/events/", event("evt-1", 1)), first);
  // On a fresh store every read it needs is in memory, so the request runs on this thread to
  // its commit: evt-1 is claimed and its batch waits behind the held one.
  first_io.poll();
  EXPECT_FALSE(first) << "answered before its commit";

  // (No ASSERT before the committer is let go: first_io must outlive the first request.)
  auto single = send(publish("/v2/events/", event("evt-1", 2)));
  EXPECT_EQ(status(single), 409u) << "a request with an id being published must be refused, not wait";
  auto batch = send(publish("/v2/events/batch/", {{"events", {event("evt-2", 3), event("evt-1", 4)}}}));
  EXPECT_EQ(status(batch), 409u);

  release_committer();
  first_io.restart();
  first_io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result(), http::status::accepted) << first->body();

  // Free again as soon as the first answer is ready: the same id now names the first event.
  auto again = send(publish("/v2/events/", event("evt-1", 5)));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->result(), http::status::ok) << again->body();
  EXPECT_EQ(json::parse(again->body()), json::parse(first->body()));
  // The refused batch claimed nothing: evt-2 is free to publish.
  auto other = send(publish("/v2/events/", event("evt-2", 6)));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->result(), http::status::accepted) << other->body();
}

}  // namespace
}  // namespace hookd::api

// A publisher id is claimed while a request publishes it: another request with that id is answered
// 409 at once, and once the first request's answer is ready the id is free again and names the
// first event. The group committer is held (a batch whose callback waits) so that the first
// request stays between its claim and its commit for as long as the test needs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "api/admin.hpp"
#include "api/service.hpp"
#include "daemon/app.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

class PublishClaims : public ::testing::Test {
 protected:
  PublishClaims() {
    storage::Store::Options options;
    options.path = dir_.str();
    options.min_free_bytes = 0;
    store_.emplace(options);
    committer_.emplace(*store_);
    auto first = Admin(*store_, system_now_ms).bootstrap();
    integration_ = first->at("integration").at("id").as_string();
    key_ = first->at("key").at("key").as_string();
    ApiOptions api_options;
    api_options.event_types = {"Payout.created"};
    api_options.now_ms = system_now_ms;
    api_.emplace(*store_, *committer_, blocking_.get_executor(), std::move(api_options));
  }

  ~PublishClaims() override {
    release_committer();
    for (auto& call : calls_) {  // each to its end before its io_context goes
      call->io.restart();
      call->io.run_for(std::chrono::seconds(5));
    }
    calls_.clear();
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

  // A request and the io_context its coroutine runs on. The fixture keeps every one until the
  // committer is let go and the request has ended: one still waiting for its commit when a check
  // fails must not complete into an io_context that is gone.
  struct Call {
    net::io_context io;
    std::optional<Response> answer;
  };

  // Starts `request`; its answer lands in the call's `answer` when its io_context runs it to the end.
  Call& start(Request request) {
    Call& call = *calls_.emplace_back(std::make_unique<Call>());
    net::co_spawn(call.io, api_->handle(std::move(request), RequestInfo{}), [&call](std::exception_ptr error, Response res) {
      EXPECT_FALSE(error);
      call.answer = std::move(res);
    });
    return call;
  }

  // The answer to `request`, or nullopt if none came within a few seconds (it waits for a commit).
  const std::optional<Response>& send(Request request) {
    Call& call = start(std::move(request));
    call.io.run_for(std::chrono::seconds(5));
    return call.answer;
  }

  // The answer's status, or 0 for none.
  static unsigned status(const std::optional<Response>& answer) { return answer ? answer->result_int() : 0; }

  // Makes the committer's thread wait inside a batch's callback until release_committer().
  void hold_committer() {
    storage::Batch batch = store_->batch();
    batch.put_event({"another-integration", 1, "unrelated", "Payout.created", "{}", system_now_ms()});
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
  std::vector<std::unique_ptr<Call>> calls_;
};

TEST_F(PublishClaims, AnIdBeingPublishedIsRefusedUntilTheFirstAnswerIsReady) {
  hold_committer();
  Call& first = start(publish("/v2/events/", event("evt-1", 1)));
  // On a fresh store every read it needs is in memory, so the request runs on this thread to
  // its commit: evt-1 is claimed and its batch waits behind the held one.
  first.io.poll();
  ASSERT_FALSE(first.answer) << "answered before its commit";

  auto single = send(publish("/v2/events/", event("evt-1", 2)));
  EXPECT_EQ(status(single), 409u) << "a request with an id being published must be refused, not wait";
  auto batch = send(publish("/v2/events/batch/", {{"events", {event("evt-2", 3), event("evt-1", 4)}}}));
  EXPECT_EQ(status(batch), 409u);

  release_committer();
  first.io.restart();
  first.io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(first.answer);
  EXPECT_EQ(first.answer->result(), http::status::accepted) << first.answer->body();

  // Free again as soon as the first answer is ready: the same id now names the first event.
  auto again = send(publish("/v2/events/", event("evt-1", 5)));
  ASSERT_EQ(status(again), 200u);
  EXPECT_EQ(json::parse(again->body()), json::parse(first.answer->body()));
  // The refused batch claimed nothing: evt-2 is free to publish.
  EXPECT_EQ(status(send(publish("/v2/events/", event("evt-2", 6)))), 202u);
}

}  // namespace
}  // namespace hookd::api

// Idempotency-Key (SPEC §2): replay, mismatch, scope, expiry after 24 hours, concurrency.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

const json::value kBody = {{"url", "https://a.example/"}, {"events", {"Payout.created"}}};

class IdempotencyTest : public ::testing::Test {
 protected:
  TestDaemon daemon;
  ApiClient api = daemon.client();
  std::int64_t count() { return api.get("/v2/webhooks/").json().at("count").as_int64(); }
};

TEST_F(IdempotencyTest, RepeatReturnsTheFirstResponseWithoutActing) {
  Headers key = {{"Idempotency-Key", "create-1"}};
  auto first = api.post("/v2/webhooks/", kBody, key);
  ASSERT_EQ(first.status, 201);
  EXPECT_EQ(first.header("Idempotent-Replayed"), "");
  auto again = api.post("/v2/webhooks/", kBody, key);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);  // same id, same generated secret
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(count(), 1);
}

TEST_F(IdempotencyTest, ReuseWithAnotherBodyOrPathIs400) {
  Headers key = {{"Idempotency-Key", "k"}};
  ASSERT_EQ(api.post("/v2/webhooks/", kBody, key).status, 201);
  auto other_body = api.post("/v2/webhooks/", json::value{{"url", "https://b.example/"}, {"events", {"Payout.created"}}}, key);
  EXPECT_EQ(other_body.status, 400);
  EXPECT_TRUE(other_body.json().as_object().contains("detail"));
  std::string id(api.get("/v2/webhooks/").json().at("results").at(0).at("id").as_string());
  EXPECT_EQ(api.patch("/v2/webhooks/" + id + "/", json::object{}, key).status, 400);
  EXPECT_EQ(count(), 1);
}

TEST_F(IdempotencyTest, PatchAndPutReplay) {
  ASSERT_EQ(api.post("/v2/webhooks/", json::value{{"id", "w"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}}).status, 201);
  Headers key = {{"Idempotency-Key", "put-1"}};
  auto first = api.put("/v2/webhooks/w/", kBody, key);  // generates a new secret
  ASSERT_EQ(first.status, 200);
  auto again = api.put("/v2/webhooks/w/", kBody, key);
  EXPECT_EQ(again.body, first.body);  // not a second new secret
  EXPECT_EQ(api.get("/v2/webhooks/w/").body, first.body);
}

TEST_F(IdempotencyTest, ValidationFailuresAreNotStored) {
  Headers key = {{"Idempotency-Key", "fix-me"}};
  EXPECT_EQ(api.post("/v2/webhooks/", json::value{{"url", "bad"}}, key).status, 400);
  auto fixed = api.post("/v2/webhooks/", kBody, key);
  EXPECT_EQ(fixed.status, 201);
  EXPECT_EQ(fixed.header("Idempotent-Replayed"), "");
}

TEST_F(IdempotencyTest, KeysAreScopedPerIntegration) {
  auto r = run_hookd({"integration", "create", "--data-dir", daemon.data_dir(), "--name", "b", "--id", "b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto key = json::parse(run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", "b"}).out);
  ApiClient other(daemon.port(), std::string(key.at("key").as_string()), "b");
  Headers idem = {{"Idempotency-Key", "shared"}};
  auto mine = api.post("/v2/webhooks/", kBody, idem);
  auto theirs = other.post("/v2/webhooks/", kBody, idem);
  EXPECT_EQ(theirs.status, 201);
  EXPECT_EQ(theirs.header("Idempotent-Replayed"), "");
  EXPECT_NE(mine.json().at("id"), theirs.json().at("id"));
}

TEST_F(IdempotencyTest, RecordsExpireAfter24Hours) {
  Headers key = {{"Idempotency-Key", "day"}};
  auto first = api.post("/v2/webhooks/", kBody, key);
  daemon.clock().advance_ms(24LL * 3600 * 1000 - 60'000);  // a minute short of a day: still kept
  EXPECT_EQ(api.post("/v2/webhooks/", kBody, key).header("Idempotent-Replayed"), "true");
  daemon.clock().advance_ms(60'000);
  auto later = api.post("/v2/webhooks/", kBody, key);
  EXPECT_EQ(later.status, 201);
  EXPECT_EQ(later.header("Idempotent-Replayed"), "");
  EXPECT_NE(later.json().at("id"), first.json().at("id"));
  EXPECT_EQ(count(), 2);
}

TEST_F(IdempotencyTest, ConcurrentRepeatsActOnce) {
  constexpr int kThreads = 8;
  std::vector<std::string> bodies(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      ApiClient c = daemon.client();
      bodies[static_cast<std::size_t>(i)] = c.post("/v2/webhooks/", kBody, {{"Idempotency-Key", "race"}}).body;
    });
  for (auto& t : threads) t.join();
  for (const auto& b : bodies) EXPECT_EQ(b, bodies[0]);
  EXPECT_EQ(count(), 1);
}

}  // namespace
}  // namespace hookd::test

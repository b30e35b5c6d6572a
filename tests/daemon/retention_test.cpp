// Retention in the running daemon (engine/retention.hpp, SPEC §6): `retention.days` after an
// event's deliveries have finished, the event, its deliveries and their attempts are gone, and
// idempotency records a day after they were made; what is still being delivered stays. The
// test's clock jumps by days instead of waiting for them.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

HttpResult publish(ApiClient& api, const std::string& id) {
  return api.post("/v2/events/", json::object{{"id", id}, {"type", "Payout.created"}, {"data", {{"id", id}}}});
}

std::string state_of(ApiClient& api, const std::string& event) {
  auto e = api.get("/v2/events/" + event + "/");
  if (e.status != 200) return "";
  return std::string(e.json().at("deliveries").at(0).at("state").as_string());
}

// What /metrics says of retention.
struct Retention {
  explicit Retention(std::uint16_t port) : http(port) {}
  double passes() { return sample("hookd_retention_passes_total"); }
  double removed(const std::string& kind) { return sample("hookd_retention_removed_total{kind=\"" + kind + "\"}"); }
  // Waits until two more passes have finished: the second began after this call.
  bool next_pass_done() {
    double now = passes();
    return wait_until([&] { return passes() >= now + 2; });
  }
  double sample(const std::string& name) { return metric_sample(http.request(http::verb::get, "/metrics").body, name); }
  HttpClient http;
};

TEST(RetentionDaemon, FinishedEventsGoAfterRetentionDaysAndEventsStillBeingDeliveredStay) {
  Receiver receiver;
  receiver.script([](const ReceivedRequest& r, std::size_t) {
    Reply reply;
    reply.status = r.body.find("stuck") != std::string::npos ? 500 : 200;
    return reply;
  });
  TestDaemon daemon([](Settings& s) {
    s.delivery.allow_private_targets = true;
    s.retry.schedule_ms = {10 * kDayMs};  // the stuck event is retried every ten days
    s.retention.interval_ms = 20;
  });
  ApiClient api = daemon.client();
  Retention retention(daemon.port());
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "w"}, {"url", receiver.url()}, {"events", {"Payout.created"}}}).status, 201);
  ASSERT_EQ(publish(api, "evt-stuck").status, 202);
  ASSERT_EQ(publish(api, "evt-done").status, 202);
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"url", receiver.url()}, {"events", {"Invoice.paid"}}},
                     {{"Idempotency-Key", "create-1"}}).status, 201);
  ASSERT_TRUE(wait_until([&] { return state_of(api, "evt-done") == "succeeded" && state_of(api, "evt-stuck") == "retrying"; }));

  // 29 days later the idempotency record has expired and goes; the event stays.
  daemon.clock().advance_ms(29 * kDayMs);
  ASSERT_TRUE(retention.next_pass_done());
  EXPECT_EQ(retention.removed("idempotency_records"), 1);
  EXPECT_EQ(retention.removed("events"), 0);
  EXPECT_EQ(api.get("/v2/events/evt-done/").status, 200);

  // 31 days later the delivered event goes with its delivery and its attempt.
  daemon.clock().advance_ms(2 * kDayMs);
  ASSERT_TRUE(retention.next_pass_done());
  EXPECT_EQ(retention.removed("events"), 1);
  EXPECT_EQ(retention.removed("deliveries"), 1);
  EXPECT_EQ(api.get("/v2/events/evt-done/").status, 404);
  EXPECT_EQ(state_of(api, "evt-stuck"), "retrying");
  auto listed = api.get("/v2/webhooks/w/deliveries/").json();
  ASSERT_EQ(listed.at("count"), 1) << listed;
  auto events = api.get("/v2/events/").json();
  ASSERT_EQ(events.at("count"), 1) << events;
  EXPECT_EQ(events.at("results").at(0).at("id"), "evt-stuck");

  // The removed event's id is free: publishing it again is a new event, delivered again.
  ASSERT_EQ(publish(api, "evt-done").status, 202);
  EXPECT_TRUE(wait_until([&] { return state_of(api, "evt-done") == "succeeded"; }));

  // After a restart the same holds, and the stuck event is still scheduled.
  daemon.restart();
  ApiClient after = daemon.client();
  EXPECT_EQ(after.get("/v2/events/").json().at("count"), 2);
  EXPECT_EQ(state_of(after, "evt-stuck"), "retrying");
  auto stuck = after.get("/v2/webhooks/w/deliveries/").json().at("results").at(0);
  EXPECT_EQ(stuck.at("event_id"), "evt-stuck");
  EXPECT_TRUE(stuck.at("next_attempt_at").is_string()) << stuck;
}

TEST(RetentionDaemon, ZeroDaysKeepsEverything) {
  Receiver receiver;
  TestDaemon daemon([](Settings& s) {
    s.delivery.allow_private_targets = true;
    s.retention.days = 0;
    s.retention.interval_ms = 20;
  });
  ApiClient api = daemon.client();
  Retention retention(daemon.port());
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"url", receiver.url()}, {"events", {"Payout.created"}}}).status, 201);
  ASSERT_EQ(publish(api, "evt-1").status, 202);
  ASSERT_TRUE(wait_until([&] { return state_of(api, "evt-1") == "succeeded"; }));
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"url", receiver.url()}, {"events", {"Invoice.paid"}}},
                     {{"Idempotency-Key", "create-1"}}).status, 201);
  daemon.clock().advance_ms(3650 * kDayMs);
  ASSERT_TRUE(retention.next_pass_done());
  // Idempotency records still expire; the event stays.
  EXPECT_EQ(retention.removed("idempotency_records"), 1);
  EXPECT_EQ(retention.removed("events"), 0);
  EXPECT_EQ(state_of(api, "evt-1"), "succeeded");
}

}  // namespace
}  // namespace hookd::test

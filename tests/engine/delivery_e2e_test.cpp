// Delivery end to end: a real daemon publishes to real receivers on loopback, over HTTP and HTTPS.
// Retry schedules are set to milliseconds so that every retry test runs fast.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "api/format.hpp"
#include "signing/crypto.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

void fast_local(Settings& s) {
  s.delivery.allow_private_targets = true;
  s.delivery.timeout_ms = 2000;
  s.retry.schedule_ms = {20};
}

json::value webhook(const std::string& id, const std::string& url, json::array events, std::string secret = "") {
  json::object o{{"id", id}, {"url", url}, {"events", std::move(events)}};
  if (!secret.empty()) o["secret_key"] = secret;
  return o;
}

json::value event(const std::string& type, json::object data, std::string id = "") {
  json::object o{{"type", type}, {"data", std::move(data)}};
  if (!id.empty()) o["id"] = id;
  return o;
}

class DeliveryTest : public ::testing::Test {
 protected:
  explicit DeliveryTest(std::function<void(Settings&)> customize = fast_local) : daemon(std::move(customize)) {}

  // The only delivery of event `event_id`, once it reached `state`.
  json::object wait_for_state(const std::string& event_id, const std::string& state) {
    json::object last;
    bool reached = wait_until([&] {
      auto res = api.get("/v2/events/" + event_id + "/");
      if (res.status != 200) return false;
      json::value body = res.json();
      const auto& deliveries = body.at("deliveries").as_array();
      if (deliveries.empty()) return false;
      last = deliveries.at(0).as_object();
      return last.at("state").as_string() == state;
    });
    EXPECT_TRUE(reached) << event_id << " never reached " << state << ": " << json::serialize(last);
    return last;
  }
  json::array attempts_of(const std::string& webhook_id) {
    return api.get("/v2/webhooks/" + webhook_id + "/deliveries/").json().at("results").at(0).at("attempts").as_array();
  }

  TestDaemon daemon;
  ApiClient api = daemon.client();
};

TEST_F(DeliveryTest, PublishAnswers202OnceAndIsIdempotentById) {
  auto first = api.post("/v2/events/", event("Payout.created", {{"id", "p1"}}, "evt-1"));
  ASSERT_EQ(first.status, 202) << first.body;
  auto o = first.json().as_object();
  EXPECT_EQ(o["id"], "evt-1");
  EXPECT_EQ(o["type"], "Payout.created");
  EXPECT_TRUE(o["created_at"].is_string());
  auto again = api.post("/v2/events/", event("Payout.created", {{"id", "other"}}, "evt-1"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), first.json());
  EXPECT_EQ(api.get("/v2/events/").json().at("count"), 1);
  auto generated = api.post("/v2/events/", event("Payout.created", {}));
  EXPECT_EQ(generated.status, 202);
  EXPECT_EQ(generated.json().at("id").as_string().size(), 36u);
}

TEST_F(DeliveryTest, ABatchAnswersKnownAndRepeatedIdsWithTheirFirstEventAndDeliversOnlyNewOnes) {
  Receiver receiver;
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  auto known = api.post("/v2/events/", event("Payout.created", {{"n", 1}}, "evt-known"));
  ASSERT_EQ(known.status, 202);
  auto res = api.post("/v2/events/batch/",
                      json::object{{"events", {event("Payout.created", {{"n", 2}}, "evt-new"),
                                               event("Invoice.paid", {{"n", 3}}, "evt-known"),
                                               event("Payout.created", {{"n", 4}}, "evt-new"),
                                               event("Payout.created", {{"n", 5}}),
                                               event("Payout.created", {{"n", 6}}, "evt-later")}}});
  ASSERT_EQ(res.status, 202) << res.body;
  auto answers = res.json().at("events").as_array();
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_EQ(answers[0].at("id"), "evt-new");
  EXPECT_EQ(answers[1], known.json());  // the first event, not this request's type
  EXPECT_EQ(answers[2], answers[0]);    // folded into its first occurrence in the batch
  EXPECT_EQ(answers[3].at("id").as_string().size(), 36u);
  EXPECT_EQ(answers[4].at("id"), "evt-later");

  // Four events in all, each delivered once: the known one not again, the repeat not at all.
  ASSERT_TRUE(wait_until([&] {
    auto events = api.get("/v2/events/").json().at("results").as_array();
    return std::all_of(events.begin(), events.end(),
                       [](const json::value& e) { return e.at("deliveries").at(0).at("state") == "succeeded"; });
  }));
  EXPECT_EQ(api.get("/v2/events/").json().at("count"), 4);
  std::multiset<std::string> bodies;
  for (const auto& r : receiver.requests()) bodies.insert(r.body);
  EXPECT_EQ(bodies, (std::multiset<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":5})", R"({"n":6})"}));

  // The same ids again, all published by now: the first batch's claims on them were let go with
  // its answer, each answers with its first event, and nothing is written.
  auto again = api.post("/v2/events/batch/",
                        json::object{{"events", {event("Payout.created", {{"n", 7}}, "evt-later"),
                                                 event("Payout.created", {{"n", 8}}, "evt-new"),
                                                 event("Payout.created", {{"n", 9}}, "evt-known")}}});
  ASSERT_EQ(again.status, 202) << again.body;
  auto repeated = again.json().at("events").as_array();
  ASSERT_EQ(repeated.size(), 3u);
  EXPECT_EQ(repeated[0], answers[4]);
  EXPECT_EQ(repeated[1], answers[0]);
  EXPECT_EQ(repeated[2], known.json());
  EXPECT_EQ(api.get("/v2/events/").json().at("count"), 4);
  for (const char* id : {"evt-known", "evt-new", "evt-later"}) {
    auto deliveries = api.get(std::string("/v2/events/") + id + "/").json().at("deliveries").as_array();
    EXPECT_EQ(deliveries.size(), 1u) << id;
  }
}

TEST_F(DeliveryTest, PublishValidation) {
  auto bad = api.post("/v2/events/", json::object{{"type", "Nope.x"}, {"data", "x"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json(), (json::object{{"type", {"\"Nope.x\" is not a valid choice."}},
                                      {"data", {"Expected a dictionary of items but got type \"str\"."}}}));
  EXPECT_EQ(api.post("/v2/events/", json::object{}).json(),
            (json::object{{"type", {"This field is required."}}, {"data", {"This field is required."}}}));
  auto batch = api.post("/v2/events/batch/", json::object{{"events", {event("Payout.created", {}), json::object{{"type", "X"}}}}});
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(batch.json().at("events").at(0), json::object{});
  EXPECT_TRUE(batch.json().at("events").at(1).as_object().contains("type"));
  json::array many;
  for (int i = 0; i < 1001; ++i) many.push_back(event("Payout.created", {}));
  EXPECT_EQ(api.post("/v2/events/batch/", json::object{{"events", many}}).status, 400);
  EXPECT_EQ(api.get("/v2/events/").json().at("count"), 0);  // nothing of a refused request was stored
}

TEST_F(DeliveryTest, PublishNeedsThePublishScope) {
  auto r = run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", daemon.integration(), "--scope", "manage"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ApiClient manager(daemon.port(), std::string(json::parse(r.out).at("key").as_string()), daemon.integration());
  EXPECT_EQ(manager.post("/v2/events/", event("Payout.created", {})).status, 403);
  r = run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", daemon.integration(), "--scope", "publish"});
  ApiClient publisher(daemon.port(), std::string(json::parse(r.out).at("key").as_string()), daemon.integration());
  EXPECT_EQ(publisher.post("/v2/events/", event("Payout.created", {})).status, 202);
  EXPECT_EQ(publisher.get("/v2/events/").status, 403);  // reading events is management
}

TEST_F(DeliveryTest, FanOutReachesExactlyTheSubscribedWebhooksOfEachIntegration) {
  Receiver payouts, invoices_and_payouts, other_integration;
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w1", payouts.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w2", invoices_and_payouts.url(), {"Invoice.paid", "Payout.created"})).status, 201);
  ASSERT_EQ(run_hookd({"integration", "create", "--data-dir", daemon.data_dir(), "--name", "B", "--id", "b"}).exit_code, 0);
  auto key = json::parse(run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", "b"}).out);
  ApiClient b(daemon.port(), std::string(key.at("key").as_string()), "b");
  ASSERT_EQ(b.post("/v2/webhooks/", webhook("w1", other_integration.url(), {"Payout.created"})).status, 201);

  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {{"n", 1}})).status, 202);
  ASSERT_EQ(api.post("/v2/events/batch/", json::object{{"events", {event("Invoice.paid", {{"n", 2}}),
                                                                   event("Employee.created", {{"n", 3}})}}}).status, 202);
  ASSERT_EQ(b.post("/v2/events/", event("Payout.created", {{"n", 4}})).status, 202);

  ASSERT_TRUE(payouts.wait_for(1));
  ASSERT_TRUE(invoices_and_payouts.wait_for(2));
  ASSERT_TRUE(other_integration.wait_for(1));
  // Whatever else was due has been attempted once each of these arrived; nothing more comes.
  auto all_done = [&] {
    for (auto res : {api.get("/v2/events/"), b.get("/v2/events/")}) {
      json::value body = res.json();
      for (const auto& e : body.at("results").as_array())
        for (const auto& d : e.at("deliveries").as_array())
          if (d.at("state") != "succeeded") return false;
    }
    return true;
  };
  ASSERT_TRUE(wait_until(all_done));
  EXPECT_EQ(payouts.count(), 1u);
  EXPECT_EQ(payouts.requests()[0].body, R"({"n":1})");
  EXPECT_EQ(payouts.requests()[0].header("webhook-event"), "Payout.created");
  std::multiset<std::string> got;
  for (const auto& r : invoices_and_payouts.requests()) got.insert(r.header("webhook-event"));
  EXPECT_EQ(got, (std::multiset<std::string>{"Invoice.paid", "Payout.created"}));
  EXPECT_EQ(other_integration.count(), 1u);
  EXPECT_EQ(other_integration.requests()[0].body, R"({"n":4})");
  // Employee.created had no subscriber: the event exists with no deliveries.
  auto events = api.get("/v2/events/").json().at("results").as_array();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[2].at("deliveries").as_array().empty());
}

TEST_F(DeliveryTest, BodyAndBothSignaturesVerifyWithOpenSsl) {
  Receiver receiver;
  const std::string secret = "c1329a085d65f7757838df5920fdcc9a";
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url("/in?x=1"), {"Payout.created"}, secret)).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {{"id", "p1"}, {"amount", "100.00"}}, "evt")).status, 202);
  ASSERT_TRUE(receiver.wait_for(1));
  auto r = receiver.requests()[0];
  auto delivery = wait_for_state("evt", "succeeded");

  EXPECT_EQ(r.target, "/in?x=1");
  EXPECT_EQ(r.body, R"({"id":"p1","amount":"100.00"})");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("user-agent"), "hookd/" HOOKD_VERSION);
  EXPECT_EQ(r.header("webhook-id"), delivery.at("id").as_string());
  // A uuid7 whose first 48 bits are the delivery's created_at in milliseconds.
  std::string id(delivery.at("id").as_string());
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '7') << id;
  EXPECT_EQ(api::iso8601(std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16)), delivery.at("created_at").as_string());
  std::string t = r.header("webhook-timestamp");
  EXPECT_NEAR(std::stoll(t), system_now_ms() / 1000, 60);
  // Recomputed with OpenSSL's one-shot HMAC, apart from the signing code under test.
  EXPECT_EQ(r.header("gigapay-signature"), "t=" + t + ",v1=" + signing::hex(signing::hmac_sha256(secret, t + "." + r.body)));
  EXPECT_EQ(r.header("webhook-signature"),
            "v1," + signing::base64(signing::hmac_sha256(secret, r.header("webhook-id") + "." + t + "." + r.body)));
}

TEST_F(DeliveryTest, FailingNTimesThenSucceedingTakesNPlusOneAttemptsAtTheScheduledSpacing) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return Reply{i < 3 ? 500 : 200, 0ms, "try " + std::to_string(i), {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  wait_for_state("evt", "succeeded");
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 4u);
  // Due times are whole milliseconds of the wall clock: a wait may measure up to 1 ms short.
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i].at - got[i - 1].at, 19ms) << "attempt " << i + 1;
  for (const auto& r : got) EXPECT_EQ(r.header("webhook-id"), got[0].header("webhook-id"));  // one delivery
  auto attempts = attempts_of("w");
  ASSERT_EQ(attempts.size(), 4u);
  EXPECT_EQ(attempts[0].at("status"), 500);
  EXPECT_EQ(attempts[0].at("response"), "try 0");
  EXPECT_EQ(attempts[3].at("status"), 200);
  EXPECT_EQ(attempts[3].at("number"), 4);
}

class ScheduledDeliveryTest : public DeliveryTest {
 protected:
  ScheduledDeliveryTest() : DeliveryTest([](Settings& s) {
    fast_local(s);
    s.retry.schedule_ms = {60, 120, 180};
  }) {}
};

// Retries wait a minute: whatever a test does between attempts happens before the next one.
class SlowRetryDeliveryTest : public DeliveryTest {
 protected:
  SlowRetryDeliveryTest() : DeliveryTest([](Settings& s) {
    fast_local(s);
    s.retry.schedule_ms = {60'000};
  }) {}
};

TEST_F(ScheduledDeliveryTest, SpacingFollowsTheSchedule) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return Reply{i < 3 ? 503 : 200, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  wait_for_state("evt", "succeeded");
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 4u);
  std::vector<std::chrono::milliseconds> waits = {60ms, 120ms, 180ms};
  for (std::size_t i = 1; i < got.size(); ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(got[i].at - got[i - 1].at);
    // Due times are whole milliseconds of the wall clock: a wait may measure up to 1 ms short.
    EXPECT_GE(gap, waits[i - 1] - 1ms) << "attempt " << i + 1;
    EXPECT_LT(gap, waits[i - 1] + 1000ms) << "attempt " << i + 1;
  }
}

TEST_F(DeliveryTest, AlwaysFailingReceiverSeesExactlyTenAttemptsThenTheDeliveryFails) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return Reply{500, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  auto d = wait_for_state("evt", "failed");
  EXPECT_EQ(d.at("attempts"), 10);
  EXPECT_TRUE(d.at("next_attempt_at").is_null());
  EXPECT_EQ(receiver.count(), 10u);
  EXPECT_EQ(attempts_of("w").size(), 10u);
}

TEST_F(DeliveryTest, GoneEndsTheDeliveryAtOnce) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return Reply{410, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  auto d = wait_for_state("evt", "failed");
  EXPECT_EQ(d.at("attempts"), 1);
  EXPECT_EQ(receiver.count(), 1u);
}

TEST_F(DeliveryTest, RetryAfterIsHonoured) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) {
    return i == 0 ? Reply{429, 0ms, "", {{"Retry-After", "1"}}} : Reply{200, 0ms, "", {}};
  });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  wait_for_state("evt", "succeeded");
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, 999ms);  // not the 20 ms of the schedule (1 ms: clock granularity)
}

TEST_F(DeliveryTest, RedirectsTimeoutsRefusedConnectionsAndBadCertificatesFailAttempts) {
  Receiver redirect;
  redirect.script([&](const auto&, std::size_t) { return Reply{302, 0ms, "", {{"Location", "http://127.0.0.1:1/"}}}; });
  Receiver stall;
  stall.script([](const auto&, std::size_t) { return Reply{200, 2500ms, "", {}}; });
  TempDir certs;
  Receiver wrong_host(make_tls_files(certs.str(), {"other.example"}, {}));
  std::uint16_t closed_port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  struct Case {
    std::string id, url, error;
    int status;
  };
  std::vector<Case> cases = {
      {"redirect", redirect.url(), "", 302},
      {"stall", stall.url(), "timeout", 0},
      {"refused", "http://127.0.0.1:" + std::to_string(closed_port) + "/", "connect", 0},
      {"tls", wrong_host.url(), "tls", 0},
  };
  for (const auto& c : cases)
    ASSERT_EQ(api.post("/v2/webhooks/", webhook(c.id, c.url, {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  for (const auto& c : cases) {
    ASSERT_TRUE(wait_until([&] { return !attempts_of(c.id).empty(); })) << c.id;
    auto first = attempts_of(c.id).at(0);
    EXPECT_EQ(first.at("status").is_null() ? 0 : first.at("status").as_int64(), c.status) << c.id;
    EXPECT_EQ(first.at("error").is_null() ? "" : std::string(first.at("error").as_string()), c.error) << c.id;
  }
}

TEST_F(SlowRetryDeliveryTest, DeletingAWebhookCancelsItsDeliveries) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return Reply{500, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  ASSERT_TRUE(receiver.wait_for(1));
  ASSERT_EQ(api.del("/v2/webhooks/w/").status, 204);
  auto d = wait_for_state("evt", "canceled");
  EXPECT_TRUE(d.at("webhook_id").is_null());
  EXPECT_TRUE(d.at("next_attempt_at").is_null());
  // A manual retry cannot bring it back, and a new event reaches nobody.
  EXPECT_EQ(api.post("/v2/deliveries/" + std::string(d.at("id").as_string()) + "/retry/", json::object{}).status, 409);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt2")).status, 202);
  EXPECT_TRUE(api.get("/v2/events/evt2/").json().at("deliveries").as_array().empty());
  EXPECT_EQ(receiver.count(), 1u);
}

// Fan-out caches subscriptions; every change of a webhook must show in the next event's fan-out.
TEST_F(SlowRetryDeliveryTest, FanOutFollowsEveryChangeOfSubscriptions) {
  Receiver receiver;
  auto deliveries = [&](const std::string& event_id) {
    return api.get("/v2/events/" + event_id + "/").json().at("deliveries").as_array().size();
  };
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "e0")).status, 202);
  EXPECT_EQ(deliveries("e0"), 0u);
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "e1")).status, 202);
  EXPECT_EQ(deliveries("e1"), 1u);
  ASSERT_EQ(api.patch("/v2/webhooks/w/", {{"events", {"Invoice.paid"}}}).status, 200);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "e2")).status, 202);
  EXPECT_EQ(deliveries("e2"), 0u);
  ASSERT_EQ(api.post("/v2/events/", event("Invoice.paid", {}, "e3")).status, 202);
  EXPECT_EQ(deliveries("e3"), 1u);
  ASSERT_EQ(api.put("/v2/webhooks/w/", webhook("w", receiver.url(), {"Payout.created", "Invoice.paid"})).status, 200);
  ASSERT_EQ(api.post("/v2/events/", event("Invoice.paid", {}, "e4")).status, 202);
  EXPECT_EQ(deliveries("e4"), 1u);
}

TEST_F(SlowRetryDeliveryTest, ChangingTheSecretChangesTheNextAttemptsSignature) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return Reply{i == 0 ? 500 : 200, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"}, "old-secret")).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  ASSERT_TRUE(receiver.wait_for(1));
  ASSERT_EQ(api.patch("/v2/webhooks/w/", {{"secret_key", "new-secret"}}).status, 200);
  ASSERT_EQ(api.post("/v2/deliveries/" + std::string(wait_for_state("evt", "retrying").at("id").as_string()) + "/retry/", json::object{}).status, 202);
  wait_for_state("evt", "succeeded");
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 2u);
  auto verify = [](const ReceivedRequest& r, const std::string& secret) {
    std::string t = r.header("webhook-timestamp");
    return r.header("gigapay-signature") == "t=" + t + ",v1=" + signing::hex(signing::hmac_sha256(secret, t + "." + r.body));
  };
  EXPECT_TRUE(verify(got[0], "old-secret"));
  EXPECT_TRUE(verify(got.back(), "new-secret"));
  EXPECT_FALSE(verify(got.back(), "old-secret"));
}

// The engine records an attempt without waiting for the write; a manual retry that arrives while
// the attempt is in flight must still win over the schedule, and leave no stale due-index entry.
TEST_F(SlowRetryDeliveryTest, ManualRetryDuringAnAttemptIsKeptAndLeavesNothingDue) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return i == 0 ? Reply{500, 300ms, "", {}} : Reply{}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  ASSERT_TRUE(receiver.wait_for(1));  // the first attempt is stalled in the receiver now
  std::string id(api.get("/v2/events/evt/").json().at("deliveries").at(0).at("id").as_string());
  auto retried = api.post("/v2/deliveries/" + id + "/retry/", json::object{});
  EXPECT_EQ(retried.status, 202) << retried.body;
  // Without the manual retry, the next attempt would come after the 60 s schedule.
  auto d = wait_for_state("evt", "succeeded");
  EXPECT_EQ(d.at("attempts").as_int64(), 2);
  EXPECT_EQ(receiver.count(), 2u);
  daemon.stop();
  storage::Store store({daemon.data_dir()});
  EXPECT_EQ(store.count_due(), 0u);
}

TEST_F(DeliveryTest, ManualRetryOfAFailedDelivery) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return Reply{i == 0 ? 410 : 200, 0ms, "", {}}; });
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  std::string id(wait_for_state("evt", "failed").at("id").as_string());
  auto retried = api.post("/v2/deliveries/" + id + "/retry/", json::object{});
  EXPECT_EQ(retried.status, 202) << retried.body;
  wait_for_state("evt", "succeeded");
  EXPECT_EQ(receiver.count(), 2u);
  auto again = api.post("/v2/deliveries/" + id + "/retry/", json::object{});
  EXPECT_EQ(again.status, 409);  // succeeded already
  EXPECT_EQ(api.post("/v2/deliveries/no-such/retry/", json::object{}).status, 404);
}

TEST(DeliveryPolicy, PrivateTargetsAreRefusedByDefault) {
  TestDaemon daemon([](Settings& s) { s.retry.schedule_ms = {20}; s.retry.max_attempts = 2; });
  ApiClient api = daemon.client();
  Receiver receiver;
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {}, "evt")).status, 202);
  ASSERT_TRUE(wait_until([&] {
    auto d = api.get("/v2/events/evt/").json().at("deliveries").at(0);
    return d.at("state") == "failed";
  }));
  auto attempts = api.get("/v2/webhooks/w/deliveries/").json().at("results").at(0).at("attempts");
  EXPECT_EQ(attempts.at(0).at("error"), "refused_address");
  EXPECT_EQ(receiver.count(), 0u);
}

TEST(DeliveryTls, HttpsReceiverWithTheConfiguredCa) {
  TempDir certs;
  auto files = make_tls_files(certs.str());
  Receiver receiver(files);
  TestDaemon daemon([&](Settings& s) {
    fast_local(s);
    s.delivery.ca_file = files.ca_cert;
  });
  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  ASSERT_EQ(api.post("/v2/events/", event("Payout.created", {{"secure", true}}, "evt")).status, 202);
  ASSERT_TRUE(receiver.wait_for(1));
  EXPECT_EQ(receiver.requests()[0].body, R"({"secure":true})");
}

TEST(DeliveryRecovery, ADaemonStoppedMidwayFinishesEveryDeliveryAfterARestart) {
  Receiver receiver;
  std::atomic<bool> healthy{false};
  receiver.script([&](const auto&, std::size_t) { return Reply{healthy ? 200 : 503, 0ms, "", {}}; });
  TestDaemon daemon([](Settings& s) {
    fast_local(s);
    s.retry.schedule_ms = {200};
    s.retry.max_attempts = 1000;
  });
  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  json::array batch;
  for (int i = 0; i < 20; ++i) batch.push_back(event("Payout.created", {{"n", i}}, "evt-" + std::to_string(i)));
  ASSERT_EQ(api.post("/v2/events/batch/", json::object{{"events", batch}}).status, 202);
  ASSERT_TRUE(receiver.wait_for(20));  // every delivery failed once
  daemon.stop();
  healthy = true;
  daemon.start();
  ApiClient after = daemon.client();
  // The first requests after the restart read the key and the event ids from table files, which
  // ingress does not do on its event loop: they take the blocking pool, with the same answers.
  EXPECT_EQ(after.post("/v2/events/", event("Payout.created", {{"n", 0}}, "evt-0")).status, 200);
  EXPECT_EQ(after.post("/v2/events/", event("Payout.created", {{"n", 20}}, "evt-20")).status, 202);
  ASSERT_TRUE(wait_until([&] {
    auto events = after.get("/v2/events/").json().at("results").as_array();
    return events.size() == 21 && std::all_of(events.begin(), events.end(), [](const json::value& e) {
             return e.at("deliveries").at(0).at("state") == "succeeded";
           });
  }));
  std::set<std::string> bodies;
  for (const auto& r : receiver.requests()) bodies.insert(r.body);
  EXPECT_EQ(bodies.size(), 21u);
}

TEST(DeliveryIngress, PublishersOnSeveralConnectionsOverSeveralIoThreadsAreAllServed) {
  Receiver receiver;
  TestDaemon daemon([](Settings& s) {
    fast_local(s);
    s.api.io_threads = 3;
  });
  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", webhook("w", receiver.url(), {"Payout.created"})).status, 201);
  constexpr int kPublishers = 6, kEach = 20;
  std::atomic<int> accepted{0};
  std::vector<std::unique_ptr<ApiClient>> clients;  // a connection each, spread over the loops
  for (int p = 0; p < kPublishers; ++p) clients.push_back(std::make_unique<ApiClient>(daemon.port(), daemon.key(), daemon.integration()));
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p)
    publishers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i)
        if (clients[p]->post("/v2/events/", event("Payout.created", {}, std::to_string(p) + "-" + std::to_string(i))).status == 202)
          ++accepted;
    });
  for (auto& t : publishers) t.join();
  EXPECT_EQ(accepted, kPublishers * kEach);
  ASSERT_TRUE(receiver.wait_for(kPublishers * kEach));
  std::set<std::string> ids;
  for (const auto& r : receiver.requests()) ids.insert(r.header("webhook-id"));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kPublishers * kEach));
  // Stops with connections open on every loop, and starts again on the same data.
  daemon.restart();
  EXPECT_EQ(daemon.client().get("/v2/events/").json().at("count"), kPublishers * kEach);
}

TEST(DeliveryIngress, AnIngressOnlyListenerServesIngressAlone) {
  TestDaemon daemon([](Settings& s) {
    s.ingress.listen = "127.0.0.1:0";
    s.api.io_threads = 2;  // both listeners' connections on the same loops
  });
  std::uint16_t ingress = daemon.app().ingress_port();
  ASSERT_NE(ingress, 0);
  ApiClient publish(ingress, daemon.key(), daemon.integration());
  EXPECT_EQ(publish.post("/v2/events/", event("Payout.created", {})).status, 202);
  EXPECT_EQ(publish.get("/v2/webhooks/").status, 404);  // management is not served there
  ApiClient api = daemon.client();
  EXPECT_EQ(api.post("/v2/events/", event("Payout.created", {})).status, 405);  // nor ingress here
  EXPECT_EQ(api.get("/v2/events/").json().at("count"), 1);
}

}  // namespace
}  // namespace hookd::test

// Receivers that misbehave: each fault is a failed attempt (or, for a dropped kept-alive
// connection, no harm at all), retried; healthy webhooks are served meanwhile; memory stays flat.
#include <gtest/gtest.h>

#include "tests/support/daemon.hpp"
#include "tests/support/faulty_receiver.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Fault = FaultyReceiver::Fault;

TEST(ReceiverFaults, EachFaultFailsItsAttemptsWhileHealthyWebhooksAreServed) {
  FaultyReceiver reset(Fault::Reset), garbage(Fault::Garbage), stall(Fault::StallMidResponse),
      huge(Fault::HugeResponse), drop(Fault::DropAfterResponse);
  Receiver healthy;
  {
    TestDaemon daemon([](Settings& s) {
      s.delivery.allow_private_targets = true;
      s.delivery.timeout_ms = 1000;  // ample for healthy answers, even under sanitizers
      s.retry.schedule_ms = {30};
      s.retry.max_attempts = 3;
    });
    ApiClient api = daemon.client();
    struct Case {
      std::string id, url, error;
      int status;
    };
    std::vector<Case> faulty = {{"reset", reset.url(), "connection", 0},
                                {"garbage", garbage.url(), "protocol", 0},
                                {"stall", stall.url(), "timeout", 0},
                                {"huge", huge.url(), "", 500}};
    for (const auto& c : faulty)
      ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", c.id}, {"url", c.url}, {"events", {"Payout.created"}}}).status, 201);
    ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "drop"}, {"url", drop.url()}, {"events", {"Payout.created"}}}).status, 201);
    ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "healthy"}, {"url", healthy.url()}, {"events", {"Payout.created"}}}).status, 201);

    auto publish = [&](int from, int n) {
      json::array batch;
      for (int i = from; i < from + n; ++i) batch.push_back(json::object{{"type", "Payout.created"}, {"data", {{"n", i}}}});
      ASSERT_EQ(api.post("/v2/events/batch/", json::object{{"events", batch}}).status, 202);
    };
    publish(0, 10);  // warm up: pools, buffers
    ASSERT_TRUE(healthy.wait_for(10));
    std::size_t rss_before = rss_kib();
    auto started = std::chrono::steady_clock::now();
    publish(10, 40);
    ASSERT_TRUE(healthy.wait_for(50));
    auto healthy_time = std::chrono::steady_clock::now() - started;
    // Healthy deliveries do not wait behind the faulty ones (a stalled attempt alone takes 1 s).
    EXPECT_LT(healthy_time, 3s);

    auto attempts = [&](const std::string& id) {
      auto body = api.get("/v2/webhooks/" + id + "/deliveries/?page_size=100").json();
      std::vector<json::value> out;
      for (const auto& d : body.at("results").as_array())
        for (const auto& a : d.at("attempts").as_array()) out.push_back(a);
      return out;
    };
    auto finished = [&](const std::string& id, const char* state) {
      auto body = api.get("/v2/webhooks/" + id + "/deliveries/?page_size=100").json();
      const auto& results = body.at("results").as_array();
      return body.at("count") == 50 && std::all_of(results.begin(), results.end(), [&](const json::value& d) {
               return d.at("state") == state;
             });
    };
    for (const auto& c : faulty) {
      ASSERT_TRUE(wait_until([&] { return finished(c.id, "failed"); }, 60s)) << c.id;
      for (const auto& a : attempts(c.id)) {
        EXPECT_EQ(a.at("error").is_null() ? "" : std::string(a.at("error").as_string()), c.error) << c.id;
        EXPECT_EQ(a.at("status").is_null() ? 0 : a.at("status").as_int64(), c.status) << c.id;
      }
    }
    // The answer declared a body far over the cap: refused from its header, the connection closed.
    EXPECT_EQ(attempts("huge").at(0).at("response").as_string(), "");
    // A receiver that drops every kept-alive connection after answering loses nothing.
    bool dropped_ok = wait_until([&] { return finished("drop", "succeeded"); }, 10s);
    if (!dropped_ok) {
      auto body = api.get("/v2/webhooks/drop/deliveries/?page_size=3").json();
      std::cout << json::serialize(body).substr(0, 1500) << std::endl;
    }
    ASSERT_TRUE(dropped_ok);
    EXPECT_EQ(reset.requests(), 50u * 3);
    std::size_t rss_after = rss_kib();
    std::cout << "[ figures  ] 40 events to 4 faulty + 1 dropping + 1 healthy webhook: healthy done in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(healthy_time).count() << " ms; RSS "
              << rss_before / 1024 << " MiB -> " << rss_after / 1024 << " MiB" << std::endl;
    if (kRssIsMeaningful) {
      EXPECT_LT(rss_after, rss_before + 64 * 1024);  // no growth beyond noise, though 1 GiB answers were offered
    }
  }
}

}  // namespace
}  // namespace hookd::test

// /healthz, /readyz and /metrics of a running daemon, after real deliveries.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The value of the sample line `name` (with its labels) in a Prometheus text page; -1 if absent.
double sample(const std::string& page, const std::string& name) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

TEST(Observability, HealthReadinessAndMetricsAfterDeliveries) {
  Receiver ok, gone;
  gone.script([](const auto&, std::size_t) { return Reply{410, 0ms, "", {}}; });
  TestDaemon daemon([](Settings& s) {
    s.delivery.allow_private_targets = true;
    s.retry.schedule_ms = {20};
  });
  HttpClient anonymous(daemon.port());
  EXPECT_EQ(anonymous.request(http::verb::get, "/healthz").status, 200);
  EXPECT_TRUE(wait_until([&] { return anonymous.request(http::verb::get, "/readyz").status == 200; }));

  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"url", ok.url()}, {"events", {"Payout.created"}}}).status, 201);
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"url", gone.url()}, {"events", {"Payout.created"}}}).status, 201);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(api.post("/v2/events/", json::object{{"type", "Payout.created"}, {"data", {{"n", i}}}}).status, 202);
  ASSERT_TRUE(ok.wait_for(3));
  ASSERT_TRUE(gone.wait_for(3));

  HttpResult page;
  ASSERT_TRUE(wait_until([&] {
    page = anonymous.request(http::verb::get, "/metrics");
    return sample(page.body, "hookd_deliveries_total{outcome=\"failed\"}") == 3 &&
           sample(page.body, "hookd_deliveries_total{outcome=\"succeeded\"}") == 3;
  })) << page.body;
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(sample(page.body, "hookd_events_accepted_total"), 3);
  EXPECT_EQ(sample(page.body, "hookd_attempts_total{outcome=\"success\"}"), 3);
  EXPECT_EQ(sample(page.body, "hookd_attempts_total{outcome=\"failure\"}"), 3);
  EXPECT_EQ(sample(page.body, "hookd_deliveries_total{outcome=\"succeeded\"}"), 3);
  EXPECT_EQ(sample(page.body, "hookd_attempt_duration_seconds_count"), 6);
  EXPECT_EQ(sample(page.body, "hookd_attempt_duration_seconds_bucket{le=\"+Inf\"}"), 6);
  EXPECT_GE(sample(page.body, "hookd_attempts_in_flight"), 0);
  EXPECT_GE(sample(page.body, "hookd_scheduled_deliveries"), 0);
  EXPECT_NE(page.body.find("# TYPE hookd_attempt_duration_seconds histogram"), std::string::npos);
  // Buckets are cumulative.
  std::regex bucket(R"(hookd_attempt_duration_seconds_bucket\{le="[^"]+"\} (\d+))");
  long last = 0;
  for (std::sregex_iterator it(page.body.begin(), page.body.end(), bucket), end; it != end; ++it) {
    long v = std::stol((*it)[1]);
    EXPECT_GE(v, last);
    last = v;
  }
  EXPECT_EQ(last, 6);
}

}  // namespace
}  // namespace hookd::test

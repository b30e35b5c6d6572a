// /healthz, /readyz and /metrics of a running daemon, after real deliveries.
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>

#include "storage/crc32c.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

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
    return metric_sample(page.body, "hookd_deliveries_total{outcome=\"failed\"}") == 3 &&
           metric_sample(page.body, "hookd_deliveries_total{outcome=\"succeeded\"}") == 3;
  })) << page.body;
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(metric_sample(page.body, "hookd_events_accepted_total"), 3);
  EXPECT_EQ(metric_sample(page.body, "hookd_attempts_total{outcome=\"success\"}"), 3);
  EXPECT_EQ(metric_sample(page.body, "hookd_attempts_total{outcome=\"failure\"}"), 3);
  EXPECT_EQ(metric_sample(page.body, "hookd_deliveries_total{outcome=\"succeeded\"}"), 3);
  EXPECT_EQ(metric_sample(page.body, "hookd_attempt_duration_seconds_count"), 6);
  EXPECT_EQ(metric_sample(page.body, "hookd_attempt_duration_seconds_bucket{le=\"+Inf\"}"), 6);
  EXPECT_GE(metric_sample(page.body, "hookd_attempts_in_flight"), 0);
  EXPECT_GE(metric_sample(page.body, "hookd_scheduled_deliveries"), 0);
  EXPECT_EQ(metric_sample(page.body, "hookd_engine_read_failures_total"), 0);
  // The commit delay is on by default, and three events are too few for its trials to set it aside.
  EXPECT_EQ(metric_sample(page.body, "hookd_commit_delay_active"), 1);
  // Two webhooks and three events, each acknowledged after an fsync of the log.
  EXPECT_GE(metric_sample(page.body, "hookd_rocksdb_syncs_total"), 5);
  // At least one connection to each receiver, at most one per attempt.
  EXPECT_GE(metric_sample(page.body, "hookd_delivery_connections_opened_total"), 2);
  EXPECT_LE(metric_sample(page.body, "hookd_delivery_connections_opened_total"), 6);
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

namespace hookd::test {
namespace {

TEST(Observability, LogsCarryIdsAndNeverSecrets) {
  Receiver failing;
  failing.script([](const auto&, std::size_t) { return Reply{500, 0ms, "", {}}; });
  TempDir dir;
  DaemonProcess daemon({"--data-dir", dir.str() + "/data", "--listen", "127.0.0.1:0", "--set", "log.level=debug",
                        "--set", "log.format=json", "--set", "delivery.allow_private_targets=true", "--set",
                        "retry.max_attempts=1"});
  int port = daemon.wait_ready();
  ASSERT_GT(port, 0) << daemon.err();
  std::string key = banner_value(daemon.out(), "  Authorization: Token ");
  ApiClient api(static_cast<std::uint16_t>(port), key, banner_value(daemon.out(), "  Integration-ID: "));
  const std::string secret = "s3cr3t-never-in-logs";
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "w"}, {"url", failing.url()}, {"events", {"Payout.created"}}, {"secret_key", secret}}).status, 201);
  auto published = api.post("/v2/events/", json::object{{"id", "evt-logged"}, {"type", "Payout.created"}, {"data", json::object{}}},
                            {{"X-Request-Id", "trace-123"}});
  ASSERT_EQ(published.status, 202);
  EXPECT_EQ(published.header("X-Request-Id"), "trace-123");
  EXPECT_FALSE(api.get("/v2/webhooks/").header("X-Request-Id").empty());  // made up when not given
  ASSERT_TRUE(failing.wait_for(1));
  std::string delivery = failing.requests()[0].header("webhook-id");
  ASSERT_TRUE(wait_until([&] { return daemon.err().find("attempt 1 failed") != std::string::npos; }));
  daemon.signal(SIGTERM);
  ASSERT_EQ(daemon.wait(), 0);

  std::string log = daemon.err();
  std::istringstream lines(log);
  std::string line;
  bool request_logged = false, attempt_logged = false, crc_logged = false;
  while (std::getline(lines, line)) {
    boost::system::error_code ec;
    auto entry = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON line: " << line;
    std::string msg(entry.at("msg").as_string());
    request_logged |= msg.find("request trace-123 POST /v2/events/ -> 202") != std::string::npos;
    attempt_logged |= msg.find("delivery " + delivery + " (event evt-logged, webhook w) attempt 1 failed") != std::string::npos;
    // RocksDB's line at open names the CRC-32C it checksums with: hookd's (storage/crc32c.hpp).
    crc_logged |= msg.find("Fast CRC32 supported: ") != std::string::npos &&
                  msg.find("(hookd's, storage/crc32c.cpp)") != std::string::npos;
  }
  EXPECT_TRUE(request_logged) << log;
  EXPECT_TRUE(attempt_logged) << log;
  EXPECT_EQ(crc_logged, storage::kReplacesRocksDbCrc32c) << log;
  EXPECT_EQ(log.find(key), std::string::npos) << "the API key was logged";
  EXPECT_EQ(log.find(secret), std::string::npos) << "a webhook secret was logged";
}

}  // namespace
}  // namespace hookd::test

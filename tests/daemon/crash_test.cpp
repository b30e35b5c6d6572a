// kill -9 during a publish burst: every event that was acknowledged is delivered after a restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

std::string after(const std::string& text, const std::string& label) {
  auto at = text.find(label) + label.size();
  return text.substr(at, text.find('\n', at) - at);
}

TEST(Crash, SigkillDuringAPublishBurstLosesNoAcknowledgedEvent) {
  Receiver receiver;
  TempDir dir;
  std::vector<std::string> args = {"--data-dir", dir.str() + "/data", "--listen", "127.0.0.1:0",
                                   "--set", "delivery.allow_private_targets=true", "--set", "retry.schedule_ms=50"};
  auto daemon = std::make_unique<DaemonProcess>(args);
  int port = daemon->wait_ready();
  ASSERT_GT(port, 0) << daemon->err();
  std::string key = after(daemon->out(), "  Authorization: Token ");
  std::string integration = after(daemon->out(), "  Integration-ID: ");
  {
    ApiClient api(static_cast<std::uint16_t>(port), key, integration);
    auto res = api.post("/v2/webhooks/", json::object{{"url", receiver.url()}, {"events", {"Payout.created"}}});
    ASSERT_EQ(res.status, 201) << res.body;
  }

  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<bool> killed{false};
  std::vector<std::thread> publishers;
  for (int t = 0; t < 4; ++t)
    publishers.emplace_back([&, t] {
      ApiClient api(static_cast<std::uint16_t>(port), key, integration);
      for (int i = 0; i < 100'000 && !killed; ++i) {
        std::string id = "evt-" + std::to_string(t) + "-" + std::to_string(i);
        try {
          auto res = api.post("/v2/events/", json::object{{"id", id}, {"type", "Payout.created"}, {"data", {{"event", id}}}});
          if (res.status == 202 || res.status == 200) {
            std::lock_guard lock(mutex);
            acknowledged.insert(id);
          }
        } catch (const std::exception&) {
          return;  // the daemon is gone
        }
      }
    });
  // Kill it in the middle of the burst, with acknowledged events and deliveries in flight.
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return acknowledged.size() >= 300;
  }));
  daemon->signal(SIGKILL);
  EXPECT_EQ(daemon->wait(), 128 + SIGKILL);
  killed = true;
  for (auto& p : publishers) p.join();
  std::size_t delivered_before_restart = receiver.count();

  daemon = std::make_unique<DaemonProcess>(args);
  ASSERT_GT(daemon->wait_ready(), 0) << daemon->err();  // the store opens cleanly
  auto delivered = [&] {
    std::set<std::string> got;
    for (const auto& r : receiver.requests()) got.insert(std::string(json::parse(r.body).at("event").as_string()));
    return got;
  };
  bool all = wait_until([&] {
    auto got = delivered();
    return std::includes(got.begin(), got.end(), acknowledged.begin(), acknowledged.end());
  });
  auto got = delivered();
  std::size_t missing = 0;
  for (const auto& id : acknowledged) missing += !got.contains(id);
  std::cout << "[ figures  ] acknowledged " << acknowledged.size() << ", delivered before the kill "
            << delivered_before_restart << ", requests received " << receiver.count() << ", distinct events "
            << got.size() << ", duplicates " << receiver.count() - got.size() << ", missing " << missing << std::endl;
  EXPECT_TRUE(all);
  EXPECT_EQ(missing, 0u);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0);
}

}  // namespace
}  // namespace hookd::test

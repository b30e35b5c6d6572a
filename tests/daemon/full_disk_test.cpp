// A full disk (a small tmpfs the test mounts): ingress answers 503, nothing acknowledged is lost or
// corrupted, deliveries pause, and everything resumes by itself when space returns.
#include <gtest/gtest.h>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"
#include "tests/support/small_disk.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

TEST(FullDisk, IngressAnswers503AndResumesWhenSpaceReturns) {
  // RocksDB preallocates ~70 MiB of log at open, and the reserve must hold a memtable flush
  // (up to 64 MiB) on top of what it takes to reach it.
  SmallDisk disk("448m");
  Receiver receiver;
  const std::uint64_t reserve = 160u << 20;
  auto configure = [&](Settings& s) {
    s.data_dir = disk.path() + "/data";
    s.storage.min_free_bytes = reserve;
    s.delivery.allow_private_targets = true;
    s.retry.schedule_ms = {20};
  };
  TestDaemon daemon(configure);
  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "w"}, {"url", receiver.url()}, {"events", {"Payout.created"}}}).status, 201);

  disk.fill(reserve + (8u << 20));  // room for a few events above the reserve
  std::string pad(200'000, 'x');
  std::vector<std::string> acknowledged;
  int refused = 0;
  for (int i = 0; i < 2000 && refused < 3; ++i) {  // past the preallocated log, into the reserve
    std::string id = "evt-" + std::to_string(i);
    auto res = api.post("/v2/events/", json::object{{"id", id}, {"type", "Payout.created"}, {"data", {{"pad", pad}}}});
    if (res.status == 202) {
      acknowledged.push_back(id);
    } else {
      ASSERT_EQ(res.status, 503) << res.body;
      EXPECT_TRUE(res.json().as_object().contains("detail"));
      ++refused;
    }
  }
  ASSERT_FALSE(acknowledged.empty());
  ASSERT_EQ(refused, 3);
  // Management writes are refused too, reads and health still answer.
  EXPECT_EQ(api.post("/v2/webhooks/", json::object{{"url", receiver.url()}, {"events", {"Payout.created"}}}).status, 503);
  EXPECT_EQ(api.get("/v2/webhooks/w/").status, 200);
  EXPECT_EQ(HttpClient(daemon.port()).request(http::verb::get, "/healthz").status, 200);

  disk.free_filler();
  bool resumed = wait_until([&] {
    return api.post("/v2/events/", json::object{{"id", "after"}, {"type", "Payout.created"}, {"data", json::object{}}}).status == 202;
  });
  EXPECT_TRUE(resumed);
  acknowledged.push_back("after");

  // Every acknowledged event is delivered, and survives a restart with the store intact.
  ASSERT_TRUE(wait_until([&] { return receiver.count() >= acknowledged.size(); }));
  daemon.restart();
  ApiClient after = daemon.client();
  for (const auto& id : acknowledged) EXPECT_EQ(after.get("/v2/events/" + id + "/").status, 200) << id;
  EXPECT_EQ(after.get("/v2/events/").json().at("count"), acknowledged.size());
}

}  // namespace
}  // namespace hookd::test

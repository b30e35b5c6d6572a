// A write that the disk fails stops hookd with status 1, for its supervisor to start it again
// (storage::Store::write): everything acknowledged survives the restart and is delivered, and the
// event whose write failed is the publisher's to send again.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/failing_syncs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

HttpResult publish(ApiClient& api, int n) {
  return api.post("/v2/events/", json::object{{"id", "evt-" + std::to_string(n)}, {"type", "Payout.created"}, {"data", {{"n", n}}}});
}

std::set<std::string> bodies(const Receiver& receiver) {
  std::set<std::string> seen;
  for (const auto& r : receiver.requests()) seen.insert(r.body);
  return seen;
}

TEST(FailedWrite, ASyncTheDiskFailsStopsTheDaemonAndARestartRecoversEverythingAcknowledged) {
  Receiver receiver;
  TestDaemon daemon([](Settings& s) { s.delivery.allow_private_targets = true; });
  ApiClient api = daemon.client();
  ASSERT_EQ(api.post("/v2/webhooks/", json::object{{"id", "w"}, {"url", receiver.url()}, {"events", {"Payout.created"}}}).status, 201);
  for (int n = 0; n < 5; ++n) ASSERT_EQ(publish(api, n).status, 202);
  // Delivered, their attempts recorded, and those records synced by a synced write after them
  // (they are durable "soon"): the publish below is then the only write to meet the failing disk.
  // The synced write is the group committer's own (an event no webhook takes): it owes the sync of
  // the attempt records, and a write that bypasses it (a webhook's) would leave that sync due, to
  // fail at the failing disk before the publish does.
  ASSERT_TRUE(wait_until([&] {
    auto events = api.get("/v2/events/").json().at("results").as_array();
    return events.size() == 5 && std::all_of(events.begin(), events.end(), [](const json::value& e) {
             return e.at("deliveries").at(0).at("state") == "succeeded";
           });
  }));
  ASSERT_EQ(api.post("/v2/events/", json::object{{"id", "evt-sync"}, {"type", "Invoice.paid"}, {"data", json::object{}}}).status, 202);

  {
    FailingSyncs failing(daemon.data_dir());
    auto refused = publish(api, 5);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_TRUE(daemon.wait_until_stopped());  // by itself, for a failed write
  }

  daemon.start();
  ApiClient after = daemon.client();
  for (int n = 0; n < 5; ++n) EXPECT_EQ(after.get("/v2/events/evt-" + std::to_string(n) + "/").status, 200) << n;
  // Sent again, the refused event is taken (its failed write may or may not have reached the log:
  // the publisher's id decides) and delivered.
  auto again = publish(after, 5).status;
  EXPECT_TRUE(again == 202 || again == 200) << again;  // 200: it was stored, and is not stored twice
  EXPECT_EQ(after.get("/v2/events/").json().at("count"), 7);  // evt-0 to evt-5 and evt-sync
  std::set<std::string> all;
  for (int n = 0; n < 6; ++n) all.insert(R"({"n":)" + std::to_string(n) + "}");
  EXPECT_TRUE(wait_until([&] { return bodies(receiver) == all; }));
}

}  // namespace
}  // namespace hookd::test

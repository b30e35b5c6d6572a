// Retention (engine/retention.hpp) on a real store: which events expire, that removing one leaves
// nothing of it behind and nothing else touched, that a delivery retried by hand after the scan
// found it keeps its event, and that one retried while its removal is being written is not found.
#include "engine/retention.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/app.hpp"
#include "storage/group_commit.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::engine {
namespace {

using storage::Delivery;
using storage::DeliveryState;
using storage::Event;
using storage::Store;

constexpr std::int64_t kCutoff = 1'000'000;
constexpr std::int64_t kOld = kCutoff - 1000;

// Writes straight into the store: a webhook per integration, and events with deliveries to it.
class Seeded {
 public:
  explicit Seeded(Store& store) : store_(store) {}

  // An event of `integration` created at `created_ms`, with a delivery in each of `states`, each
  // last changed at `changed_ms` and with `attempts` attempts recorded. Returns the event.
  Event event(const std::string& integration, const std::string& id, std::int64_t created_ms,
              std::vector<DeliveryState> states, std::int64_t changed_ms, std::uint32_t attempts = 2) {
    storage::Batch batch = store_.batch();
    auto& webhook_seq = webhooks_[integration];
    if (webhook_seq == 0) {
      webhook_seq = store_.next_webhook_seq();
      batch.put_webhook({integration, webhook_seq, "w", "http://127.0.0.1:9/", {"Payout.created"}, "s", "{}", 0});
    }
    Event e{integration, store_.next_seq(Store::Sequence::Event), id, "Payout.created", R"({"pad":")" + std::string(300, 'x') + R"("})", created_ms};
    batch.put_event(e);
    std::vector<Delivery> deliveries;
    for (std::size_t i = 0; i < states.size(); ++i) {
      Delivery& d = deliveries.emplace_back();
      d.id = id + "-d" + std::to_string(i);
      d.integration_id = integration;
      d.seq = store_.next_seq(Store::Sequence::Delivery);
      d.event_seq = e.seq;
      d.webhook_seq = webhook_seq;
      d.state = states[i];
      d.attempts = attempts;
      d.next_attempt_ms = changed_ms + 60'000;
      d.created_at_ms = created_ms;
      d.updated_at_ms = changed_ms;
      // The latest attempt in the record, the others in the attempts family, as the engine writes them.
      for (std::uint32_t n = 1; n <= attempts; ++n) {
        storage::Attempt a{n, created_ms, 1, 500, "", "no"};
        if (n < attempts) batch.put_attempt(d.id, a);
        else d.last_attempt = a;
      }
    }
    batch.put_new_deliveries(deliveries);
    EXPECT_TRUE(store_.write(batch).is_ok());
    return e;
  }
  std::uint64_t webhook_seq(const std::string& integration) { return webhooks_[integration]; }

 private:
  Store& store_;
  std::map<std::string, std::uint64_t> webhooks_;
};

// A started engine on `store` with a committer of its own, on the system's clock.
struct RunningEngine {
  explicit RunningEngine(Store& store, bool allow_private_targets = false)
      : committer(store), engine(store, committer, options(allow_private_targets)) {
    engine.start();
  }
  static EngineOptions options(bool allow_private_targets) {
    EngineOptions o;
    o.client.allow_private_targets = allow_private_targets;
    o.now_ms = system_now_ms;
    return o;
  }
  storage::GroupCommitter committer;
  Engine engine;  // after the committer: stopped before it goes
};

std::vector<std::string> ids_of(const std::vector<storage::ExpiredEvent>& expired) {
  std::vector<std::string> ids;
  for (const auto& e : expired) ids.push_back(e.event.integration_id + "/" + e.event.id);
  return ids;
}

TEST(Retention, ExpiredEventsAreOldWithEveryDeliveryFinishedBeforeTheCutoff) {
  test::TempDir dir;
  Store store({dir.str()});
  Seeded seed(store);
  seed.event("a", "done", kOld, {DeliveryState::Succeeded, DeliveryState::Failed}, kOld + 10);
  seed.event("a", "retrying", kOld, {DeliveryState::Succeeded, DeliveryState::Retrying}, kOld + 10);
  seed.event("a", "finished-late", kOld, {DeliveryState::Failed}, kCutoff);  // retried by hand lately
  seed.event("a", "no-webhooks", kOld, {}, 0);
  seed.event("a", "canceled", kOld, {DeliveryState::Canceled}, kOld);
  seed.event("a", "young", kCutoff, {DeliveryState::Succeeded}, kCutoff);
  seed.event("a", "old-after-young", kOld, {DeliveryState::Succeeded}, kOld);  // the clock stepped back
  seed.event("b", "b-done", kOld, {DeliveryState::Succeeded}, kOld);
  seed.event("ab", "ab-done", kOld, {DeliveryState::Succeeded}, kOld);  // "a" is a prefix of its id

  // One at a time: the scan goes on where it stopped.
  storage::ExpiryScan scan;
  std::vector<std::string> found;
  for (int calls = 0; !scan.done; ++calls) {
    ASSERT_LT(calls, 20);
    auto expired = store.expired_events(scan, kCutoff, 1);
    ASSERT_LE(expired.size(), 1u);
    for (const auto& id : ids_of(expired)) found.push_back(id);
    for (const auto& e : expired) EXPECT_EQ(e.deliveries.size(), store.deliveries_of_event(e.event.integration_id, e.event.seq).size());
  }
  EXPECT_EQ(found, (std::vector<std::string>{"a/done", "a/no-webhooks", "a/canceled", "ab/ab-done", "b/b-done"}));

  storage::ExpiryScan all;
  EXPECT_EQ(ids_of(store.expired_events(all, kCutoff, 100)), found);
  EXPECT_TRUE(all.done);
  storage::ExpiryScan none;
  EXPECT_TRUE(store.expired_events(none, kOld, 100).empty());  // nothing was created before then
  EXPECT_TRUE(none.done);
}

TEST(Retention, ARemovedEventLeavesNothingBehindAndTouchesNothingElse) {
  test::TempDir dir;
  std::optional<Store> reopened;
  reopened.emplace(Store::Options{dir.str()});
  Store& store = *reopened;
  Seeded seed(store);
  Event gone = seed.event("a", "gone", kOld, {DeliveryState::Succeeded, DeliveryState::Failed}, kOld, 3);
  Event kept = seed.event("a", "kept", kOld, {DeliveryState::Retrying}, kOld, 3);
  auto webhook = seed.webhook_seq("a");

  storage::ExpiryScan scan;
  auto expired = store.expired_events(scan, kCutoff, 10);
  ASSERT_EQ(ids_of(expired), std::vector<std::string>{"a/gone"});
  storage::Batch batch = store.batch();
  batch.delete_event(expired[0].event, expired[0].deliveries);
  ASSERT_TRUE(store.write(batch).is_ok());

  EXPECT_FALSE(store.find_event("a", "gone"));
  EXPECT_FALSE(store.find_event_by_seq("a", gone.seq));
  EXPECT_TRUE(store.deliveries_of_event("a", gone.seq).empty());
  for (const char* id : {"gone-d0", "gone-d1"}) {
    EXPECT_FALSE(store.find_delivery(id)) << id;
    storage::Delivery removed;
    removed.id = id;
    EXPECT_TRUE(store.list_attempts(removed).empty()) << id;  // none left in the attempts family
  }
  // The index keys are gone too: the listings count only what is left.
  EXPECT_EQ(store.list_events("a", 0, 10).total, 1u);
  auto listed = store.list_deliveries_of_webhook("a", webhook, 0, 10);
  ASSERT_EQ(listed.total, 1u);
  EXPECT_EQ(listed.items[0].id, "kept-d0");

  EXPECT_EQ(store.find_event("a", "kept")->seq, kept.seq);
  EXPECT_EQ(store.deliveries_of_event("a", kept.seq).size(), 1u);
  EXPECT_EQ(store.list_attempts(*store.find_delivery("kept-d0")).size(), 3u);
  EXPECT_EQ(store.count_due(), 1u);

  // What was removed stays removed after a reopen.
  reopened.reset();
  reopened.emplace(Store::Options{dir.str()});
  EXPECT_FALSE(reopened->find_event("a", "gone"));
  EXPECT_FALSE(reopened->find_delivery("gone-d0"));
  EXPECT_TRUE(reopened->find_event("a", "kept"));
}

TEST(Retention, ADeliveryRetriedByHandAfterTheScanKeepsItsEvent) {
  test::Receiver receiver;
  test::TempDir dir;
  Store store({dir.str()});
  Seeded seed(store);
  std::int64_t now = system_now_ms();
  std::int64_t keep_ms = 30LL * 24 * 60 * 60 * 1000;
  std::int64_t cutoff = now - keep_ms;
  seed.event("a", "retried", cutoff - 1000, {DeliveryState::Failed}, cutoff - 500);
  seed.event("a", "left", cutoff - 1000, {DeliveryState::Failed}, cutoff - 500);
  // The webhook points at the receiver: a retry by hand is delivered.
  auto hook = *store.find_webhook_by_seq("a", seed.webhook_seq("a"));
  hook.url = receiver.url();
  storage::Batch batch = store.batch();
  batch.put_webhook(hook);
  ASSERT_TRUE(store.write(batch).is_ok());

  RunningEngine running(store, true);
  Engine& engine = running.engine;

  storage::ExpiryScan scan;
  auto expired = store.expired_events(scan, cutoff, 10);
  ASSERT_EQ(ids_of(expired), (std::vector<std::string>{"a/retried", "a/left"}));
  ASSERT_EQ(engine.retry_now("a", "retried-d0"), Engine::RetryOutcome::Scheduled);

  auto removed = engine.remove_expired(expired, cutoff);
  EXPECT_EQ(removed.events, 1u);
  EXPECT_EQ(removed.deliveries, 1u);
  EXPECT_FALSE(store.find_event("a", "left"));
  EXPECT_EQ(engine.retry_now("a", "left-d0"), Engine::RetryOutcome::NotFound);
  EXPECT_TRUE(store.find_event("a", "retried"));
  ASSERT_TRUE(receiver.wait_for(1));
  ASSERT_TRUE(test::wait_until([&] { return store.find_delivery("retried-d0")->state == DeliveryState::Succeeded; }));

  // A later pass finds the retried delivery finished after the cutoff: its event stays.
  RetentionOptions retention;
  retention.keep_ms = keep_ms;
  std::atomic<bool> stop{false};
  EXPECT_EQ(remove_expired(store, engine, now, retention, stop), RetentionCounts{});
  EXPECT_TRUE(store.find_event("a", "retried"));
  engine.stop();
}

// Between the engine's submitting a removal and the committer's applying it, the store still
// has the deliveries: a manual retry then must find none, or it would write a delivery back for
// an event that is being removed. The committer is held in a callback to keep that window open.
TEST(Retention, ARetryWhileTheRemovalIsBeingWrittenFindsNoDelivery) {
  test::TempDir dir;
  Store store({dir.str()});
  Seeded seed(store);
  std::int64_t cutoff = system_now_ms() - 1000;
  seed.event("a", "left", cutoff - 1000, {DeliveryState::Failed}, cutoff - 500);
  // Succeeded: a retry of it answers NotRetryable and writes nothing, until the removal has begun.
  seed.event("a", "probe", cutoff - 1000, {DeliveryState::Succeeded}, cutoff - 500);

  // Declared before what they outlive: the committer's callback (held) may run until the engine
  // goes, and the gate (release) must open before the removal is waited for.
  std::atomic<bool> held{false};
  RunningEngine running(store);
  Engine& engine = running.engine;
  storage::ExpiryScan scan;
  auto expired = store.expired_events(scan, cutoff, 10);
  ASSERT_EQ(ids_of(expired), (std::vector<std::string>{"a/left", "a/probe"}));

  std::future<Engine::Removed> removal;
  std::promise<void> release;
  running.committer.submit(store.batch(), [&, gate = release.get_future().share()](const storage::WriteStatus&) {
    held = true;
    gate.wait();
  });
  ASSERT_TRUE(test::wait_until([&] { return held.load(); }));
  removal = std::async(std::launch::async, [&] { return engine.remove_expired(expired, cutoff); });
  ASSERT_TRUE(test::wait_until([&] { return engine.retry_now("a", "probe-d0") == Engine::RetryOutcome::NotFound; }));
  EXPECT_TRUE(store.find_delivery("left-d0"));  // not yet removed: the window is open
  EXPECT_EQ(engine.retry_now("a", "left-d0"), Engine::RetryOutcome::NotFound);
  release.set_value();

  auto removed = removal.get();
  EXPECT_EQ(removed.events, 2u);
  EXPECT_EQ(removed.deliveries, 2u);
  EXPECT_FALSE(store.find_event("a", "left"));
  EXPECT_FALSE(store.find_delivery("left-d0"));
  EXPECT_EQ(engine.retry_now("a", "left-d0"), Engine::RetryOutcome::NotFound);
  engine.stop();
}

TEST(Retention, APassRemovesEverythingExpiredInStepsAndKeepsEverythingWithNoneToKeep) {
  test::TempDir dir;
  Store store({dir.str()});
  Seeded seed(store);
  std::int64_t now = system_now_ms();
  std::int64_t keep_ms = 1'000'000;
  for (int i = 0; i < 25; ++i) seed.event(i % 2 ? "a" : "b", "old" + std::to_string(i), now - keep_ms - 10, {DeliveryState::Succeeded}, now - keep_ms - 5);
  // More deliveries than a step takes: removed in a step of its own.
  seed.event("b", "wide", now - keep_ms - 10, std::vector<DeliveryState>(5, DeliveryState::Failed), now - keep_ms - 5);
  seed.event("a", "new", now, {DeliveryState::Succeeded}, now);
  storage::Batch batch = store.batch();
  batch.put_idempotency("a", "old-key", {"f", 201, "{}", now - 2000});
  batch.put_idempotency("a", "new-key", {"f", 201, "{}", now});
  ASSERT_TRUE(store.write(batch).is_ok());

  RunningEngine running(store);
  Engine& engine = running.engine;
  std::atomic<bool> stop{false};

  RetentionOptions forever;  // no keep_ms
  forever.idempotency_ttl_ms = 1000;
  EXPECT_EQ(remove_expired(store, engine, now, forever, stop), (RetentionCounts{0, 0, 1}));
  EXPECT_EQ(store.list_events("a", 0, 100).total + store.list_events("b", 0, 100).total, 27u);

  RetentionOptions retention;
  retention.keep_ms = keep_ms;
  retention.events_per_scan = 4;
  retention.deliveries_per_step = 3;
  EXPECT_EQ(remove_expired(store, engine, now, retention, stop), (RetentionCounts{26, 30, 0}));
  EXPECT_EQ(store.list_events("b", 0, 100).total, 0u);
  auto left = store.list_events("a", 0, 100);
  ASSERT_EQ(left.total, 1u);
  EXPECT_EQ(left.items[0].id, "new");
  EXPECT_TRUE(store.find_idempotency("a", "new-key", now, 1000));

  stop = true;  // a stopped pass does nothing more
  seed.event("a", "old-again", now - keep_ms - 10, {DeliveryState::Succeeded}, now - keep_ms - 5);
  EXPECT_EQ(remove_expired(store, engine, now, retention, stop), RetentionCounts{});
  EXPECT_TRUE(store.find_event("a", "old-again"));
  engine.stop();
}

}  // namespace
}  // namespace hookd::engine

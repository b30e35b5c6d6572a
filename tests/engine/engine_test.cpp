// The engine on a real store, without the HTTP API in front: bounded memory and the due-index
// cursor when more is due than memory may hold.
#include "engine/engine.hpp"
#include "storage/group_commit.hpp"

#include <gtest/gtest.h>

#include <future>

#include "daemon/app.hpp"
#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::engine {
namespace {

using namespace std::chrono_literals;
using test::rss_kib;

// A webhook, an event, and `n` deliveries of it due at `due_ms`, written straight into the store.
void seed(storage::Store& store, const std::string& url, std::size_t n, std::int64_t due_ms) {
  storage::Batch setup = store.batch();
  storage::Webhook w{"i", store.next_webhook_seq(), "w", url, {"Payout.created"}, "secret", "{}", 0};
  storage::Event e{"i", store.next_seq(storage::Store::Sequence::Event), "evt", "Payout.created", R"({"n":1})", 0};
  setup.put_webhook(w);
  setup.put_event(e);
  ASSERT_TRUE(store.write(setup).is_ok());
  for (std::size_t done = 0; done < n;) {
    storage::Batch batch = store.batch();
    for (std::size_t i = 0; i < 1000 && done < n; ++i, ++done) {
      storage::Delivery d;
      d.id = "d" + std::to_string(1'000'000 + done);
      d.integration_id = "i";
      d.seq = store.next_seq(storage::Store::Sequence::Delivery);
      d.event_seq = e.seq;
      d.webhook_seq = w.seq;
      d.state = storage::DeliveryState::Retrying;
      d.next_attempt_ms = due_ms + static_cast<std::int64_t>(done % 1000);
      batch.put_delivery(d);
    }
    ASSERT_TRUE(store.write_unsynced(batch).is_ok());
  }
}

EngineOptions options(std::size_t capacity) {
  EngineOptions o;
  o.memory_capacity = capacity;
  o.client.allow_private_targets = true;
  o.retry.schedule_ms = {10};
  o.now_ms = system_now_ms;
  return o;
}

TEST(Engine, HundredThousandWaitingRetriesHoldBoundedMemory) {
  test::TempDir dir;
  storage::Store store({dir.str()});
  // Due in 30 s: inside the engine's horizon, so it would load them all if it were not bounded.
  seed(store, "http://127.0.0.1:9/", 100'000, system_now_ms() + 30'000);
  ASSERT_EQ(store.count_due(), 100'000u);

  std::size_t before = rss_kib();
  storage::GroupCommitter committer(store);
  Engine engine(store, committer, options(10'000));
  engine.start();
  ASSERT_TRUE(test::wait_until([&] { return engine.stats().in_memory == 10'000; }));
  std::size_t after = rss_kib();
  engine.stop();
  EXPECT_EQ(engine.stats().attempts, 0u);  // none due yet
  std::cout << "[ figures  ] 100000 scheduled retries: " << engine.stats().in_memory
            << " held in memory, RSS " << before / 1024 << " MiB -> " << after / 1024 << " MiB (+"
            << (after - before) << " KiB)" << std::endl;
  if (test::kRssIsMeaningful) {
    EXPECT_LT(after - before, 64u * 1024);  // the index stays on disk
  }
}

TEST(Engine, MoreDueThanMemoryHoldsIsAllDelivered) {
  test::Receiver receiver;
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, receiver.url(), 300, system_now_ms());
  storage::GroupCommitter committer(store);
  Engine engine(store, committer, options(16));  // far less than is due: the cursor must come back for the rest
  engine.start();
  ASSERT_TRUE(receiver.wait_for(300));
  ASSERT_TRUE(test::wait_until([&] { return store.count_due() == 0; }));
  engine.stop();
  std::set<std::string> ids;
  for (const auto& r : receiver.requests()) ids.insert(r.header("webhook-id"));
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(engine.stats().succeeded, 300u);
  EXPECT_EQ(store.find_delivery("d1000123")->state, storage::DeliveryState::Succeeded);
}

TEST(Engine, PerWebhookCapKeepsOneSlowReceiverFromStarvingOthers) {
  test::Receiver slow, fast;
  slow.script([](const auto&, std::size_t) { return test::Reply{200, 300ms, "", {}}; });
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, slow.url(), 20, system_now_ms());
  // A second webhook on the fast receiver with 20 deliveries of its own.
  storage::Batch batch = store.batch();
  storage::Webhook w{"i", store.next_webhook_seq(), "fast", fast.url(), {"Payout.created"}, "s", "{}", 0};
  batch.put_webhook(w);
  for (int i = 0; i < 20; ++i) {
    storage::Delivery d;
    d.id = "f" + std::to_string(i);
    d.integration_id = "i";
    d.seq = store.next_seq(storage::Store::Sequence::Delivery);
    d.event_seq = 1;
    d.webhook_seq = w.seq;
    d.next_attempt_ms = system_now_ms();
    batch.put_delivery(d);
  }
  ASSERT_TRUE(store.write(batch).is_ok());

  EngineOptions o = options(1000);
  o.max_in_flight = 8;
  o.max_in_flight_per_webhook = 2;
  storage::GroupCommitter committer(store);
  Engine engine(store, committer, o);
  auto started = std::chrono::steady_clock::now();
  engine.start();
  ASSERT_TRUE(fast.wait_for(20));
  // The fast webhook finished while the slow one (2 at a time, 300 ms each) had done only a few.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  EXPECT_LE(slow.count(), 8u);
  engine.stop();
}

// What ingress hands over after committing an event with one delivery to webhook `webhook_seq`.
storage::CreatedDeliveries created(const std::string& delivery_id, std::uint64_t webhook_seq, bool durable) {
  auto event = std::make_shared<const storage::Event>(
      storage::Event{"i", 77, "evt_handed", "Payout.created", R"({"handed":true})", 0});
  storage::Delivery d;
  d.id = delivery_id;
  d.integration_id = "i";
  d.seq = 1;
  d.event_seq = event->seq;
  d.webhook_seq = webhook_seq;
  d.next_attempt_ms = system_now_ms();
  return storage::CreatedDeliveries{{d}, {event}, durable};
}

// An engine on a store holding one webhook, which points at `receiver`.
class HandOffTest : public ::testing::Test {
 protected:
  HandOffTest() {
    storage::Batch batch = store.batch();
    storage::Webhook w{"i", store.next_webhook_seq(), "w", receiver.url(), {"Payout.created"}, "secret", "{}", 0};
    batch.put_webhook(w);
    EXPECT_TRUE(store.write(batch).is_ok());
    webhook = w.seq;
    engine.start();
  }

  test::Receiver receiver;
  test::TempDir dir;
  storage::Store store{{dir.str()}};
  std::uint64_t webhook = 0;
  storage::GroupCommitter committer{store};
  Engine engine{store, committer, options(1000)};
};

TEST_F(HandOffTest, DurableHandOffIsAttemptedFromTheRecordsItCarries) {
  // Neither the delivery nor its event is in the store: a durable hand-off is trusted as it is.
  engine.deliveries_created(created("handed", webhook, true));
  ASSERT_TRUE(receiver.wait_for(1));
  EXPECT_EQ(receiver.requests()[0].body, R"({"handed":true})");
  EXPECT_EQ(receiver.requests()[0].header("webhook-id"), "handed");
  ASSERT_TRUE(test::wait_until([&] { return engine.stats().in_flight == 0 && engine.stats().succeeded == 1; }));
  engine.stop();
  auto stored = store.find_delivery("handed");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, storage::DeliveryState::Succeeded);
  EXPECT_EQ(stored->attempts, 1u);
}

TEST_F(HandOffTest, HandOffOfAFailedCommitIsCheckedAgainstTheStore) {
  // The commit failed and nothing was written: nothing to attempt.
  engine.deliveries_created(created("unwritten", webhook, false));
  // A later hand-off that did commit shows the first one has been dealt with by then.
  engine.deliveries_created(created("written", webhook, true));
  ASSERT_TRUE(receiver.wait_for(1));
  ASSERT_TRUE(test::wait_until([&] { return engine.stats().in_flight == 0 && engine.stats().in_memory == 0; }));
  engine.stop();
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("webhook-id"), "written");
  EXPECT_FALSE(store.find_delivery("unwritten"));
}

TEST(Engine, HandOffOfADeliveryAlreadyInFlightMakesNoSecondAttempt) {
  test::Receiver receiver;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // The first attempt stays in flight until the test lets it go.
  receiver.script([released](const auto&, std::size_t) { return test::Reply{200, {}, "", {}, released}; });
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, receiver.url(), 1, system_now_ms());  // found by the engine's first scan of the due index
  auto stored = store.find_delivery("d1000000");
  ASSERT_TRUE(stored);
  storage::GroupCommitter committer(store);
  Engine engine(store, committer, options(1000));
  engine.start();
  ASSERT_TRUE(receiver.wait_for(1));
  // Ingress's hand-off of the same delivery arrives late, while its attempt is in flight.
  auto late = created(stored->id, stored->webhook_seq, true);
  late.deliveries[0] = *stored;
  engine.deliveries_created(late);
  release.set_value();
  ASSERT_TRUE(test::wait_until([&] {
    auto s = engine.stats();
    return s.succeeded == 1 && s.in_flight == 0 && s.in_memory == 0;
  }));
  engine.stop();
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(engine.stats().attempts, 1u);
  EXPECT_EQ(store.find_delivery(stored->id)->attempts, 1u);
  EXPECT_EQ(store.count_due(), 0u);
}

TEST(RetryAfter, SecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("120", 0), 120'000u);
  EXPECT_EQ(parse_retry_after(" 5 ", 0), 5'000u);
  // date -d 'Wed, 21 Oct 2015 07:28:00 GMT' +%s  -> 1445412480
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480'000 - 30'000), 30'000u);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480'000 + 5), 0u);
  EXPECT_EQ(parse_retry_after("soon", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("", 0), std::nullopt);
}

}  // namespace
}  // namespace hookd::engine

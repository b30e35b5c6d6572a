// The engine on a real store, without the HTTP API in front: bounded memory and the due-index
// cursor when more is due than memory may hold.
#include "engine/engine.hpp"
#include "storage/codec.hpp"
#include "storage/group_commit.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <vector>

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
    std::vector<storage::Delivery> deliveries;
    for (std::size_t i = 0; i < 1000 && done < n; ++i, ++done) {
      storage::Delivery& d = deliveries.emplace_back();
      d.id = "d" + std::to_string(1'000'000 + done);
      d.integration_id = "i";
      d.seq = store.next_seq(storage::Store::Sequence::Delivery);
      d.event_seq = e.seq;
      d.webhook_seq = w.seq;
      d.state = storage::DeliveryState::Retrying;
      d.next_attempt_ms = due_ms + static_cast<std::int64_t>(done % 1000);
    }
    batch.put_new_deliveries(deliveries);
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
  // Nothing is left behind in memory either, stale entries from the cursor's rescans included.
  EXPECT_TRUE(test::wait_until([&] { return engine.stats().tracked == 0; }));
  engine.stop();
  std::set<std::string> ids;
  for (const auto& r : receiver.requests()) ids.insert(r.header("webhook-id"));
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(engine.stats().succeeded, 300u);
  EXPECT_EQ(store.find_delivery("d1000123")->state, storage::DeliveryState::Succeeded);
}

TEST(Engine, DeliveriesDueNowAreAttemptedWithoutWaitingForTheWheelsNextTick) {
  test::Receiver receiver;
  test::TempDir dir;
  storage::Store store({dir.str()});
  // The engine's clock stands still halfway between two of the timer wheel's 10 ms ticks, so the
  // next tick never comes: whatever is attempted was taken as due at once.
  const std::int64_t now = system_now_ms() / 10 * 10 + 5;
  seed(store, receiver.url(), 1, now);  // found by the engine's scan of the due index
  storage::GroupCommitter committer(store);
  EngineOptions o = options(1000);
  o.now_ms = [now] { return now; };
  Engine engine(store, committer, o);
  engine.start();
  EXPECT_TRUE(receiver.wait_for(1, 5s));

  // And one handed over by ingress, as a new delivery is.
  storage::Delivery fresh = *store.find_delivery("d1000000");
  fresh.id = "fresh";
  fresh.seq = store.next_seq(storage::Store::Sequence::Delivery);
  fresh.state = storage::DeliveryState::Pending;
  fresh.attempts = 0;
  fresh.next_attempt_ms = now;
  storage::Batch batch = store.batch();
  batch.put_new_deliveries({&fresh, 1});
  ASSERT_TRUE(store.write(batch).is_ok());
  engine.deliveries_created(storage::CreatedDeliveries{{fresh}, {}, true});
  EXPECT_TRUE(receiver.wait_for(2, 5s));
  engine.stop();
  std::set<std::string> ids;
  for (const auto& r : receiver.requests()) ids.insert(r.header("webhook-id"));
  EXPECT_EQ(ids, (std::set<std::string>{"d1000000", "fresh"}));
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
  std::vector<storage::Delivery> deliveries;
  for (int i = 0; i < 20; ++i) {
    storage::Delivery& d = deliveries.emplace_back();
    d.id = "f" + std::to_string(i);
    d.integration_id = "i";
    d.seq = store.next_seq(storage::Store::Sequence::Delivery);
    d.event_seq = 1;
    d.webhook_seq = w.seq;
    d.next_attempt_ms = system_now_ms();
  }
  batch.put_new_deliveries(deliveries);
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
  ASSERT_TRUE(test::wait_until([&] {
    auto s = engine.stats();
    return s.in_flight == 0 && s.in_memory == 0 && s.tracked == 0;  // the unwritten one is forgotten too
  }));
  engine.stop();
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("webhook-id"), "written");
  EXPECT_FALSE(store.find_delivery("unwritten"));
}

// What ingress commits and hands over for one event fanned out to `n` deliveries of webhook
// `webhook_seq`: the deliveries without due entries, listed in a fresh entry.
storage::CreatedDeliveries commit_fresh(storage::Store& store, std::uint64_t webhook_seq, std::size_t n,
                                        const std::string& prefix) {
  auto event = std::make_shared<const storage::Event>(storage::Event{
      "i", store.next_seq(storage::Store::Sequence::Event), "evt_" + prefix, "Payout.created", R"({"n":1})", 0});
  storage::CreatedDeliveries created{{}, {event}, true, true};
  for (std::size_t i = 0; i < n; ++i) {
    storage::Delivery& d = created.deliveries.emplace_back();
    d.id = prefix + std::to_string(100 + i);
    d.integration_id = "i";
    d.seq = store.next_seq(storage::Store::Sequence::Delivery);
    d.event_seq = event->seq;
    d.webhook_seq = webhook_seq;
    d.next_attempt_ms = system_now_ms();
  }
  storage::Batch batch = store.batch();
  batch.put_event(*event);
  batch.put_new_deliveries(created.deliveries, storage::NewDue::Fresh);
  EXPECT_TRUE(store.write(batch).is_ok());
  return created;
}

// Fresh deliveries beyond the engine's memory are given due entries and found by its scans once
// those are written; each is attempted once, and no fresh entry or due entry is left.
TEST_F(HandOffTest, FreshDeliveriesBeyondMemoryAreIndexedAndEachIsAttemptedOnce) {
  engine.stop();
  EngineOptions o = options(4);
  o.max_in_flight = 2;
  Engine small(store, committer, o);
  small.start();
  for (const std::string prefix : {"a", "b", "c"}) small.deliveries_created(commit_fresh(store, webhook, 10, prefix));
  ASSERT_TRUE(receiver.wait_for(30));
  ASSERT_TRUE(test::wait_until([&] {
    auto s = small.stats();
    return s.succeeded == 30 && s.in_flight == 0 && s.tracked == 0 && store.count_fresh() == 0;
  }));
  small.stop();
  std::multiset<std::string> attempted;
  for (const auto& r : receiver.requests()) attempted.insert(r.header("webhook-id"));
  EXPECT_EQ(attempted.size(), 30u);
  EXPECT_EQ(std::set<std::string>(attempted.begin(), attempted.end()).size(), 30u);
  EXPECT_EQ(store.count_due(), 0u);
}

// A fresh delivery's failed first attempt gives it its due entry for the retry, and its fresh
// entry goes once every delivery it lists is written.
TEST_F(HandOffTest, AFreshDeliveryThatFailsIsIndexedForItsRetry) {
  engine.stop();
  receiver.script([](const test::ReceivedRequest& r, std::size_t) {
    return test::Reply{r.header("webhook-id") == "f101" ? 500 : 200, {}, "", {}};
  });
  EngineOptions o = options(1000);
  o.retry.schedule_ms = {3'600'000};
  Engine later(store, committer, o);
  later.start();
  later.deliveries_created(commit_fresh(store, webhook, 3, "f"));
  ASSERT_TRUE(test::wait_until([&] { return later.stats().attempts == 3 && store.count_fresh() == 0; }));
  auto due = store.scan_due({}, std::numeric_limits<std::int64_t>::max(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].delivery_id, "f101");
  EXPECT_EQ(due[0].due_ms, store.find_delivery("f101")->next_attempt_ms);
  EXPECT_GT(due[0].due_ms, system_now_ms() + 3'000'000);
  later.stop();
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
    return s.succeeded == 1 && s.in_flight == 0 && s.in_memory == 0 && s.tracked == 0;
  }));
  engine.stop();
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(engine.stats().attempts, 1u);
  EXPECT_EQ(store.find_delivery(stored->id)->attempts, 1u);
  EXPECT_EQ(store.count_due(), 0u);
}

// Ends what a test holds (a committer, a receiver) if it returns early, so that nothing waits on
// it forever while the test's objects are destroyed.
struct Release {
  std::vector<std::promise<void>*> promises;
  ~Release() {
    for (auto* p : promises) {
      try {
        p->set_value();
      } catch (const std::future_error&) {  // set already
      }
    }
  }
};

// Scripts `receiver` to answer the attempts of `delivery_id` only once `released` is ready, and
// every other request at once.
void answer_when_released(test::Receiver& receiver, const std::string& delivery_id, std::shared_future<void> released) {
  receiver.script([delivery_id, released](const test::ReceivedRequest& r, std::size_t) {
    return r.header("webhook-id") == delivery_id ? test::Reply{200, {}, "", {}, released} : test::Reply{};
  });
}

// The hand-off's "already known" check, where it matters: ingress's hand-off of a delivery that
// the engine has attempted already arrives while the engine's write of that attempt is not yet
// applied, and its due entry has to wait for a slot until after it is. The handed-over record is
// older than the engine's: it must not be attempted again.
TEST(Engine, HandOffOfADeliveryTheEngineHasWrittenMakesNoSecondAttempt) {
  test::Receiver receiver;
  std::promise<void> release_second;
  // The first delivery is answered at once; the second holds the only slot until released.
  answer_when_released(receiver, "d1000001", release_second.get_future().share());
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, receiver.url(), 2, system_now_ms());  // d1000000, then d1000001
  auto first = store.find_delivery("d1000000");
  ASSERT_TRUE(first);

  // The committer is held inside a callback: what the engine submits next is queued, not applied.
  storage::GroupCommitter committer(store);
  std::promise<void> holding, unblock;
  std::shared_future<void> unblocked = unblock.get_future().share();
  storage::Batch held = store.batch();
  held.put_integration({"held", "held", 0});
  committer.submit(std::move(held), [&holding, unblocked](const storage::WriteStatus&) {
    holding.set_value();
    unblocked.wait();
  });
  holding.get_future().wait();

  EngineOptions o = options(1000);
  o.max_in_flight = 1;
  Engine engine(store, committer, o);
  Release release{{&unblock, &release_second}};  // destroyed before the engine, which waits for both
  engine.start();
  // The first delivery was attempted (its write queued) before the second took the slot.
  ASSERT_TRUE(receiver.wait_for(2));
  ASSERT_EQ(receiver.requests()[0].header("webhook-id"), first->id);
  ASSERT_EQ(engine.stats().in_flight, 1u);

  // Ingress's hand-off of the first delivery, with the record as ingress wrote it.
  auto late = created(first->id, first->webhook_seq, true);
  late.deliveries[0] = *first;
  engine.deliveries_created(late);
  ASSERT_TRUE(test::wait_until([&] { return engine.stats().in_memory == 1; }));  // queued for the slot

  // The engine's write is applied, and the engine has seen so: its notice was posted before the
  // retry_now below, which waits for the engine's thread.
  unblock.set_value();
  storage::Batch after = store.batch();
  after.put_integration({"after", "after", 0});
  ASSERT_TRUE(committer.write(std::move(after)).is_ok());
  EXPECT_EQ(engine.retry_now("i", "no-such-delivery"), Engine::RetryOutcome::NotFound);

  release_second.set_value();  // the slot frees up and the queued entry is taken
  ASSERT_TRUE(test::wait_until([&] {
    auto s = engine.stats();
    return s.succeeded >= 2 && s.in_flight == 0 && s.in_memory == 0 && s.tracked == 0;
  }));
  engine.stop();
  EXPECT_EQ(receiver.count(), 2u);
  EXPECT_EQ(engine.stats().attempts, 2u);
  EXPECT_EQ(store.find_delivery(first->id)->attempts, 1u);
  EXPECT_EQ(store.count_due(), 0u);
}

// A manual retry of a delivery waiting for its busy webhook leaves its waiting entry stale. When
// the webhook's slot frees up, that entry must hand the slot on to the next: it once kept it, and
// the webhook's other waiting deliveries stayed queued until a restart. The retried delivery is
// attempted once, for the retry.
TEST(Engine, AStaleEntryWaitingForABusyWebhookHandsItsSlotOn) {
  test::Receiver receiver;
  std::promise<void> release_first;
  answer_when_released(receiver, "d1000000", release_first.get_future().share());
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, receiver.url(), 3, system_now_ms() - 1000);  // all due: taken together by the first scan
  storage::GroupCommitter committer(store);
  EngineOptions o = options(1000);
  o.max_in_flight_per_webhook = 1;
  Engine engine(store, committer, o);
  Release release{{&release_first}};
  engine.start();
  ASSERT_TRUE(receiver.wait_for(1));
  EXPECT_EQ(engine.stats().in_memory, 2u);  // the other two wait for the webhook
  EXPECT_EQ(engine.retry_now("i", "d1000001"), Engine::RetryOutcome::Scheduled);

  release_first.set_value();
  ASSERT_TRUE(test::wait_until([&] {
    auto s = engine.stats();
    return s.succeeded >= 3 && s.in_flight == 0 && s.in_memory == 0 && s.tracked == 0;
  }));
  engine.stop();
  std::multiset<std::string> attempted;
  for (const auto& r : receiver.requests()) attempted.insert(r.header("webhook-id"));
  EXPECT_EQ(attempted, (std::multiset<std::string>{"d1000000", "d1000001", "d1000002"}));
  auto retried = store.find_delivery("d1000001");
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->attempts, 1u);
  EXPECT_EQ(retried->state, storage::DeliveryState::Succeeded);
  EXPECT_EQ(store.count_due(), 0u);
}

// Attempt records answer nobody: they are applied without an fsync of their own (a crash of
// hookd keeps them, and at-least-once covers a crash of the machine). A manual retry is answered,
// so its write is synced before the answer, and takes the attempt record with it.
TEST(Engine, AttemptRecordsAreDurableSoonAndAManualRetryAtOnce) {
  test::Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return test::Reply{500, {}, "", {}}; });
  test::TempDir dir;
  storage::Store store({dir.str()});
  seed(store, receiver.url(), 1, system_now_ms());
  storage::GroupCommitter committer(store, {.sync_delay = std::chrono::hours(1)});  // no sync of its own in the test
  EngineOptions o = options(1000);
  o.retry.schedule_ms = {3'600'000};  // the failed attempt's retry is an hour out
  Engine engine(store, committer, o);
  std::uint64_t syncs = store.stats().syncs;
  engine.start();
  ASSERT_TRUE(test::wait_until([&] { return store.find_delivery("d1000000")->last_attempt.has_value(); }));
  EXPECT_EQ(store.find_delivery("d1000000")->attempts, 1u);
  EXPECT_EQ(store.stats().syncs, syncs);

  EXPECT_EQ(engine.retry_now("i", "d1000000"), Engine::RetryOutcome::Scheduled);
  EXPECT_EQ(store.stats().syncs, syncs + 1);
  ASSERT_TRUE(receiver.wait_for(2));
  engine.stop();
}

// The table files in `dir` that hold `bytes`.
std::vector<std::filesystem::path> tables_holding(const std::filesystem::path& dir, std::string_view bytes) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sst") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(bytes) != std::string::npos) found.push_back(entry.path());
  }
  return found;
}

// Empties a table file under the open store, which keeps its files open: its reads of the file
// then find nothing, as after a failing disk, and report the block as corrupt. restore() puts
// the bytes back.
class UnreadableTable {
 public:
  explicit UnreadableTable(std::filesystem::path path) : path_(std::move(path)) {
    std::ifstream in(path_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::filesystem::resize_file(path_, 0);
  }
  void restore() {
    std::ofstream out(path_, std::ios::binary | std::ios::in | std::ios::out);  // the same file, not a new one
    out << bytes_;
  }

 private:
  std::filesystem::path path_;
  std::string bytes_;
};

// Two deliveries due now, each written into table files of its own, and an engine on the store
// that tries a failed read again after 20 ms.
class UnreadableTableTest : public ::testing::Test {
 protected:
  // Ids without repeats, which table files' compression would not keep as they are, and due keys
  // whose last byte is not 'd': "d" + id is found only as a record's key.
  const std::string unreadable_id = "u7f3a9c", readable_id = "r2b8e5d";
  const std::int64_t due = system_now_ms() / 256 * 256 - 1000;

  UnreadableTableTest() {
    {
      storage::Store store({dir.str()});
      seed(store, receiver.url(), 0, due);  // the webhook and the event
    }
    put(unreadable_id);
    put(readable_id);
    store.emplace(storage::Store::Options{dir.str()});
    committer.emplace(*store);
    EngineOptions o = options(1000);
    o.read_retry = 20ms;
    engine.emplace(*store, *committer, o);
  }

  void put(const std::string& id) {
    storage::Store store({dir.str()});  // the open writes what its log holds into table files
    storage::Delivery d;
    d.id = id;
    d.integration_id = "i";
    d.seq = store.next_seq(storage::Store::Sequence::Delivery);
    d.event_seq = 1;
    d.webhook_seq = 1;
    d.next_attempt_ms = due;
    storage::Batch batch = store.batch();
    batch.put_new_deliveries({&d, 1});
    ASSERT_TRUE(store.write(batch).is_ok());
  }

  // Both are delivered in the end, and nothing is left due.
  void expect_all_delivered() {
    ASSERT_TRUE(receiver.wait_for(2));
    ASSERT_TRUE(test::wait_until([&] { return store->count_due() == 0 && engine->stats().tracked == 0; }));
    engine->stop();
    std::set<std::string> ids;
    for (const auto& r : receiver.requests()) ids.insert(r.header("webhook-id"));
    EXPECT_EQ(ids, (std::set<std::string>{unreadable_id, readable_id}));
    EXPECT_EQ(store->find_delivery(unreadable_id)->state, storage::DeliveryState::Succeeded);
  }

  test::Receiver receiver;
  test::TempDir dir;
  std::optional<storage::Store> store;
  std::optional<storage::GroupCommitter> committer;
  std::optional<Engine> engine;
};

// A record the store cannot read holds up its own delivery only, which is tried again until it
// can be read: the read's exception once ended hookd.
TEST_F(UnreadableTableTest, AnUnreadableRecordWaitsWhileOthersAreDelivered) {
  auto tables = tables_holding(dir.path(), "d" + unreadable_id);
  ASSERT_EQ(tables.size(), 1u);
  UnreadableTable unreadable(tables[0]);
  ASSERT_THROW(store->find_delivery(unreadable_id), storage::StoreError);
  ASSERT_TRUE(store->find_delivery(readable_id));

  auto started = std::chrono::steady_clock::now();
  engine->start();
  ASSERT_TRUE(receiver.wait_for(1));
  // Tried again and again, each time after twice the wait: 20 + 40 + 80 + 160 ms before the fifth.
  ASSERT_TRUE(test::wait_until([&] { return engine->stats().read_failures >= 5; }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 280ms);
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].header("webhook-id"), readable_id);
  EXPECT_EQ(store->count_due(), 1u);

  unreadable.restore();
  expect_all_delivered();
}

// A scan of the due index that fails is made again.
TEST_F(UnreadableTableTest, AFailedScanOfTheDueIndexIsMadeAgain) {
  auto tables = tables_holding(dir.path(), storage::be64(static_cast<std::uint64_t>(due)) + unreadable_id);
  ASSERT_EQ(tables.size(), 1u);
  UnreadableTable unreadable(tables[0]);
  ASSERT_THROW(store->count_due(), storage::StoreError);

  engine->start();
  ASSERT_TRUE(test::wait_until([&] { return engine->stats().read_failures >= 3; }));
  EXPECT_EQ(receiver.count(), 0u);  // the scan stops at the unreadable entry
  EXPECT_FALSE(engine->stats().loaded);  // not ready (/readyz)

  unreadable.restore();
  ASSERT_TRUE(test::wait_until([&] { return engine->stats().loaded; }));
  expect_all_delivered();
}

// A manual retry or a webhook's deletion that cannot read the deliveries concerned changes none of
// them (and the webhook, still in the store here, is delivered to once they can be read).
TEST_F(UnreadableTableTest, ARetryOrADeletionThatCannotReadChangesNothing) {
  auto tables = tables_holding(dir.path(), "d" + unreadable_id);
  ASSERT_EQ(tables.size(), 1u);
  UnreadableTable unreadable(tables[0]);
  engine->start();
  EXPECT_EQ(engine->retry_now("i", unreadable_id), Engine::RetryOutcome::Unavailable);
  engine->webhook_deleted("i", 1);  // lists the webhook's deliveries: a scan through that file
  // Answered on the engine's thread after the deletion was handled, the file still unreadable.
  EXPECT_EQ(engine->retry_now("i", unreadable_id), Engine::RetryOutcome::Unavailable);
  EXPECT_EQ(engine->stats().canceled, 0u);

  unreadable.restore();
  expect_all_delivered();
}

// An attempt that cannot read its event is made again later: it was once left until a restart,
// its due entry behind the cursor.
TEST_F(UnreadableTableTest, AnAttemptThatCannotReadItsEventIsMadeAgain) {
  auto tables = tables_holding(dir.path(), R"({"n":1})");  // the event's body
  ASSERT_EQ(tables.size(), 1u);
  UnreadableTable unreadable(tables[0]);

  auto started = std::chrono::steady_clock::now();
  engine->start();
  // Each four times, waiting twice as long every time: 20 + 40 + 80 ms before the fourth.
  ASSERT_TRUE(test::wait_until([&] { return engine->stats().read_failures >= 8; }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 130ms);
  EXPECT_EQ(receiver.count(), 0u);

  unreadable.restore();
  expect_all_delivered();
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

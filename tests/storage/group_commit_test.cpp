#include "storage/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

TEST(GroupCommit, ConcurrentWritersAreAllDurable) {
  test::TempDir dir;
  {
    Store store({dir.str()});
    GroupCommitter committer(store);
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          Batch b = store.batch();
          b.put_integration({"i-" + std::to_string(t) + "-" + std::to_string(i), "n", 1});
          EXPECT_TRUE(committer.write(std::move(b)).is_ok());
        }
      });
    for (auto& w : writers) w.join();
  }
  Store reopened({dir.str()});
  EXPECT_EQ(reopened.list_integrations().size(), 400u);
}

// The thread-start hook runs on the committer's own thread, and has run when the constructor
// returns, before the first write is applied (the daemon moves that thread's memory there and
// populates it: the memtables are allocated by the writes).
TEST(GroupCommit, OnThreadStartRunsOnTheCommittersThreadBeforeAnyWrite) {
  test::TempDir dir;
  Store store({dir.str()});
  std::thread::id hook_thread;
  std::atomic<int> hook_runs = 0;
  std::thread::id write_thread;
  bool hook_ran_before_write = false;
  {
    GroupCommitter committer(store, {.on_thread_start = [&] {
                                       // A hook that takes a while, as populating memory does.
                                       std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                       hook_thread = std::this_thread::get_id();
                                       ++hook_runs;
                                     }});
    EXPECT_EQ(hook_runs, 1);
    Batch b = store.batch();
    b.put_integration({"i", "n", 1});
    std::promise<void> applied;
    committer.submit(std::move(b), [&](const WriteStatus& s) {
      EXPECT_TRUE(s.is_ok());
      write_thread = std::this_thread::get_id();
      hook_ran_before_write = hook_runs == 1;
      applied.set_value();
    });
    applied.get_future().wait();
  }
  EXPECT_EQ(hook_runs, 1);
  EXPECT_TRUE(hook_ran_before_write);
  EXPECT_EQ(hook_thread, write_thread);  // callbacks run on the committer's thread
  EXPECT_NE(hook_thread, std::this_thread::get_id());
}

// Submits `batch` to be durable soon and waits for its callback: the status it was applied with.
WriteStatus submit_soon(GroupCommitter& committer, Batch batch) {
  std::promise<WriteStatus> applied;
  committer.submit(std::move(batch), [&applied](const WriteStatus& s) { applied.set_value(s); }, Durability::Soon);
  return applied.get_future().get();
}

// A Soon batch is applied before its callback runs, without an fsync of its own; the next synced
// group fsyncs it along, and stopping the committer fsyncs what is left.
TEST(GroupCommit, SoonWritesAreAppliedUnsyncedAndSyncedByTheNextSyncedGroup) {
  test::TempDir dir;
  Store store({dir.str()});
  std::uint64_t syncs = store.stats().syncs;
  {
    GroupCommitter committer(store, {.sync_delay = std::chrono::hours(1)});  // no sync falls due during the test
    Batch soon = store.batch();
    soon.put_integration({"soon", "n", 1});
    ASSERT_TRUE(submit_soon(committer, std::move(soon)).is_ok());
    EXPECT_TRUE(store.find_integration("soon"));
    EXPECT_EQ(store.stats().syncs, syncs);

    Batch synced = store.batch();
    synced.put_integration({"synced", "n", 1});
    ASSERT_TRUE(committer.write(std::move(synced)).is_ok());
    EXPECT_EQ(store.stats().syncs, syncs + 1);

    Batch last = store.batch();
    last.put_integration({"last", "n", 1});
    ASSERT_TRUE(submit_soon(committer, std::move(last)).is_ok());
    EXPECT_EQ(store.stats().syncs, syncs + 1);
  }
  EXPECT_EQ(store.stats().syncs, syncs + 2);
  EXPECT_TRUE(store.find_integration("last"));
}

// The committer's thread as /proc shows it: how often it has blocked, and whether it sleeps now.
struct CommitterThread {
  std::uint64_t blocked = 0;  // voluntary context switches
  bool sleeping = false;
};
CommitterThread committer_thread() {
  pid_t tid = test::thread_id("hookd-commit");
  if (tid < 0) return {};
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  CommitterThread t;
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("State:")) t.sleeping = line.find("S (sleeping)") != std::string::npos;
    if (line.starts_with("voluntary_ctxt_switches:")) t.blocked = std::stoull(line.substr(24));
  }
  return t;
}

// A Soon batch is not applied when it wakes the committer: it waits for the next synced group
// (and is applied first, in the order of submission) or for its apply delay; stopping applies
// what still waits.
TEST(GroupCommit, SoonWritesWaitForTheNextSyncedGroupOrTheirApplyDelay) {
  test::TempDir dir;
  Store store({dir.str()});
  std::atomic<int> applied_soon{0};
  {
    GroupCommitter committer(store, {.sync_delay = std::chrono::hours(1), .apply_delay = std::chrono::hours(1)});  // neither falls due
    ASSERT_TRUE(test::wait_until([] { return committer_thread().sleeping; }));
    std::uint64_t blocked = committer_thread().blocked;
    Batch soon = store.batch();
    soon.put_integration({"soon", "n", 1});
    committer.submit(std::move(soon), [&](const WriteStatus& s) { applied_soon += s.is_ok() ? 1 : 100; },
                     Durability::Soon);
    // Woken to learn when the batch is due, the committer has gone back to sleep without it.
    ASSERT_TRUE(test::wait_until([&] {
      auto t = committer_thread();
      return t.sleeping && t.blocked > blocked;
    }));
    EXPECT_EQ(applied_soon, 0);
    EXPECT_FALSE(store.find_integration("soon"));

    Batch synced = store.batch();
    synced.put_integration({"synced", "n", 1});
    std::atomic<int> applied_soon_before_synced{-1};
    std::promise<void> synced_done;
    committer.submit(std::move(synced), [&](const WriteStatus&) {
      applied_soon_before_synced = applied_soon.load();
      synced_done.set_value();
    });
    synced_done.get_future().wait();
    EXPECT_EQ(applied_soon_before_synced, 1);
    EXPECT_TRUE(store.find_integration("soon"));

    Batch last = store.batch();
    last.put_integration({"last", "n", 1});
    committer.submit(std::move(last), [&](const WriteStatus& s) { applied_soon += s.is_ok() ? 1 : 100; },
                     Durability::Soon);
  }
  EXPECT_EQ(applied_soon, 2);
  EXPECT_TRUE(store.find_integration("last"));
}

// Soon writes with no synced group after them get a sync of their own once the delay is over.
TEST(GroupCommit, SoonWritesAloneAreSyncedAfterTheDelay) {
  test::TempDir dir;
  Store store({dir.str()});
  std::uint64_t syncs = store.stats().syncs;
  GroupCommitter committer(store, {.sync_delay = std::chrono::milliseconds(5)});
  Batch soon = store.batch();
  soon.put_integration({"soon", "n", 1});
  ASSERT_TRUE(submit_soon(committer, std::move(soon)).is_ok());
  EXPECT_TRUE(test::wait_until([&] { return store.stats().syncs == syncs + 1; }));
}

// Submits a synced batch for integration `id`; the future is its status.
std::future<WriteStatus> submit_synced(Store& store, GroupCommitter& committer, const std::string& id) {
  auto done = std::make_shared<std::promise<WriteStatus>>();
  Batch batch = store.batch();
  batch.put_integration({id, "n", 1});
  committer.submit(std::move(batch), [done](const WriteStatus& s) { done->set_value(s); });
  return done->get_future();
}

// Commits a group of two synced batches, "b" and "c", and returns a time just before it was taken: the
// committer is held in the callback of a batch of its own ("a") while the two are queued.
std::chrono::steady_clock::time_point commit_group_of_two(Store& store, GroupCommitter& committer) {
  std::promise<void> a_entered, release;
  std::shared_future<void> released = release.get_future().share();
  Batch a = store.batch();
  a.put_integration({"a", "n", 1});
  committer.submit(std::move(a), [&](const WriteStatus&) {
    a_entered.set_value();
    released.wait();
  });
  a_entered.get_future().wait();
  auto b = submit_synced(store, committer, "b");
  auto c = submit_synced(store, committer, "c");
  auto taken = std::chrono::steady_clock::now();
  release.set_value();
  EXPECT_TRUE(b.get().is_ok());
  EXPECT_TRUE(c.get().is_ok());
  return taken;
}

constexpr auto kLiveness = std::chrono::seconds(60);  // far beyond any wait these tests expect

// With a commit delay, a group of several synced requests makes the next group wait for as many:
// the next two are synced together, with one fsync.
TEST(GroupCommit, CommitDelayEndsWhenAsManyAsTheGroupBeforeAreQueued) {
  test::TempDir dir;
  Store store({dir.str()});
  GroupCommitter committer(store, {.commit_delay = std::chrono::hours(1)});  // only the count ends it
  commit_group_of_two(store, committer);
  std::uint64_t syncs = store.stats().syncs;
  auto d = submit_synced(store, committer, "d");
  auto e = submit_synced(store, committer, "e");
  ASSERT_EQ(d.wait_for(kLiveness), std::future_status::ready);
  ASSERT_EQ(e.wait_for(kLiveness), std::future_status::ready);
  EXPECT_TRUE(d.get().is_ok());
  EXPECT_TRUE(e.get().is_ok());
  EXPECT_EQ(store.stats().syncs, syncs + 1);
}

// A request that comes alone waits at most the delay, counted from the start of the group before.
TEST(GroupCommit, CommitDelayEndsAfterItsTime) {
  test::TempDir dir;
  Store store({dir.str()});
  constexpr auto kDelay = std::chrono::milliseconds(50);
  GroupCommitter committer(store, {.commit_delay = kDelay});
  auto taken = commit_group_of_two(store, committer);
  auto d = submit_synced(store, committer, "d");
  ASSERT_EQ(d.wait_for(kLiveness), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - taken, kDelay);
  EXPECT_TRUE(d.get().is_ok());
}

// Groups of one never wait: a lone writer writes at the disk's pace whatever the delay.
TEST(GroupCommit, CommitDelayNeverHoldsALoneWriter) {
  test::TempDir dir;
  Store store({dir.str()});
  GroupCommitter committer(store, {.commit_delay = std::chrono::hours(1)});
  for (const char* id : {"a", "b", "c"}) {
    auto done = submit_synced(store, committer, id);
    ASSERT_EQ(done.wait_for(kLiveness), std::future_status::ready) << id;
    EXPECT_TRUE(done.get().is_ok());
  }
}

// Whether the delay is in use, for the metrics: as set until its trials, if any, decide.
TEST(GroupCommit, CommitDelayKeptIsAsSetBeforeAnyTrial) {
  test::TempDir dir;
  Store store({dir.str()});
  EXPECT_FALSE(GroupCommitter(store).commit_delay_kept());
  EXPECT_TRUE(GroupCommitter(store, {.commit_delay = std::chrono::milliseconds(2)}).commit_delay_kept());
  GroupCommitter probed(store, {.commit_delay = std::chrono::milliseconds(2), .probe_commit_delay = true});
  commit_group_of_two(store, probed);  // too few requests for a verdict
  EXPECT_TRUE(probed.commit_delay_kept());
}

// Stopping the committer ends a delay: what waits in it is made durable.
TEST(GroupCommit, StoppingEndsACommitDelay) {
  test::TempDir dir;
  std::future<WriteStatus> d;
  {
    Store store({dir.str()});
    GroupCommitter committer(store, {.commit_delay = std::chrono::hours(1)});
    commit_group_of_two(store, committer);
    d = submit_synced(store, committer, "d");
  }
  ASSERT_EQ(d.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(d.get().is_ok());
  Store reopened({dir.str()});
  EXPECT_TRUE(reopened.find_integration("d"));
}

}  // namespace
}  // namespace hookd::storage

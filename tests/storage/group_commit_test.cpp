#include "storage/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
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
    GroupCommitter committer(store, std::chrono::hours(1));  // no sync falls due during the test
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
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != "hookd-commit") continue;
    std::ifstream status(task.path() / "status");
    CommitterThread t;
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("State:")) t.sleeping = line.find("S (sleeping)") != std::string::npos;
      if (line.starts_with("voluntary_ctxt_switches:")) t.blocked = std::stoull(line.substr(24));
    }
    return t;
  }
  return {};
}

// A Soon batch is not applied when it wakes the committer: it waits for the next synced group
// (and is applied first, in the order of submission) or for its apply delay; stopping applies
// what still waits.
TEST(GroupCommit, SoonWritesWaitForTheNextSyncedGroupOrTheirApplyDelay) {
  test::TempDir dir;
  Store store({dir.str()});
  std::atomic<int> applied_soon{0};
  {
    GroupCommitter committer(store, std::chrono::hours(1), std::chrono::hours(1));  // neither falls due
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
  GroupCommitter committer(store, std::chrono::milliseconds(5));
  Batch soon = store.batch();
  soon.put_integration({"soon", "n", 1});
  ASSERT_TRUE(submit_soon(committer, std::move(soon)).is_ok());
  EXPECT_TRUE(test::wait_until([&] { return store.stats().syncs == syncs + 1; }));
}

}  // namespace
}  // namespace hookd::storage

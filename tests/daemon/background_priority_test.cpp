// storage.background_priority: RocksDB's flush thread of a running hookd, seen in /proc. Each test
// runs its own hookd process, because the priority holds for the rest of a process's life.
#include <gtest/gtest.h>

#include <sched.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "storage/background_priority.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::test {
namespace {

namespace fs = std::filesystem;

// The scheduling policy of `pid`'s thread named "rocksdb:high" (RocksDB's flush thread), or -1
// while it has none.
int flush_thread_policy(pid_t pid) {
  pid_t tid = thread_id("rocksdb:high", pid);
  return tid < 0 ? -1 : ::sched_getscheduler(tid);
}

// Starts hookd with `extra` arguments, has it flush its memtables (a backup does, through the flush
// thread) and returns its flush thread's policy afterwards, once the thread has one.
int policy_after_a_flush(const std::vector<std::string>& extra) {
  TempDir dir;
  std::string data = dir.str() + "/data";
  std::vector<std::string> args = {"--data-dir", data, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  DaemonProcess daemon(args);
  EXPECT_GT(daemon.wait_ready(), 0) << daemon.err();
  // The first start wrote the integration and its key: there is something to flush.
  auto backup = run_hookd({"backup", "--data-dir", data, "--to", dir.str() + "/backup"});
  EXPECT_EQ(backup.exit_code, 0) << backup.err;
  bool flushed = false;  // a table file in the backup: the flush thread has run
  for (const auto& file : fs::directory_iterator(dir.str() + "/backup")) flushed |= file.path().extension() == ".sst";
  EXPECT_TRUE(flushed);
  int policy = -1;
  EXPECT_TRUE(wait_until([&] { return (policy = flush_thread_policy(daemon.pid())) >= 0; }));
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(), 0) << daemon.err();
  return policy;
}

TEST(BackgroundPriority, IdleRunsFlushesUnderSchedIdle) {
  EXPECT_EQ(policy_after_a_flush({"--set", "storage.background_priority=idle"}), SCHED_IDLE);
}

TEST(BackgroundPriority, NormalKeepsThemAtTheOrdinaryPriority) {
  EXPECT_EQ(policy_after_a_flush({"--set", "storage.background_priority=normal"}), SCHED_OTHER);
}

// "auto": idle where a write stall could raise them back (as root, in CI), else ordinary.
TEST(BackgroundPriority, AutoByDefault) {
  EXPECT_EQ(policy_after_a_flush({}), storage::may_leave_idle() ? SCHED_IDLE : SCHED_OTHER);
}

}  // namespace
}  // namespace hookd::test

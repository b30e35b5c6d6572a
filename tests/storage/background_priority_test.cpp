// IdleBackgroundThreads: on threads of the test's own, standing in for RocksDB's, through the
// stalls of several families; then on a RocksDB database that stalls its writes for real. The
// policies are the kernel's, read back.
#include "storage/background_priority.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <rocksdb/db.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

// A thread that begins background work and then waits until it is destroyed.
class BackgroundThread {
 public:
  explicit BackgroundThread(IdleBackgroundThreads& listener)
      : thread_([this, &listener] {
          listener.on_background_work();
          tid_.set_value(::gettid());
          done_.get_future().wait();
        }),
        tid_value_(tid_.get_future().get()) {}
  ~BackgroundThread() {
    done_.set_value();
    thread_.join();
  }
  int policy() const { return ::sched_getscheduler(tid_value_); }

 private:
  std::promise<pid_t> tid_;
  std::promise<void> done_;
  std::thread thread_;
  pid_t tid_value_;
};

rocksdb::WriteStallInfo stall(const char* family, rocksdb::WriteStallCondition now, rocksdb::WriteStallCondition before) {
  rocksdb::WriteStallInfo info;
  info.cf_name = family;
  info.condition.cur = now;
  info.condition.prev = before;
  return info;
}

using rocksdb::WriteStallCondition;

TEST(IdleBackgroundThreads, RaisesTheThreadsWhileAnyFamilyStallsWrites) {
  ASSERT_TRUE(may_leave_idle()) << "this test needs CAP_SYS_NICE or RLIMIT_NICE of 20 (it runs as root in CI)";
  IdleBackgroundThreads listener;
  BackgroundThread flush(listener);
  EXPECT_EQ(flush.policy(), SCHED_IDLE);

  listener.OnStallConditionsChanged(stall("events", WriteStallCondition::kDelayed, WriteStallCondition::kNormal));
  EXPECT_EQ(flush.policy(), SCHED_OTHER);
  // Work that begins during the stall runs at the ordinary priority too.
  BackgroundThread compaction(listener);
  EXPECT_EQ(compaction.policy(), SCHED_OTHER);

  listener.OnStallConditionsChanged(stall("deliveries", WriteStallCondition::kStopped, WriteStallCondition::kNormal));
  listener.OnStallConditionsChanged(stall("events", WriteStallCondition::kNormal, WriteStallCondition::kDelayed));
  EXPECT_EQ(flush.policy(), SCHED_OTHER);  // "deliveries" still stalls
  EXPECT_EQ(compaction.policy(), SCHED_OTHER);

  listener.OnStallConditionsChanged(stall("deliveries", WriteStallCondition::kNormal, WriteStallCondition::kStopped));
  EXPECT_EQ(flush.policy(), SCHED_IDLE);
  EXPECT_EQ(compaction.policy(), SCHED_IDLE);
}

// RocksDB delays writes once three memtables wait for a flush (of at most four); with its
// background work paused, writing fills them.
TEST(IdleBackgroundThreads, ARealWriteStallRaisesTheFlushThreadUntilItEnds) {
  ASSERT_TRUE(may_leave_idle());
  test::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.listeners.push_back(std::make_shared<IdleBackgroundThreads>());
  options.write_buffer_size = 64 << 10;
  options.max_write_buffer_number = 4;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.str(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(1024, 'x');
  int written = 0;
  auto put = [&] { return db->Put({}, "key" + std::to_string(written++), value).ok(); };

  ASSERT_TRUE(put());
  ASSERT_TRUE(db->Flush({}).ok());  // the flush thread has been seen, and is idle
  pid_t flush_thread = test::thread_id("rocksdb:high");
  ASSERT_GT(flush_thread, 0);
  EXPECT_EQ(::sched_getscheduler(flush_thread), SCHED_IDLE);

  ASSERT_TRUE(db->PauseBackgroundWork().ok());
  // About 60 writes fill a memtable; the fourth full one would stop writes for good.
  while (::sched_getscheduler(flush_thread) == SCHED_IDLE && written < 200) ASSERT_TRUE(put());
  EXPECT_EQ(::sched_getscheduler(flush_thread), SCHED_OTHER) << written << " writes";

  ASSERT_TRUE(db->ContinueBackgroundWork().ok());  // the flushes catch up; writes flow again
  EXPECT_TRUE(test::wait_until([&] { return ::sched_getscheduler(flush_thread) == SCHED_IDLE; }));
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace hookd::storage

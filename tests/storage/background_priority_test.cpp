// IdleBackgroundThreads on threads of the test's own, standing in for RocksDB's: their policy as
// the kernel reports it, through flushes and write stalls as RocksDB reports them.
#include "storage/background_priority.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <future>
#include <thread>

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

}  // namespace
}  // namespace hookd::storage

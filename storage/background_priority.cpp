#include "storage/background_priority.hpp"

#include <sched.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <thread>

namespace hookd::storage {
namespace {

bool set_scheduler(pid_t tid, int policy) {
  sched_param param{};
  return ::sched_setscheduler(tid, policy, &param) == 0;
}

}  // namespace

bool may_leave_idle() {
  bool may = false;
  std::thread probe([&may] { may = set_scheduler(0, SCHED_IDLE) && set_scheduler(0, SCHED_OTHER); });
  probe.join();
  return may;
}

void IdleBackgroundThreads::on_background_work() {
  pid_t tid = ::gettid();
  std::lock_guard lock(mutex_);
  threads_.insert(tid);
  set_scheduler(tid, stalled_.empty() ? SCHED_IDLE : SCHED_OTHER);
}

void IdleBackgroundThreads::OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) {
  std::lock_guard lock(mutex_);
  bool was_stalled = !stalled_.empty();
  if (info.condition.cur == rocksdb::WriteStallCondition::kNormal)
    stalled_.erase(info.cf_name);
  else
    stalled_.insert(info.cf_name);
  bool stalled = !stalled_.empty();
  if (stalled == was_stalled) return;
  // Where the process may not raise them (may_leave_idle()), they stay as they are.
  for (pid_t tid : threads_) set_scheduler(tid, stalled ? SCHED_OTHER : SCHED_IDLE);
  if (stalled)
    spdlog::info("store: RocksDB stalls writes ({}): its background threads run at the ordinary priority meanwhile",
                 info.cf_name);
  else
    spdlog::info("store: writes flow again: RocksDB's background threads back under SCHED_IDLE");
}

}  // namespace hookd::storage

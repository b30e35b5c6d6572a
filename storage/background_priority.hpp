// RocksDB's flushes and compactions under SCHED_IDLE, with a way back. Under SCHED_IDLE a flush
// runs only on CPU time that no ordinary thread wants, so that on a busy machine it no longer
// holds up the acknowledgements and deliveries of that moment (bench/RESULTS.md, steps 60 and 68).
// Beside other busy processes it could also wait indefinitely, and writes stop once the
// memtables are full behind it. So while RocksDB stalls writes (delays or stops them, for any
// column family) its background threads run at the ordinary priority again, and go back under
// SCHED_IDLE once it stalls them no more.
//
// Linux lets a thread leave SCHED_IDLE only with CAP_SYS_NICE or an RLIMIT_NICE that allows its
// nice value (systemd's LimitNICE=+0): may_leave_idle() says whether this process may. Without
// that, the threads stay idle through a stall.
//
// A listener on RocksDB's events: each flush or compaction puts the thread that runs it under the
// policy of the moment as it begins, and the threads seen so far move with each change of the
// stall conditions. Thread-safe.
#pragma once

#include <sys/types.h>

#include <rocksdb/listener.h>

#include <mutex>
#include <set>
#include <string>

namespace hookd::storage {

// Whether this process may move a thread from SCHED_IDLE back to the ordinary policy. Found by
// trying, on a thread of its own.
bool may_leave_idle();

class IdleBackgroundThreads : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "IdleBackgroundThreads"; }
  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { on_background_work(); }
  void OnCompactionBegin(rocksdb::DB*, const rocksdb::CompactionJobInfo&) override { on_background_work(); }
  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override;

  // On the thread about to do a flush or compaction: puts it under SCHED_IDLE, unless writes are
  // stalled, and remembers it.
  void on_background_work();

 private:
  std::mutex mutex_;
  std::set<pid_t> threads_;         // RocksDB's background threads seen so far: they live as long as the store
  std::set<std::string> stalled_;   // the column families whose writes are delayed or stopped
};

}  // namespace hookd::storage

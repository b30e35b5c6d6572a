// Group commit: concurrent writers share one fsync. Batches submitted while a sync is under way
// are applied together and made durable by the next single synced write, so that throughput grows
// with concurrency instead of being capped at one fsync per write.
//
// A batch that nobody waits for (the engine's record of an attempt) may ask only to be durable
// soon: it is applied, and in the kernel's page cache, before its callback runs, so it survives a
// crash of hookd (kill -9) at once and a crash of the machine once the log is fsynced, at the
// latest sync_delay later, by the next synced group or by a sync of its own. A stream of them then
// costs one fsync per sync_delay instead of one per group (about 0.3 ms of CPU each in a VM).
// Nor does such a batch wake the committer at once: it is applied with the next synced group or
// at the latest apply_delay after the first of them, so that a stream of them costs one wake-up
// of this thread (a system call for the submitter) and one log write per apply_delay, not one each.
//
// Thread-safe. Callbacks run on the committer's own thread, after the batch is applied (Soon) or
// durable (Synced), or has failed (nothing of it is acknowledged; after a failed sync, a write may
// or may not survive a crash, exactly as for a failed synced write).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/store.hpp"

namespace hookd::storage {

enum class Durability {
  Synced,  // fsynced before the callback runs: anything acknowledged to a client
  Soon,    // applied before the callback runs, fsynced within the committer's sync_delay
};

class GroupCommitter {
 public:
  using Callback = std::function<void(const WriteStatus&)>;
  static constexpr std::chrono::milliseconds kDefaultSyncDelay{20};
  static constexpr std::chrono::milliseconds kDefaultApplyDelay{1};

  explicit GroupCommitter(Store& store, std::chrono::milliseconds sync_delay = kDefaultSyncDelay,
                          std::chrono::milliseconds apply_delay = kDefaultApplyDelay);
  ~GroupCommitter();  // commits what was submitted, fsyncs it, then stops

  void submit(Batch batch, Callback done, Durability durability = Durability::Synced);

  // Blocks until `batch` is durable or failed.
  WriteStatus write(Batch batch);

 private:
  using Clock = std::chrono::steady_clock;
  void run();

  struct Pending {
    Batch batch;
    Callback done;
    Durability durability;
  };

  Store& store_;
  const std::chrono::milliseconds sync_delay_;
  const std::chrono::milliseconds apply_delay_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool synced_queued_ = false;   // queue_ holds a Synced batch
  Clock::time_point soon_due_{};  // if queue_ holds only Soon batches: when they are to be applied
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hookd::storage

#include "storage/group_commit.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>

namespace hookd::storage {

GroupCommitter::GroupCommitter(Store& store, std::chrono::milliseconds sync_delay,
                               std::chrono::milliseconds apply_delay)
    : store_(store), sync_delay_(sync_delay), apply_delay_(apply_delay), thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupCommitter::submit(Batch batch, Callback done, Durability durability) {
  bool wake = true;
  {
    std::lock_guard lock(mutex_);
    if (durability == Durability::Synced) {
      wake = !synced_queued_;
      synced_queued_ = true;
    } else if (!queue_.empty()) {
      wake = false;  // the committer knows already when to take the queue
    } else {
      soon_due_ = Clock::now() + apply_delay_;
    }
    queue_.push_back(Pending{std::move(batch), std::move(done), durability});
  }
  if (wake) wake_.notify_one();
}

WriteStatus GroupCommitter::write(Batch batch) {
  std::promise<WriteStatus> result;
  submit(std::move(batch), [&result](const WriteStatus& s) { result.set_value(s); });
  return result.get_future().get();
}

void GroupCommitter::run() {
  ::pthread_setname_np(::pthread_self(), "hookd-commit");  // for top -H, perf and gdb
  std::deque<Pending> group;
  std::vector<Batch> batches;
  // While applied writes wait for their fsync: when it is due. (A flag and a time rather than an
  // optional, which GCC 12 reports as maybe uninitialized.)
  bool unsynced = false;
  Clock::time_point sync_due{};
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Waits for a synced batch, for Soon ones to be due, for the pending sync to be due, or
      // for the stop; whichever comes first.
      for (;;) {
        if (stopping_ || synced_queued_) break;
        bool soon_queued = !queue_.empty();
        if (!soon_queued && !unsynced) {
          wake_.wait(lock);
          continue;
        }
        auto due = soon_queued && unsynced ? std::min(soon_due_, sync_due) : soon_queued ? soon_due_ : sync_due;
        if (Clock::now() >= due) break;
        wake_.wait_until(lock, due);
      }
      if (queue_.empty() && !unsynced) return;  // stopping, and everything submitted is durable
      group.swap(queue_);
      synced_queued_ = false;
    }
    if (group.empty()) {  // the sync is due (or hookd is stopping) and nothing came to carry it
      // A failed sync is tried again a second later: a log that cannot be synced fails every
      // synced write meanwhile, which the clients see.
      unsynced = !store_.sync().is_ok();
      sync_due = Clock::now() + std::chrono::seconds(1);
      if (unsynced && stopping_) return;
      continue;
    }
    // The whole group in one write: one log write, and one fsync if any batch needs it or the
    // writes before it are due.
    bool sync = (unsynced && Clock::now() >= sync_due) ||
                std::any_of(group.begin(), group.end(), [](const Pending& p) { return p.durability == Durability::Synced; });
    for (auto& p : group) batches.push_back(std::move(p.batch));
    WriteStatus status = store_.write_all(batches, sync);
    if (sync && status.is_ok()) {
      unsynced = false;
    } else if (!sync && status.is_ok() && !unsynced) {
      unsynced = true;
      sync_due = Clock::now() + sync_delay_;
    }
    for (auto& p : group) p.done(status);
    group.clear();
    batches.clear();
  }
}

}  // namespace hookd::storage

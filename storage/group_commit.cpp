#include "storage/group_commit.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>

#include "storage/commit_delay_probe.hpp"

namespace hookd::storage {

GroupCommitter::GroupCommitter(Store& store, GroupCommitOptions options)
    : store_(store), options_(options), delay_kept_(options.commit_delay.count() > 0), thread_([this] { run(); }) {
  started_.wait();
}

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
      wake = ++synced_queued_ == synced_wanted_;
    } else if (!queue_.empty()) {
      wake = false;  // the committer knows already when to take the queue
    } else {
      soon_due_ = Clock::now() + options_.apply_delay;
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
  if (options_.on_thread_start) options_.on_thread_start();
  started_.count_down();
  std::deque<Pending> group;
  std::vector<Batch> batches;
  // While applied writes wait for their fsync: when it is due. (A flag and a time rather than an
  // optional, which GCC 12 reports as maybe uninitialized.)
  bool unsynced = false;
  Clock::time_point sync_due{};
  Clock::time_point delayed_until{};  // the commit delay's end after a synced group of several
  CommitDelayProbe probe;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Waits for synced batches (one, or during a commit delay as many as the group before), for Soon
      // ones to be due, for the pending sync to be due, or for the stop; whichever comes first.
      for (;;) {
        if (stopping_) break;
        auto now = Clock::now();
        if (synced_wanted_ > 1 && now >= delayed_until) synced_wanted_ = 1;  // the delay is over
        if (synced_queued_ >= synced_wanted_) break;
        auto due = Clock::time_point::max();
        if (synced_wanted_ > 1) due = delayed_until;
        // Soon batches queued after a synced one go with it, at the latest when the delay is over.
        if (synced_queued_ == 0 && !queue_.empty()) due = std::min(due, soon_due_);
        if (synced_queued_ == 0 && unsynced) due = std::min(due, sync_due);
        if (now >= due) break;
        if (due == Clock::time_point::max())
          wake_.wait(lock);
        else
          wake_.wait_until(lock, due);
      }
      if (queue_.empty() && !unsynced) return;  // stopping, and everything submitted is durable
      group.swap(queue_);
      if (synced_queued_ > 0) {  // after several synced requests, the next group waits for as many
        auto now = Clock::now();
        bool delay = options_.commit_delay.count() > 0;
        if (delay && options_.probe_commit_delay) {
          delay = probe.take(now, synced_queued_);
          delay_kept_.store(probe.kept(), std::memory_order_relaxed);
        }
        synced_wanted_ = delay ? synced_queued_ : 1;
        delayed_until = now + options_.commit_delay;
        synced_queued_ = 0;
      }
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
      sync_due = Clock::now() + options_.sync_delay;
    }
    groups_written_.fetch_add(1, std::memory_order_relaxed);
    for (auto& p : group) p.done(status);
    group.clear();
    batches.clear();
  }
}

}  // namespace hookd::storage

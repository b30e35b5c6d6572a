// Group commit: concurrent writers share one fsync. Batches submitted while a sync is under way
// are applied together and made durable by the next single synced write, so that throughput grows
// with concurrency instead of being capped at one fsync per write.
//
// A commit delay (like PostgreSQL's commit_delay) spaces the syncs under a steady
// stream of concurrent writers: after a synced group of several requests, the next group is taken
// once as many synced requests are queued again, or commit_delay after the start of the sync
// before, whichever comes first. Requests that arrive at a steady rate then gather into groups of
// at least commit_delay's worth: fewer fsyncs (about 0.1-0.3 ms of CPU each in a VM) and fewer
// wake-ups everywhere downstream. A lone writer is never held back; a few writers that each wait
// for their answer before writing again are, when they came in alternating groups: their groups
// merge and no longer overlap one's sync with the others' round trips (bench/RESULTS.md, step 58).
// With probe_commit_delay the committer finds out which kind of writers it has, by trying
// (storage/commit_delay_probe.hpp), and keeps the delay only where it costs them nothing.
//
// A batch that nobody waits for (the engine's record of an attempt) may ask only to be durable
// soon: it is applied, and in the kernel's page cache, before its callback runs, so it survives a
// crash of hookd (kill -9) at once and a crash of the machine once the log is fsynced, at the
// latest sync_delay later, by the next synced group or by a sync of its own. A stream of them then
// costs one fsync per sync_delay instead of one per group.
// Nor does such a batch wake the committer at once: it is applied with the next synced group or
// at the latest apply_delay after the first of them, so that a stream of them costs one wake-up
// of this thread (a system call for the submitter) and one log write per apply_delay, not one each.
// Behind a synced batch that a commit delay holds, it waits with that batch: keep commit_delay
// below sync_delay.
//
// Thread-safe. Callbacks run on the committer's own thread, after the batch is applied (Soon) or
// durable (Synced), or has failed (nothing of it is acknowledged; after a failed sync, a write may
// or may not survive a crash, exactly as for a failed synced write).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <latch>
#include <mutex>
#include <thread>

#include "storage/store.hpp"

namespace hookd::storage {

enum class Durability {
  Synced,  // fsynced before the callback runs: anything acknowledged to a client
  Soon,    // applied before the callback runs, fsynced within the committer's sync_delay
};

struct GroupCommitOptions {
  std::chrono::milliseconds sync_delay{20};     // Soon batches are fsynced at the latest this long after
  std::chrono::milliseconds apply_delay{1};     // Soon batches are applied at the latest this long after
  std::chrono::microseconds commit_delay{0};    // 0: none; else the longest wait for a group (above)
  // When true, the delay is kept only while it does not slow the synced requests down: tried now
  // and then against none, by storage/commit_delay_probe.hpp. When false, it applies throughout.
  bool probe_commit_delay = false;
  // Runs first on the committer's thread, before the constructor returns. The daemon gives that
  // thread memory of its own there, populated ahead, which it hands back once groups_written()
  // stops moving: the memtables are allocated on it (daemon/thread_arena.hpp).
  std::function<void()> on_thread_start{};
};

class GroupCommitter {
 public:
  using Callback = std::function<void(const WriteStatus&)>;

  explicit GroupCommitter(Store& store, GroupCommitOptions options = {});
  ~GroupCommitter();  // commits what was submitted, fsyncs it, then stops

  void submit(Batch batch, Callback done, Durability durability = Durability::Synced);

  // Blocks until `batch` is durable or failed.
  WriteStatus write(Batch batch);

  // Groups written so far: unchanged over a while, the committer has been idle. Thread-safe.
  std::uint64_t groups_written() const { return groups_written_.load(std::memory_order_relaxed); }

  // Whether a commit delay is set and, with probe_commit_delay, kept by its last trials (until
  // the first verdict, kept). Thread-safe.
  bool commit_delay_kept() const { return delay_kept_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  void run();

  struct Pending {
    Batch batch;
    Callback done;
    Durability durability;
  };

  Store& store_;
  const GroupCommitOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::size_t synced_queued_ = 0;  // Synced batches in queue_
  std::size_t synced_wanted_ = 1;  // how many of them make a group: more than one during a commit delay
  Clock::time_point soon_due_{};  // if queue_ holds only Soon batches: when they are to be applied
  bool stopping_ = false;
  std::atomic<std::uint64_t> groups_written_{0};
  std::atomic<bool> delay_kept_;
  std::latch started_{1};  // counted down once on_thread_start has run
  std::thread thread_;
};

}  // namespace hookd::storage

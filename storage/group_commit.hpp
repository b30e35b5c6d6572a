// Group commit: concurrent writers share one fsync. Batches submitted while a sync is under way
// are applied together and made durable by the next single synced write, so that throughput grows
// with concurrency instead of being capped at one fsync per write.
//
// Thread-safe. Callbacks run on the committer's own thread, after the batch is durable (Ok) or
// has failed (nothing of it is acknowledged; after a failed sync, a write may or may not survive a
// crash, exactly as for a failed synced write).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/store.hpp"

namespace hookd::storage {

class GroupCommitter {
 public:
  using Callback = std::function<void(const WriteStatus&)>;

  explicit GroupCommitter(Store& store);
  ~GroupCommitter();  // commits what was submitted, then stops

  void submit(Batch batch, Callback done);

  // Blocks until `batch` is durable or failed.
  WriteStatus write(Batch batch);

 private:
  void run();

  struct Pending {
    Batch batch;
    Callback done;
  };

  Store& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hookd::storage

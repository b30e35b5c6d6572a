#include "storage/group_commit.hpp"

#include <pthread.h>

#include <future>

namespace hookd::storage {

GroupCommitter::GroupCommitter(Store& store) : store_(store), thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupCommitter::submit(Batch batch, Callback done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Pending{std::move(batch), std::move(done)});
  }
  wake_.notify_one();
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
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything submitted is done
      group.swap(queue_);
    }
    // The whole group in one synced write: one log write and one fsync, however many batches.
    for (auto& p : group) batches.push_back(std::move(p.batch));
    WriteStatus status = store_.write_all(batches);
    for (auto& p : group) p.done(status);
    group.clear();
    batches.clear();
  }
}

}  // namespace hookd::storage

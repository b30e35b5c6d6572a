#include "storage/group_commit.hpp"

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
  std::deque<Pending> group;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything submitted is done
      group.swap(queue_);
    }
    // All but the last unsynced; the last synced, which syncs the log with everything before it.
    // (Not SyncWAL(): after a failed write, RocksDB asserts on it.)
    std::vector<WriteStatus> statuses;
    statuses.reserve(group.size());
    for (std::size_t i = 0; i < group.size(); ++i)
      statuses.push_back(i + 1 < group.size() ? store_.write_unsynced(group[i].batch) : store_.write(group[i].batch));
    if (!statuses.back().is_ok())  // the sync failed: nothing of the group is known to be durable
      for (auto& s : statuses) s = statuses.back();
    for (std::size_t i = 0; i < group.size(); ++i) group[i].done(statuses[i]);
    group.clear();
  }
}

}  // namespace hookd::storage

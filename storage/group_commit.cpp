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
    std::vector<WriteStatus> statuses;
    statuses.reserve(group.size());
    bool any_written = false;
    for (auto& p : group) {
      statuses.push_back(store_.write_unsynced(p.batch));
      any_written |= statuses.back().is_ok();
    }
    if (any_written) {
      WriteStatus synced = store_.sync();
      if (!synced.is_ok())
        for (auto& s : statuses)
          if (s.is_ok()) s = synced;
    }
    for (std::size_t i = 0; i < group.size(); ++i) group[i].done(statuses[i]);
    group.clear();
  }
}

}  // namespace hookd::storage

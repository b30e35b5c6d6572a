// Files RocksDB no longer needs are deleted through the trash, a piece at a time
// (storage/tuning.cpp): watched with inotify, which reports each kind of step however fast it goes.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "storage/store.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

namespace fs = std::filesystem;

// What inotify reported for one file name.
struct Seen {
  bool moved_in = false;
  int modified = 0;  // writes and truncations (inotify merges repeats not yet read)
  bool deleted = false;
};

class DirectoryWatch {
 public:
  explicit DirectoryWatch(const fs::path& dir) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0 || ::inotify_add_watch(fd_, dir.c_str(), IN_MOVED_TO | IN_MODIFY | IN_DELETE) < 0)
      throw std::runtime_error("inotify");
  }
  ~DirectoryWatch() { ::close(fd_); }

  // What was seen, one line per file name: for a failing test's message.
  std::string report() const {
    std::string out;
    for (const auto& [name, s] : seen_)
      out += name + (s.moved_in ? " moved in," : "") + " modified " + std::to_string(s.modified) +
             (s.deleted ? ", deleted" : "") + "\n";
    return out;
  }

  // Reads events until `done` holds for what was seen, or `timeout` passes. True if it held.
  template <typename Done>
  bool read_until(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    alignas(inotify_event) char buffer[64 * 1024];
    while (!done(seen_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      ssize_t n = ::read(fd_, buffer, sizeof buffer);
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        if (event->len == 0) continue;
        Seen& s = seen_[event->name];
        if (event->mask & IN_MOVED_TO) s.moved_in = true;
        if (event->mask & IN_MODIFY) ++s.modified;
        if (event->mask & IN_DELETE) s.deleted = true;
      }
    }
    return true;
  }

 private:
  int fd_;
  std::map<std::string, Seen> seen_;
};

bool is_log_trash(const std::string& name) { return name.ends_with(".log.trash"); }

TEST(FileDeletion, ObsoleteLogsAreCutOffInPiecesThroughTheTrash) {
  test::TempDir dir;
  fs::path data = dir.path() / "data";
  fs::create_directories(data);
  DirectoryWatch watch(data);
  Store::Options options{data.string()};
  options.memtable_bytes = 8u << 20;
  Store store(options);

  // One write of 6 MiB: the first log holds all of it, however often RocksDB starts new logs
  // after it (when flushes lag, as in a sanitizer build, every few hundred KiB). It is the first
  // log to become obsolete, so the trash is empty then and takes it.
  std::string body(4096, 'x');
  auto events = [&](int first, int count) {
    Batch batch = store.batch();
    for (int n = first; n < first + count; ++n)
      batch.put_event({"i", store.next_seq(Store::Sequence::Event), "evt-" + std::to_string(n), "Payout.created", body, 1});
    return batch;
  };
  Batch big = events(0, 1536);
  ASSERT_TRUE(store.write_unsynced(big).is_ok());
  for (int b = 0; b < 128; ++b) {  // 32 MiB more, which flushes the first log's memtables
    Batch batch = events(1536 + b * 64, 64);
    ASSERT_TRUE(store.write_unsynced(batch).is_ok());
  }

  // A log of more than the 4 MiB piece: renamed into the trash, cut shorter, then deleted.
  std::string name;
  bool found = watch.read_until([&](const std::map<std::string, Seen>& seen) {
    for (const auto& [n, s] : seen)
      if (is_log_trash(n) && s.deleted && s.modified > 0) return name = n, true;
    return false;
  });
  ASSERT_TRUE(found) << "no log went through the trash in pieces; seen:\n" << watch.report();
  EXPECT_FALSE(fs::exists(data / name));
  EXPECT_FALSE(fs::exists(data / name.substr(0, name.size() - std::string(".trash").size())));
}

// RocksDB's open deletes what is in the trash, as the store's comment and the operator guide promise.
TEST(FileDeletion, TrashLeftByACrashIsDeletedWhenTheStoreOpens) {
  test::TempDir dir;
  fs::path data = dir.path() / "data";
  { Store store({data.string()}); }
  // What a crash in the middle of deleting leaves behind.
  for (const char* name : {"000003.log.trash", "000007.sst.trash", "000008.blob.trash"})
    std::ofstream(data / name) << std::string(1 << 20, 'x');

  Store store({data.string()});
  EXPECT_TRUE(test::wait_until([&] {
    for (const auto& entry : fs::directory_iterator(data))
      if (entry.path().extension() == ".trash") return false;
    return true;
  }));
}

}  // namespace
}  // namespace hookd::storage

#include "storage/prefilled_logs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace hookd::storage {

namespace {

// The zeros are filled in steps as long as the log already is, rounded down to a power of two,
// within these bounds, and reach one to two steps ahead. A new log starts with little: RocksDB
// starts one for every memtable it switches, often several within milliseconds, and each one's
// first sync waits for its zeros to be written (about 0.55 ms with 128 KiB of them against 1.9 ms
// with 2 MiB, bench/RESULTS.md step 63). A long log gets them a mebibyte at a time, and the first
// sync after each step still writes the inode (the new size): one sync in a thousand 1 KiB events.
constexpr std::uint64_t kMinStep = 64u << 10;
constexpr std::uint64_t kMaxStep = 1u << 20;

// RocksDB names its write-ahead logs NNNNNN.log; its info log is LOG, without the suffix.
bool is_write_ahead_log(std::string_view path) {
  std::string_view name = path.substr(path.rfind('/') + 1);  // npos + 1 == 0
  if (name.size() <= 4 || !name.ends_with(".log")) return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

class PrefilledLogFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  // `fd` is a second descriptor of the same file, for the zeros: RocksDB's own writes go through
  // `file` at its file offset, which a pwrite on another descriptor leaves alone.
  PrefilledLogFile(std::unique_ptr<rocksdb::FSWritableFile> file, int fd)
      : FSWritableFileOwnerWrapper(std::move(file)), fd_(fd) {}
  ~PrefilledLogFile() override { ::close(fd_); }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    fill_ahead(written_ + data.size());
    auto s = target()->Append(data, options, dbg);
    if (s.ok()) written_ += data.size();
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
    fill_ahead(written_ + data.size());
    auto s = target()->Append(data, options, info, dbg);
    if (s.ok()) written_ += data.size();
    return s;
  }

  rocksdb::IOStatus Truncate(std::uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    auto s = target()->Truncate(size, options, dbg);
    if (s.ok()) written_ = filled_ = size;  // the zeros past `size` are gone
    return s;
  }

 private:
  // Keeps the zeros ahead of `end`, RocksDB's end after the append to come. The next fdatasync
  // writes them along with the log's data (it writes all of the file's dirty pages), once; their
  // write-back is started here already so that that sync finds it under way. Nothing is filled
  // below `end`: the append writes there. If filling fails (no space, say), the zeros it wrote are
  // given back and the log goes on without them: the fill only saves time, must not take a nearly
  // full disk's last space from RocksDB's other files, and RocksDB's own writes and syncs report
  // whatever is wrong with the disk.
  void fill_ahead(std::uint64_t end) {
    std::uint64_t step = std::bit_floor(std::clamp(end, kMinStep, kMaxStep));
    if (!filling_ || end + step <= filled_) return;
    static const std::vector<char> zeros(kMaxStep, 0);
    std::uint64_t from = std::max(filled_, end), to = (end / step + 2) * step;
    for (std::uint64_t at = from; at < to;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kMaxStep, to - at));
      ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(at));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        // Should even this fail, the zeros go when RocksDB cuts the log back as it closes it.
        (void)!::ftruncate(fd_, static_cast<off_t>(filled_));
        filling_ = false;
        return;
      }
      at += static_cast<std::uint64_t>(w);
    }
    filled_ = to;
    ::sync_file_range(fd_, static_cast<off_t>(from), static_cast<off_t>(to - from), SYNC_FILE_RANGE_WRITE);
  }

  int fd_;
  bool filling_ = true;
  std::uint64_t written_ = 0;  // what RocksDB appended
  std::uint64_t filled_ = 0;   // the file's size: RocksDB's bytes, then zeros
};

class PrefilledLogFileSystem : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "HookdPrefilledLogFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(path, options, result, dbg);
    if (!s.ok() || !is_write_ahead_log(path)) return s;
    // Without a second descriptor the log is written as RocksDB writes it, unfilled.
    if (int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC); fd >= 0)
      *result = std::make_unique<PrefilledLogFile>(std::move(*result), fd);
    return s;
  }
};

}  // namespace

std::unique_ptr<rocksdb::Env> new_prefilled_log_env() {
  return rocksdb::NewCompositeEnv(std::make_shared<PrefilledLogFileSystem>(rocksdb::FileSystem::Default()));
}

}  // namespace hookd::storage

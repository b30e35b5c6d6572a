#include "storage/prefilled_logs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace hookd::storage {

namespace {

// How far ahead of the log's end the zeros reach, at least. The first sync in each chunk still
// writes the inode (the chunk's new size); at 1 KiB events that is one sync in a thousand events.
constexpr std::uint64_t kChunk = 1u << 20;

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
  // Keeps the zeros at least a chunk ahead of `end`, RocksDB's end after the append to come. The
  // next fdatasync writes the new chunk along with the log's data (it writes all of the file's dirty
  // pages), once; its write-back is started here already so that that sync finds it under way. If
  // filling fails (no space, say), the zeros it wrote are given back and the log goes on without
  // them: the fill only saves time, must not take a nearly full disk's last space from RocksDB's
  // other files, and RocksDB's own writes and syncs report whatever is wrong with the disk.
  void fill_ahead(std::uint64_t end) {
    if (!filling_ || end + kChunk <= filled_) return;
    static const std::vector<char> zeros(kChunk, 0);
    std::uint64_t from = filled_, to = (end / kChunk + 2) * kChunk;
    while (filled_ < to) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, to - filled_));
      ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(filled_));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        if (::ftruncate(fd_, static_cast<off_t>(from)) == 0) filled_ = from;
        filling_ = false;
        return;
      }
      filled_ += static_cast<std::uint64_t>(w);
    }
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

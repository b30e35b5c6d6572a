#include "tests/support/failing_syncs.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string>

namespace hookd::test {
namespace {

std::mutex mutex;
std::string failing_dir;  // empty: none fail

bool fails(int fd) {
  std::lock_guard lock(mutex);
  if (failing_dir.empty()) return false;
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
  return !ec && path.starts_with(failing_dir);
}

}  // namespace

int sync_unless_failing(long call, int fd) {
  if (fails(fd)) {
    errno = EIO;
    return -1;
  }
  return static_cast<int>(::syscall(call, fd));
}

FailingSyncs::FailingSyncs(const std::string& dir) {
  std::lock_guard lock(mutex);
  failing_dir = std::filesystem::canonical(dir).string() + "/";
}

FailingSyncs::~FailingSyncs() {
  std::lock_guard lock(mutex);
  failing_dir.clear();
}

}  // namespace hookd::test

extern "C" int fdatasync(int fd) { return hookd::test::sync_unless_failing(SYS_fdatasync, fd); }

extern "C" int fsync(int fd) { return hookd::test::sync_unless_failing(SYS_fsync, fd); }

// A disk that fails its syncs, which cannot be had here otherwise: while a FailingSyncs lives,
// fdatasync and fsync of files under its directory fail with EIO.
//
// The test binary defines fdatasync and fsync itself; RocksDB, linked in statically, calls these
// instead of the C library's. Without a FailingSyncs they make the system call as the C library's
// do.
#pragma once

#include <string>

namespace hookd::test {

class FailingSyncs {
 public:
  explicit FailingSyncs(const std::string& dir);
  ~FailingSyncs();
  FailingSyncs(const FailingSyncs&) = delete;
  FailingSyncs& operator=(const FailingSyncs&) = delete;
};

// The system call `call` (SYS_fdatasync or SYS_fsync) on `fd`, or EIO if a FailingSyncs covers it.
int sync_unless_failing(long call, int fd);

}  // namespace hookd::test

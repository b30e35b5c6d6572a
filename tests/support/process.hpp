// Runs the real `hookd` binary as a child process: one-shot commands, and a daemon to signal.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace hookd::test {

// Polls `condition` until it holds or `timeout` passes; returns whether it held. For conditions
// that have no event to wait on (another process's state).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The value after `label` on its line of a first-start banner ("  Integration-ID: ", ...).
std::string banner_value(const std::string& banner, const std::string& label);

// Resident memory of process `pid` (0: this one), KiB, from /proc.
std::size_t rss_kib(pid_t pid = 0);

// The id of process `pid`'s (0: this one's) thread named `name`, from /proc; -1 if it has none.
pid_t thread_id(const std::string& name, pid_t pid = 0);

// Whether RSS measures the program's memory: not under AddressSanitizer, which keeps freed memory
// in quarantine and adds shadow memory, nor under ThreadSanitizer, whose shadow memory is several
// times the program's. Tests bound RSS only when it does, and print it always.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kRssIsMeaningful = false;
#else
inline constexpr bool kRssIsMeaningful = true;
#endif

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs hookd with `args` and extra environment variables, and waits for it. With
// `refuse_io_uring`, under a seccomp filter that fails io_uring_setup (as Docker's default does).
ProcessResult run_hookd(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                        bool refuse_io_uring = false);

// `hookd serve ...` in the background, its output captured.
class DaemonProcess {
 public:
  DaemonProcess(const std::vector<std::string>& serve_args, const std::map<std::string, std::string>& env = {});
  ~DaemonProcess();  // kills it if still running

  // Waits for the "serving the API on HOST:PORT" log line; returns the port, or 0 if it exited.
  int wait_ready();
  void signal(int sig);
  // Waits for the process to end; its exit code, or 128 + signal.
  int wait();
  std::string out() const;
  std::string err() const;
  pid_t pid() const { return pid_; }

 private:
  TempDir logs_;
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace hookd::test

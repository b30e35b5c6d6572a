#include "tests/support/process.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace hookd::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// posix_spawn cannot install a seccomp filter, so this forks; a child of a threaded process may
// only make async-signal-safe calls before exec, so everything is prepared first.
pid_t fork_refusing_io_uring(char** argv, char** envp, const std::string& out_path, const std::string& err_path) {
  // io_uring_setup has the same number (425) on x86-64 and arm64, so the filter checks no arch.
  static sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  static sock_fprog program = {sizeof(filter) / sizeof(filter[0]), filter};
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (in < 0 || out < 0 || err < 0) throw std::runtime_error("cannot open the child's output files");
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(127);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) ::_exit(127);
    ::execve(HOOKD_BINARY, argv, envp);
    ::_exit(127);
  }
  for (int fd : {in, out, err}) ::close(fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// With `refuse_io_uring`, hookd runs under a seccomp filter that fails io_uring_setup with EPERM,
// as Docker's default profile does.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path, bool refuse_io_uring = false) {
  std::vector<std::string> argv_store = {HOOKD_BINARY};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (entry.rfind("HOOKD_", 0) != 0) env_store.push_back(entry);  // only what the test sets
  }
  for (const auto& [k, v] : env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  if (refuse_io_uring) return fork_refusing_io_uring(argv.data(), envp.data(), out_path, err_path);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, HOOKD_BINARY, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string banner_value(const std::string& banner, const std::string& label) {
  auto at = banner.find(label);
  if (at == std::string::npos) return {};
  at += label.size();
  return banner.substr(at, banner.find('\n', at) - at);
}

std::size_t rss_kib(pid_t pid) {
  std::ifstream status(pid == 0 ? std::string("/proc/self/status") : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

pid_t thread_id(const std::string& name, pid_t pid) {
  std::error_code ec;  // a thread may end while the directory is listed
  for (const auto& task : std::filesystem::directory_iterator(
           pid == 0 ? std::string("/proc/self/task") : "/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string comm;
    if (std::getline(std::ifstream(task.path() / "comm"), comm) && comm == name)
      return static_cast<pid_t>(std::stol(task.path().filename().string()));
  }
  return -1;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

ProcessResult run_hookd(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                        bool refuse_io_uring) {
  TempDir logs;
  pid_t pid = spawn(args, env, logs.str() + "/out", logs.str() + "/err", refuse_io_uring);
  int status = 0;
  waitpid(pid, &status, 0);
  return ProcessResult{exit_code(status), read_file(logs.str() + "/out"), read_file(logs.str() + "/err")};
}

DaemonProcess::DaemonProcess(const std::vector<std::string>& serve_args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> args = {"serve"};
  args.insert(args.end(), serve_args.begin(), serve_args.end());
  pid_ = spawn(args, env, logs_.str() + "/out", logs_.str() + "/err");
}

DaemonProcess::~DaemonProcess() {
  if (status_ == -1 && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

int DaemonProcess::wait_ready() {
  std::regex serving("serving the API on [^ ]+:([0-9]+)");
  int port = 0;
  wait_until([&] {
    std::smatch m;
    std::string log = err();
    if (std::regex_search(log, m, serving)) {
      port = std::stoi(m[1]);
      return true;
    }
    int status = 0;
    if (status_ == -1 && waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_ != -1;
  });
  return port;
}

void DaemonProcess::signal(int sig) { ::kill(pid_, sig); }

int DaemonProcess::wait() {
  if (status_ == -1) waitpid(pid_, &status_, 0);
  return exit_code(status_);
}

std::string DaemonProcess::out() const { return read_file(logs_.str() + "/out"); }
std::string DaemonProcess::err() const { return read_file(logs_.str() + "/err"); }

}  // namespace hookd::test

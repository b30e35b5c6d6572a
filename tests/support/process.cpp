#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

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

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path) {
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

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

ProcessResult run_hookd(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  TempDir logs;
  pid_t pid = spawn(args, env, logs.str() + "/out", logs.str() + "/err");
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

// A real hookd (daemon/App) running in the test process on loopback, with its store in a temporary
// directory and a clock the test moves. Start, stop and restart it on the same data directory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "daemon/app.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::test {

// A clock for tests: real time, plus whatever jumps the test makes (to expire records by the day
// without waiting a day, while delivery timing still runs in real milliseconds).
class ManualClock {
 public:
  std::int64_t now_ms() const { return system_now_ms() + offset_.load(); }
  void advance_ms(std::int64_t ms) { offset_ += ms; }
  std::function<std::int64_t()> function() {
    return [this] { return now_ms(); };
  }

 private:
  std::atomic<std::int64_t> offset_{0};
};

class TestDaemon {
 public:
  // `customize` adjusts the settings before every start (data_dir and listen are set already).
  explicit TestDaemon(std::function<void(Settings&)> customize = {});
  ~TestDaemon();

  void start();
  void stop();
  // Waits (at most 20 s, then stops it) until the daemon stops by itself; true if it stopped for
  // a write its store failed.
  bool wait_until_stopped();
  void restart() {
    stop();
    start();
  }

  std::uint16_t port() const { return port_; }
  std::string data_dir() const { return dir_.str() + "/data"; }
  // The integration and key created at the first start.
  const std::string& integration() const { return integration_; }
  const std::string& key() const { return key_; }
  ManualClock& clock() { return clock_; }

  ApiClient client(std::optional<std::string> ca_file = std::nullopt) const {
    return ApiClient(port_, key_, integration_, std::move(ca_file));
  }
  App& app() { return *app_; }

 private:
  TempDir dir_;
  std::function<void(Settings&)> customize_;
  ManualClock clock_;
  std::unique_ptr<App> app_;
  std::thread thread_;
  std::future<bool> store_failed_;  // what run() returns
  std::uint16_t port_ = 0;
  std::string integration_;
  std::string key_;
};

}  // namespace hookd::test

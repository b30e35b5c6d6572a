#include "tests/support/daemon.hpp"

#include <sstream>

#include "tests/support/process.hpp"

namespace hookd::test {
TestDaemon::TestDaemon(std::function<void(Settings&)> customize) : customize_(std::move(customize)) { start(); }

TestDaemon::~TestDaemon() { stop(); }

void TestDaemon::start() {
  Settings settings;
  settings.data_dir = data_dir();
  settings.api.listen = "127.0.0.1:0";
  settings.log.level = "warn";
  if (customize_) customize_(settings);
  app_ = std::make_unique<App>(settings, clock_.function());
  std::ostringstream banner;
  app_->start(banner);
  port_ = app_->api_port();
  if (integration_.empty()) {
    integration_ = banner_value(banner.str(), "  Integration-ID: ");
    key_ = banner_value(banner.str(), "  Authorization: Token ");
  }
  std::promise<bool> run;
  store_failed_ = run.get_future();
  thread_ = std::thread([this, run = std::move(run)]() mutable { run.set_value(app_->run()); });
}

bool TestDaemon::wait_until_stopped() {
  if (store_failed_.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    stop();
    return false;
  }
  bool failed = store_failed_.get();
  thread_.join();
  app_.reset();
  return failed;
}

void TestDaemon::stop() {
  if (!app_) return;
  app_->stop();
  thread_.join();
  app_.reset();
}

}  // namespace hookd::test

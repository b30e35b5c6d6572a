// The one place that builds hookd from its settings and wires the parts together.
//
// Members are declared in dependency order, so that destruction runs in reverse: listeners go
// before the services they call, services before the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "api/admin.hpp"
#include "api/admin_routes.hpp"
#include "api/http_server.hpp"
#include "api/service.hpp"
#include "daemon/settings.hpp"
#include "daemon/thread_arena.hpp"
#include "engine/engine.hpp"
#include "engine/retention.hpp"
#include "net/event_loops.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

namespace hookd {

std::int64_t system_now_ms();

class App {
 public:
  explicit App(Settings settings, std::function<std::int64_t()> now_ms = system_now_ms);
  ~App();

  // Opens the store (StoreError if another process has it), creates the first integration and key
  // on an empty store and prints them to `out`, and binds every listener (throws if one cannot).
  void start(std::ostream& out);

  // Serves until stop(), SIGTERM/SIGINT or a write that the store failed, then lets requests in
  // flight finish (at most shutdown_timeout_ms), lets delivery attempts in flight finish (each
  // bounded by delivery.timeout_ms) and returns. True if it stopped for a failed write: the store
  // takes no more writes until it is reopened, which a restart does (storage::Store::write).
  bool run();

  // Thread-safe.
  void stop();

  std::uint16_t api_port() const { return api_endpoint_.port(); }
  std::uint16_t ingress_port() const { return ingress_endpoint_.port(); }
  engine::Engine::Stats engine_stats() const { return engine_->stats(); }
  std::string admin_socket_path() const;

 private:
  void begin_shutdown();
  void start_maintenance();
  // Runs a retention pass (engine/retention.hpp) on the blocking pool after `delay`, and again
  // every retention.interval_ms after each pass ends.
  void schedule_retention(std::chrono::milliseconds delay);
  void run_retention();  // one pass, on the calling thread

  Settings settings_;
  std::function<std::int64_t()> now_ms_;
  net::io_context io_{1};
  net::thread_pool blocking_{4};
  std::atomic<bool> store_failed_{false};  // set by the store's on_failed_write: outlives it
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::GroupCommitter> committer_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<api::Admin> admin_;
  std::unique_ptr<api::ApiService> api_;
  std::unique_ptr<api::ApiService> ingress_;  // only with its own listener (ingress.listen)
  std::unique_ptr<api::AdminService> admin_service_;
  std::optional<ssl::context> tls_;
  std::unique_ptr<api::HttpServer> api_server_;
  std::unique_ptr<api::HttpServer> ingress_server_;
  std::unique_ptr<api::HttpServer> admin_server_;
  // Those of the three servers that exist (ingress's only with its own listener).
  std::vector<api::HttpServer*> servers() const;
  // The API's and ingress's connections (admin's stay on io_). Declared after the servers, so that
  // if run() did not join them, the loops are stopped before the servers their connections use go.
  std::unique_ptr<EventLoops> connection_loops_;
  net::signal_set signals_{io_, SIGINT, SIGTERM};
  std::optional<net::steady_timer> shutdown_deadline_;
  net::steady_timer maintenance_{io_};  // periodic upkeep while serving (see start_maintenance)
  std::uint64_t maintenance_ticks_ = 0;
  std::atomic<std::int64_t> committer_arena_{-1};  // its jemalloc arena, if it has one of its own
  QuietSpell committer_quiet_{2};                  // ticks without a group written before a purge
  net::steady_timer retention_{io_};
  std::atomic<bool> retention_stop_{false};  // a pass in progress ends early: shutting down
  std::mutex retention_mutex_;               // guards the two below, for /metrics
  std::uint64_t retention_passes_ = 0;
  engine::RetentionCounts retention_removed_;
  tcp::endpoint api_endpoint_;
  tcp::endpoint ingress_endpoint_;
};

// Parses "HOST:PORT" ("localhost" is 127.0.0.1; IPv6 in brackets). Throws SettingsError.
tcp::endpoint parse_endpoint(const std::string& listen, const std::string& setting);

}  // namespace hookd

#include "daemon/app.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <ostream>

#include "daemon/metrics.hpp"
#include "net/tls.hpp"
#include "storage/background_priority.hpp"

namespace hookd {

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

tcp::endpoint parse_endpoint(const std::string& listen, const std::string& setting) {
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) throw SettingsError("setting " + setting + ": \"" + listen + "\" is not an IP address and port");
  return tcp::endpoint(address, static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1))));
}

namespace {

engine::EngineOptions engine_options(const Settings& s, std::function<std::int64_t()> now_ms) {
  engine::EngineOptions o;
  o.retry.max_attempts = static_cast<std::uint32_t>(s.retry.max_attempts);
  o.retry.base_delay_ms = s.retry.base_delay_ms;
  o.retry.factor = s.retry.factor;
  o.retry.max_delay_ms = s.retry.max_delay_ms;
  o.retry.schedule_ms = s.retry.schedule_ms;
  o.client.timeout = std::chrono::milliseconds(s.delivery.timeout_ms);
  o.client.connect_timeout = std::chrono::milliseconds(s.delivery.connect_timeout_ms);
  o.client.allow_private_targets = s.delivery.allow_private_targets;
  o.client.ca_file = s.delivery.ca_file;
  o.client.user_agent = std::string("hookd/") + HOOKD_VERSION;
  o.max_in_flight = s.delivery.max_in_flight;
  o.max_in_flight_per_webhook = s.delivery.max_in_flight_per_webhook;
  o.now_ms = std::move(now_ms);
  return o;
}

// storage.background_priority: whether RocksDB's flushes and compactions run under SCHED_IDLE.
// "auto" has them there only where they can be raised back while writes stall.
bool idle_background_threads(const std::string& priority) {
  if (priority == "normal") return false;
  if (storage::may_leave_idle()) return true;
  if (priority == "auto") {
    spdlog::info("store: RocksDB's flushes and compactions run at the ordinary priority: this process may not raise "
                 "a thread back from SCHED_IDLE, which a write stall would need (CAP_SYS_NICE, or LimitNICE=+0)");
    return false;
  }
  spdlog::warn("store: RocksDB's flushes and compactions stay under SCHED_IDLE even while writes stall: this process "
               "may not raise them back (CAP_SYS_NICE, or LimitNICE=+0)");
  return true;
}

api::RetryAnswer to_api(engine::Engine::RetryOutcome outcome) {
  switch (outcome) {
    case engine::Engine::RetryOutcome::Scheduled: return api::RetryAnswer::Scheduled;
    case engine::Engine::RetryOutcome::NotFound: return api::RetryAnswer::NotFound;
    case engine::Engine::RetryOutcome::NotRetryable: return api::RetryAnswer::NotRetryable;
    case engine::Engine::RetryOutcome::Unavailable: break;
  }
  return api::RetryAnswer::Unavailable;
}

}  // namespace

App::App(Settings settings, std::function<std::int64_t()> now_ms)
    : settings_(std::move(settings)), now_ms_(std::move(now_ms)) {}

App::~App() {
  // Handlers may still be queued on the pool if run() was never called.
  blocking_.join();
}

std::string App::admin_socket_path() const { return (std::filesystem::path(settings_.data_dir) / "hookd.sock").string(); }

void App::start(std::ostream& out) {
  // The store creates the data directory.
  storage::Store::Options store_options;
  store_options.path = settings_.data_dir;
  store_options.min_free_bytes = settings_.storage.min_free_bytes;
  store_options.idle_background_threads = idle_background_threads(settings_.storage.background_priority);
  store_options.on_failed_write = [this](const std::string& why) {
    spdlog::critical("the store failed a write and takes no more: stopping, for a restart to recover from its log ({})",
                     why);
    store_failed_ = true;
    stop();
  };
  store_ = std::make_unique<storage::Store>(store_options);
  committer_ = std::make_unique<storage::GroupCommitter>(
      *store_, storage::GroupCommitOptions{.commit_delay = std::chrono::microseconds(settings_.storage.commit_delay_us),
                                           .probe_commit_delay = true,
                                           .on_thread_start = [this, memtables = store_options.memtable_bytes] {
                                             if (auto arena = use_unpurged_arena()) {
                                               committer_arena_ = *arena;
                                               // And a quarter more: new memtables fill while the
                                               // full ones are flushed.
                                               warm_arena(memtables + memtables / 4);
                                             }
                                           }});
  engine_ = std::make_unique<engine::Engine>(*store_, *committer_, engine_options(settings_, now_ms_));
  admin_ = std::make_unique<api::Admin>(*store_, now_ms_);

  api::ServerLimits limits;
  limits.max_body_bytes = settings_.api.max_body_bytes;
  limits.max_header_bytes = settings_.api.max_header_bytes;
  limits.max_connections = settings_.api.max_connections;
  limits.read_timeout = std::chrono::milliseconds(settings_.api.read_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(settings_.api.idle_timeout_ms);

  api::EngineHooks hooks;
  hooks.deliveries_created = [this](storage::CreatedDeliveries created) {
    engine_->deliveries_created(std::move(created));
  };
  hooks.webhook_deleted = [this](const std::string& integration, std::uint64_t seq) {
    engine_->webhook_deleted(integration, seq);
  };
  hooks.retry_delivery = [this](const std::string& integration, const std::string& id) {
    return to_api(engine_->retry_now(integration, id));
  };
  using Surface = api::ApiOptions::Surface;
  bool own_ingress = !settings_.ingress.listen.empty();
  auto ready = [this] { return engine_->stats().loaded; };
  auto metrics = [this] {
    MetricsSnapshot m;
    m.events_accepted = api_->events_accepted() + (ingress_ ? ingress_->events_accepted() : 0);
    m.api_connections = api_server_->connections() + (ingress_server_ ? ingress_server_->connections() : 0);
    m.api_requests_in_progress =
        api_server_->requests_in_progress() + (ingress_server_ ? ingress_server_->requests_in_progress() : 0);
    m.engine = engine_->stats();
    m.store = store_->stats();
    m.commit_delay_kept = committer_->commit_delay_kept();
    std::lock_guard lock(retention_mutex_);
    m.retention_passes = retention_passes_;
    m.retention_removed = retention_removed_;
    return render_metrics(m);
  };
  api_ = std::make_unique<api::ApiService>(*store_, *committer_, blocking_.get_executor(),
                                           api::ApiOptions{own_ingress ? Surface::Management : Surface::All,
                                                           settings_.events.types, settings_.api.public_base_url,
                                                           now_ms_, hooks, ready, metrics});
  admin_service_ = std::make_unique<api::AdminService>(*admin_, blocking_.get_executor());

  if (!settings_.api.tls_cert.empty()) tls_.emplace(tls::server_context(settings_.api.tls_cert, settings_.api.tls_key));
  // With one I/O thread, connections share the main loop; with more, they get loops of their own.
  if (settings_.api.io_threads > 1) connection_loops_ = std::make_unique<EventLoops>(settings_.api.io_threads);
  api_server_ = std::make_unique<api::HttpServer>(io_, *api_, limits, connection_loops_.get());
  api_endpoint_ = api_server_->listen_tcp(parse_endpoint(settings_.api.listen, "api.listen"), tls_ ? &*tls_ : nullptr);
  if (own_ingress) {
    ingress_ = std::make_unique<api::ApiService>(*store_, *committer_, blocking_.get_executor(),
                                                 api::ApiOptions{Surface::Ingress, settings_.events.types,
                                                                 settings_.api.public_base_url, now_ms_, hooks, ready,
                                                                 nullptr});
    ingress_server_ = std::make_unique<api::HttpServer>(io_, *ingress_, limits, connection_loops_.get());
    ingress_endpoint_ = ingress_server_->listen_tcp(parse_endpoint(settings_.ingress.listen, "ingress.listen"), nullptr);
  }
  admin_server_ = std::make_unique<api::HttpServer>(io_, *admin_service_, limits);
  admin_server_->listen_unix(admin_socket_path());

  if (auto first = admin_->bootstrap()) {
    const auto& o = first->as_object();
    std::string integration(o.at("integration").at("id").as_string());
    std::string key(o.at("key").at("key").as_string());
    std::string base = settings_.api.public_base_url;
    if (base.empty())
      base = std::string(tls_ ? "https" : "http") + "://" + settings_.api.listen.substr(0, settings_.api.listen.rfind(':')) +
             ":" + std::to_string(api_port());
    out << "hookd: first start: created integration " << integration << " and an API key with both scopes.\n"
        << "The key is shown only now; keep it:\n\n"
        << "  Integration-ID: " << integration << "\n"
        << "  Authorization: Token " << key << "\n\n"
        << "Try:\n  curl -H 'Authorization: Token " << key << "' -H 'Integration-ID: " << integration << "' " << base
        << "/v2/webhooks/\n"
        << std::endl;
  }
  engine_->start();
  start_maintenance();
  schedule_retention(std::chrono::milliseconds(0));  // a first pass at once: a daemon may not run long
  spdlog::info("hookd {} serving the API on {}{}, admin socket {}", HOOKD_VERSION,
               api_endpoint_.address().to_string() + ":" + std::to_string(api_port()), tls_ ? " (TLS)" : "",
               admin_socket_path());
}

bool App::run() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", signal);
    begin_shutdown();
  });
  io_.run();  // returns once shutdown began and the last connection is gone
  if (connection_loops_) {
    connection_loops_->release();
    connection_loops_->join();
  }
  blocking_.join();
  engine_->stop();
  spdlog::info("hookd stopped");
  return store_failed_;
}

void App::start_maintenance() {
  maintenance_.expires_after(std::chrono::seconds(1));
  maintenance_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // canceled: shutting down
    // glibc keeps memory freed after a burst (a million deliveries made, say) in its arenas;
    // handing it back keeps RSS near what is in use: measured 365 -> 177 MiB with 300,000
    // retries waiting. Cheap when there is little to give back. (The release binary allocates
    // with jemalloc, which purges by itself, daemon/jemalloc_conf.cpp; this is for other builds.)
    if (++maintenance_ticks_ % 10 == 0) ::malloc_trim(0);
    // The committer's arena keeps the memtables' pages while it writes (daemon/thread_arena.hpp):
    // they go back to the system within about 3 s of its last write.
    if (auto arena = committer_arena_.load(); arena >= 0 && committer_quiet_.tick(committer_->groups_written()))
      purge_arena(static_cast<unsigned>(arena));
    start_maintenance();
  });
}

void App::schedule_retention(std::chrono::milliseconds delay) {
  retention_.expires_after(delay);
  retention_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // canceled: shutting down
    net::post(blocking_, [this] {
      run_retention();
      net::post(io_, [this] {
        if (!retention_stop_) schedule_retention(std::chrono::milliseconds(settings_.retention.interval_ms));
      });
    });
  });
}

void App::run_retention() {
  engine::RetentionOptions options;
  if (settings_.retention.days > 0)  // else kept for good
    options.keep_ms = static_cast<std::int64_t>(settings_.retention.days) * 24 * 60 * 60 * 1000;
  try {
    auto removed = engine::remove_expired(*store_, *engine_, now_ms_(), options, retention_stop_);
    {
      std::lock_guard lock(retention_mutex_);
      ++retention_passes_;
      retention_removed_ += removed;
    }
    if (removed == engine::RetentionCounts{}) {
      spdlog::debug("retention: removed nothing");
    } else {
      spdlog::info("retention: removed {} events with {} deliveries, and {} idempotency records", removed.events,
                   removed.deliveries, removed.idempotency_records);
    }
  } catch (const std::exception& e) {
    spdlog::error("retention: {}", e.what());
  }
}

void App::stop() {
  net::post(io_, [this] { begin_shutdown(); });
}

std::vector<api::HttpServer*> App::servers() const {
  std::vector<api::HttpServer*> all;
  for (auto* server : {api_server_.get(), ingress_server_.get(), admin_server_.get()})
    if (server) all.push_back(server);
  return all;
}

void App::begin_shutdown() {
  if (shutdown_deadline_) return;
  signals_.cancel();
  maintenance_.cancel();
  retention_stop_ = true;
  retention_.cancel();
  for (auto* server : servers()) server->stop();
  // Requests still in flight get until the deadline; then their connections are closed too, and
  // run() returns once the last coroutine has ended.
  shutdown_deadline_.emplace(io_, std::chrono::milliseconds(settings_.shutdown_timeout_ms));
  shutdown_deadline_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    std::size_t in_flight = 0;
    for (auto* server : servers()) in_flight += server->requests_in_progress();
    spdlog::warn("shutdown deadline passed with {} requests in flight; closing them", in_flight);
    for (auto* server : servers()) server->close_all();
  });
  // The deadline timer must not keep the loop alive once every connection is gone.
  net::co_spawn(
      io_,
      [this]() -> net::awaitable<void> {
        net::steady_timer poll(io_);
        auto busy = [this] {
          for (auto* server : servers())
            if (server->connections() > 0) return true;
          return false;
        };
        while (busy()) {
          poll.expires_after(std::chrono::milliseconds(10));
          co_await poll.async_wait(net::use_awaitable);
        }
        shutdown_deadline_->cancel();
      },
      net::detached);
}

}  // namespace hookd

#include "daemon/app.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <ostream>

#include "net/tls.hpp"

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

App::App(Settings settings, std::function<std::int64_t()> now_ms)
    : settings_(std::move(settings)), now_ms_(std::move(now_ms)) {}

App::~App() {
  // Handlers may still be queued on the pool if run() was never called.
  blocking_.join();
}

std::string App::admin_socket_path() const { return (std::filesystem::path(settings_.data_dir) / "hookd.sock").string(); }

void App::start(std::ostream& out) {
  std::filesystem::create_directories(settings_.data_dir);
  store_ = std::make_unique<storage::Store>(storage::Store::Options{settings_.data_dir});
  admin_ = std::make_unique<api::Admin>(*store_, now_ms_);

  api::ServerLimits limits;
  limits.max_body_bytes = settings_.api.max_body_bytes;
  limits.max_header_bytes = settings_.api.max_header_bytes;
  limits.max_connections = settings_.api.max_connections;
  limits.read_timeout = std::chrono::milliseconds(settings_.api.read_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(settings_.api.idle_timeout_ms);

  api_ = std::make_unique<api::ApiService>(
      *store_, blocking_.get_executor(),
      api::ApiOptions{settings_.events.types, settings_.api.public_base_url, now_ms_});
  admin_service_ = std::make_unique<api::AdminService>(*admin_, blocking_.get_executor());

  if (!settings_.api.tls_cert.empty()) tls_.emplace(tls::server_context(settings_.api.tls_cert, settings_.api.tls_key));
  api_server_ = std::make_unique<api::HttpServer>(io_, *api_, limits);
  api_endpoint_ = api_server_->listen_tcp(parse_endpoint(settings_.api.listen, "api.listen"), tls_ ? &*tls_ : nullptr);
  if (!settings_.ingress.listen.empty())
    api_server_->listen_tcp(parse_endpoint(settings_.ingress.listen, "ingress.listen"), nullptr);
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
  spdlog::info("hookd {} serving the API on {}{}, admin socket {}", HOOKD_VERSION,
               api_endpoint_.address().to_string() + ":" + std::to_string(api_port()), tls_ ? " (TLS)" : "",
               admin_socket_path());
}

void App::run() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", signal);
    begin_shutdown();
  });
  io_.run();
  blocking_.join();
  spdlog::info("hookd stopped");
}

void App::stop() {
  net::post(io_, [this] { begin_shutdown(); });
}

void App::begin_shutdown() {
  if (shutdown_deadline_) return;
  signals_.cancel();
  if (api_server_) api_server_->stop();
  if (admin_server_) admin_server_->stop();
  // Requests still in flight get until the deadline; then their connections are closed too, and
  // run() returns once the last coroutine has ended.
  shutdown_deadline_.emplace(io_, std::chrono::milliseconds(settings_.shutdown_timeout_ms));
  shutdown_deadline_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    spdlog::warn("shutdown deadline passed with requests in flight; closing them");
    api_server_->close_all();
    admin_server_->close_all();
  });
  // The deadline timer must not keep the loop alive once every connection is gone.
  net::co_spawn(
      io_,
      [this]() -> net::awaitable<void> {
        net::steady_timer poll(io_);
        while ((api_server_ && api_server_->connections() > 0) || (admin_server_ && admin_server_->connections() > 0)) {
          poll.expires_after(std::chrono::milliseconds(10));
          co_await poll.async_wait(net::use_awaitable);
        }
        shutdown_deadline_->cancel();
      },
      net::detached);
}

}  // namespace hookd

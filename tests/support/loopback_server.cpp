#include "tests/support/loopback_server.hpp"

#include "net/tls.hpp"

namespace hookd::test {

LoopbackServer::LoopbackServer(api::RequestHandler& handler, const std::optional<CertificateFiles>& tls,
                               api::ServerLimits limits) {
  if (tls) tls_.emplace(hookd::tls::server_context(tls->cert, tls->key));
  server_ = std::make_unique<api::HttpServer>(io_, handler, limits);
  port_ = server_->listen_tcp(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0), tls_ ? &*tls_ : nullptr).port();
  thread_ = std::thread([this] { io_.run(); });
}

LoopbackServer::~LoopbackServer() {
  net::post(io_, [this] {
    server_->close_all();
    server_->stop();
  });
  thread_.join();
}

std::string LoopbackServer::base_url() const {
  return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_);
}

}  // namespace hookd::test

// An api::HttpServer on 127.0.0.1 at a free port, plain or TLS, on a thread of its own: what the
// test receiver and the benchmark's receiver stand on.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/http_server.hpp"

namespace hookd::test {

struct CertificateFiles {
  std::string cert;  // PEM
  std::string key;   // PEM
};

class LoopbackServer {
 public:
  // Starts serving with `handler`, which must outlive the server; with `tls`, over HTTPS.
  LoopbackServer(api::RequestHandler& handler, const std::optional<CertificateFiles>& tls,
                 api::ServerLimits limits = {});
  ~LoopbackServer();  // closes every connection and joins the thread

  std::uint16_t port() const { return port_; }
  // http://127.0.0.1:PORT, or https://localhost:PORT (the name test certificates hold).
  std::string base_url() const;

 private:
  net::io_context io_{1};
  std::optional<ssl::context> tls_;
  std::unique_ptr<api::HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace hookd::test

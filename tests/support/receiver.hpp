// A real webhook receiver on loopback for tests: HTTP or HTTPS (with a test CA), that records
// every request and answers as its script says: any status, headers, a delay (to stall), in order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http_server.hpp"
#include "tests/support/loopback_server.hpp"
#include "tests/support/tls_certs.hpp"

namespace hookd::test {

struct ReceivedRequest {
  std::string target;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  int status = 200;
  std::chrono::milliseconds delay{0};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_future<void> hold = {};  // if valid, the answer also waits until it is ready: a stall the test ends
};

class Receiver {
 public:
  // With `tls`, serves HTTPS with its server certificate.
  explicit Receiver(std::optional<TlsFiles> tls = std::nullopt);
  ~Receiver();

  std::uint16_t port() const { return server_->port(); }
  // http://127.0.0.1:PORT/path, or https://localhost:PORT/path (the name the certificate holds).
  std::string url(const std::string& path = "/hook") const;

  // How to answer request number `index` (0-based, over the receiver's life). Default: 200.
  void script(std::function<Reply(const ReceivedRequest&, std::size_t index)> script);

  std::vector<ReceivedRequest> requests() const;
  std::size_t count() const;
  // Waits until `n` requests have arrived; false on timeout.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

 private:
  class Handler;
  std::unique_ptr<Handler> handler_;

  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<ReceivedRequest> requests_;
  std::function<Reply(const ReceivedRequest&, std::size_t)> script_;
  std::unique_ptr<LoopbackServer> server_;  // last: stopped first, before what its handler uses
};

}  // namespace hookd::test

// A small synchronous HTTP/1.1 client for tests, over one kept-alive connection (reconnecting when
// the server closed it), plain or TLS with a CA file. Every call has a deadline.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/net.hpp"

namespace hookd::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;
  std::string body;
  http::fields headers;
  // The body as JSON (null if it is not JSON).
  boost::json::value json() const;
  std::string header(std::string_view name) const { return std::string(headers[name]); }
};

// The value of the sample line `name` (with its labels) in a Prometheus text page; -1 if absent.
double metric_sample(const std::string& page, const std::string& name);

class HttpClient {
 public:
  // With `ca_file`, speaks TLS and verifies the server's certificate for `host` against it.
  HttpClient(std::uint16_t port, std::optional<std::string> ca_file = std::nullopt, std::string host = "localhost");
  ~HttpClient();

  HttpResult request(http::verb method, const std::string& target, const std::string& body = "",
                     const Headers& headers = {});

 private:
  struct Connection;
  void connect();
  std::uint16_t port_;
  std::optional<std::string> ca_file_;
  std::string host_;
  net::io_context io_;
  std::unique_ptr<Connection> connection_;
};

// A client of the hookd API with an API key and an integration id in every request.
class ApiClient {
 public:
  ApiClient(std::uint16_t port, std::string key, std::string integration,
            std::optional<std::string> ca_file = std::nullopt)
      : http_(port, std::move(ca_file)), key_(std::move(key)), integration_(std::move(integration)) {}

  HttpResult get(const std::string& target, Headers extra = {}) { return call(http::verb::get, target, "", extra); }
  HttpResult del(const std::string& target, Headers extra = {}) { return call(http::verb::delete_, target, "", extra); }
  HttpResult post(const std::string& target, const boost::json::value& body, Headers extra = {}) {
    return send(http::verb::post, target, body, extra);
  }
  HttpResult put(const std::string& target, const boost::json::value& body, Headers extra = {}) {
    return send(http::verb::put, target, body, extra);
  }
  HttpResult patch(const std::string& target, const boost::json::value& body, Headers extra = {}) {
    return send(http::verb::patch, target, body, extra);
  }
  // A request with exactly this body and these headers, besides the credentials.
  HttpResult call(http::verb method, const std::string& target, const std::string& body, Headers extra);

 private:
  HttpResult send(http::verb method, const std::string& target, const boost::json::value& body, Headers extra) {
    extra.emplace_back("Content-Type", "application/json");
    return call(method, target, boost::json::serialize(body), std::move(extra));
  }
  HttpClient http_;
  std::string key_;
  std::string integration_;
};

}  // namespace hookd::test

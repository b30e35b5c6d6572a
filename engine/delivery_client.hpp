// The HTTP(S) client that makes delivery attempts (SPEC §5).
//
// - Connections are pooled and kept alive per origin (scheme, host, port); a pooled connection the
//   receiver closed meanwhile is replaced once, transparently. Every connection that ends an
//   exchange cleanly goes back to the pool, so an origin keeps as many as were in use at once
//   (bounded by the caller's concurrency: the engine's max_in_flight) until they are idle for
//   idle_timeout. Capping the pool below that would close and reopen connections on every attempt
//   whenever several webhooks share a receiver.
// - Every attempt has a total deadline (timeout) and its connection phase, DNS included, a shorter
//   one (connect_timeout). DNS has its own timer, as resolvers take no deadline.
// - Target addresses are checked after resolution: loopback, private, link-local, multicast and
//   unspecified addresses are refused unless allowed, and the connection goes only to the
//   addresses that passed. A host that is an IP address is not resolved, only checked.
// - HTTPS: TLS 1.2 or newer, SNI, the peer's certificate and host name verified against the system
//   CAs and an optional extra CA file.
// - Redirects are not followed (a 3xx is just a status). At most max_response_bytes of a response
//   are read; the first 4 KiB are kept for the attempt record.
//
// Not thread-safe: every call on the executor's single thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/net.hpp"

namespace hookd::engine {

struct ClientOptions {
  std::chrono::milliseconds timeout{10'000};          // whole attempt, connection included
  std::chrono::milliseconds connect_timeout{5'000};   // DNS, TCP and TLS handshake
  bool allow_private_targets = false;
  std::string ca_file;                                // extra trusted CAs (PEM); empty: system CAs only
  std::size_t max_response_bytes = 64 << 10;          // a longer response closes the connection
  std::chrono::milliseconds idle_timeout{50'000};     // pooled connections unused this long are closed
  std::string user_agent = "hookd";
};

enum class ErrorKind { None, InvalidUrl, Dns, RefusedAddress, Connect, Tls, Timeout, Connection, Protocol };

// "dns", "refused_address", "connect", "tls", "timeout", ...: what attempt records show.
std::string_view to_string(ErrorKind kind);

// True for addresses a webhook may target when private targets are not allowed.
bool is_public_address(const net::ip::address& address);

struct OutgoingRequest {
  std::string url;
  std::shared_ptr<const std::string> body;  // shared: one event's body serves all its deliveries
  // Names are literals (or otherwise outlive the request): no copy of them per attempt.
  std::vector<std::pair<std::string_view, std::string>> headers;
};

struct ClientResult {
  ErrorKind error = ErrorKind::None;  // None when a status arrived
  std::string detail;                 // what went wrong, for logs
  int status = 0;
  std::string body_prefix;            // first 4 KiB of the response body
  std::string retry_after;            // the Retry-After header, if any
};

class DeliveryClient {
 public:
  static constexpr std::size_t kKeptBodyBytes = 4096;

  DeliveryClient(net::io_context::executor_type executor, ClientOptions options);
  ~DeliveryClient();

  // POSTs `request`. Never throws for network trouble: that is in the result.
  net::awaitable<ClientResult> post(const OutgoingRequest& request);

  // Closes pooled connections idle for longer than idle_timeout.
  void close_idle();

  std::size_t idle_connections() const;
  // Connections opened (TCP connected) since construction. Any thread may read it.
  std::uint64_t connections_opened() const { return connections_opened_.load(std::memory_order_relaxed); }

 private:
  struct Origin;
  struct Connection;
  using Clock = std::chrono::steady_clock;

  net::awaitable<std::optional<std::vector<tcp::endpoint>>> resolve(const Origin& origin, Clock::time_point deadline,
                                                                    ClientResult& result);
  net::awaitable<std::unique_ptr<Connection>> connect(const Origin& origin, Clock::time_point deadline,
                                                     ClientResult& result);
  net::awaitable<void> exchange(Connection& conn, const Origin& origin, const OutgoingRequest& request,
                                Clock::time_point deadline, ClientResult& result, bool& reusable);

  // The parsed form of `url`, or null if it is not an http(s) URL. Parsed once per URL and kept,
  // as every attempt to a webhook posts to the same URL.
  std::shared_ptr<const Origin> parse(const std::string& url);

  static constexpr std::size_t kParsedUrls = 4096;
  net::io_context::executor_type executor_;
  ClientOptions options_;
  ssl::context tls_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // by origin
  std::unordered_map<std::string, std::shared_ptr<const Origin>> parsed_;          // by URL
  std::atomic<std::uint64_t> connections_opened_{0};
};

}  // namespace hookd::engine

// HTTP/1.1 server on Boost.Beast for hookd's listeners: TCP with or without TLS, and Unix sockets.
//
// Every connection is one coroutine that reads a request, hands it to the RequestHandler and
// writes the answer, with keep-alive. Untrusted input is bounded: header and body size limits
// (431 and 413), a deadline to receive a whole request once its first byte arrived (slow clients
// are dropped), an idle deadline between requests, a write deadline, and a cap on connections.
//
// Threading: the io_context given to the server runs its acceptors and must be run by exactly one
// thread; listen_*(), stop() and close_all() must be called on that thread (post to it from
// elsewhere). Connections run there too, or, given EventLoops, each on one of those loops: a
// connection stays on its loop, so the handler may be called on several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/http_types.hpp"
#include "net/event_loops.hpp"

namespace hookd::api {

struct ServerLimits {
  std::size_t max_body_bytes = 1 << 20;                   // larger bodies answer 413. Default 1 MiB.
  std::size_t max_header_bytes = 16 << 10;                // larger headers answer 431. Default 16 KiB.
  std::size_t max_connections = 4096;                     // further connections are closed at once.
  std::chrono::milliseconds read_timeout{30'000};         // to receive a whole request once begun.
  std::chrono::milliseconds idle_timeout{60'000};         // between requests on a kept-alive connection.
  std::chrono::milliseconds write_timeout{30'000};        // to send a response.
};

// Writes `res`'s status line and header fields into `out` (replacing what it held), byte for byte
// as Beast's serializer writes them. Its body follows as is: a Response's body is never chunked.
void write_response_head(const Response& res, std::string& out);

class HttpServer {
 public:
  // With `connection_loops` (which must outlive the server), connections are spread over them.
  HttpServer(net::io_context& io, RequestHandler& handler, ServerLimits limits,
             EventLoops* connection_loops = nullptr);
  ~HttpServer();

  // Binds `endpoint` and accepts on it; with `tls`, every connection speaks TLS with that context,
  // which must outlive the server. Returns the bound endpoint (port 0 picks a free port).
  // Throws boost::system::system_error if the address cannot be bound.
  tcp::endpoint listen_tcp(const tcp::endpoint& endpoint, ssl::context* tls = nullptr);

  // Binds a Unix socket at `path` (replacing a stale one) with mode 0600: only its owner may connect.
  void listen_unix(const std::string& path);

  // Stops accepting and closes idle connections. A connection that has begun to receive a request
  // (its first byte arrived) is left to finish it and closes after writing the answer: closing it
  // could lose the answer to a request that was handled anyway. The io_context's run() returns
  // once the last connection is gone.
  void stop();

  // Closes every connection, busy or not: for when a shutdown deadline has passed.
  void close_all();

  // Open connections, and those of them within a request (from its first byte to its answer
  // written). Safe to read from any thread.
  std::size_t connections() const { return connection_count_; }
  std::size_t requests_in_progress() const { return request_count_; }

 private:
  struct SessionEntry {
    net::any_io_executor loop;     // the connection's event loop: close() runs only there
    bool busy = false;              // within a request: let it finish
    bool closed = false;            // shut down: no further request may begin
    std::function<void()> close;   // shuts the connection down, which ends its pending I/O
  };
  class SessionGuard;

  // Closes every connection, or the idle ones only, each on its own loop.
  void close_sessions(bool busy_too);

  template <class Acceptor, class Stream>
  net::awaitable<void> accept_loop(Acceptor& acceptor, ssl::context* tls);
  template <class Stream>
  net::awaitable<void> session(Stream stream, RequestInfo info);

  net::io_context& io_;
  RequestHandler& handler_;
  ServerLimits limits_;
  EventLoops* connection_loops_;
  std::atomic<bool> stopping_{false};
  std::list<tcp::acceptor> tcp_acceptors_;
  std::list<net::local::stream_protocol::acceptor> unix_acceptors_;
  std::list<std::string> unix_paths_;
  std::mutex sessions_mutex_;  // guards next_session_ and sessions_: connections run on several loops
  std::uint64_t next_session_ = 0;
  std::unordered_map<std::uint64_t, SessionEntry> sessions_;
  std::atomic<std::size_t> connection_count_{0};
  std::atomic<std::size_t> request_count_{0};
};

}  // namespace hookd::api

#include "api/http_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <type_traits>

#include "api/errors.hpp"
#include "net/deadline.hpp"

namespace hookd::api {
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// Sockets on the io_context's own executor type, as the delivery client's: a type-erased
// executor is copied and destroyed at every step of every operation. Plain sockets, not Beast's
// basic_stream, whose timeouts close a socket under its operation (net/deadline.hpp).
using Executor = net::io_context::executor_type;
using TcpStream = net::basic_stream_socket<tcp, Executor>;
using TlsStream = beast::ssl_stream<TcpStream>;
using UnixStream = net::basic_stream_socket<net::local::stream_protocol, Executor>;

template <class Stream>
using DeadlineOf = Deadline<std::remove_reference_t<decltype(beast::get_lowest_layer(std::declval<Stream&>()))>>;

template <class Stream>
constexpr bool is_tls = std::is_same_v<Stream, TlsStream>;

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Sends a final answer on a connection that is about to close.
template <class Stream>
net::awaitable<void> answer_and_close(Stream& stream, DeadlineOf<Stream>& deadline, Response res,
                                      std::chrono::milliseconds timeout) {
  res.keep_alive(false);
  res.prepare_payload();
  deadline.expires_after(timeout);
  co_await http::async_write(stream, res, nothrow);
}

// What a connection keeps of its answer buffer between requests.
constexpr std::size_t kKeptHeadBytes = 16 << 10;
// The most a request body is read with at once (the read buffer's size while reading a body).
constexpr std::size_t kBodyReadBytes = 64 << 10;

// Sends `res` (prepared) with its head written by write_response_head into `head`, whose capacity
// the connection reuses: Beast's serializer walks the fields one small buffer at a time and was
// the largest single cost of an answer (bench/RESULTS.md, step 29).
template <class Stream>
net::awaitable<boost::system::error_code> write_response(Stream& stream, const Response& res, std::string& head) {
  write_response_head(res, head);
  boost::system::error_code ec;
  if constexpr (is_tls<Stream>) {
    // One buffer: Asio's TLS stream writes a record per buffer of a sequence.
    head.append(res.body());
    std::tie(ec, std::ignore) = co_await net::async_write(stream, net::buffer(head), nothrow);
    if (head.capacity() > kKeptHeadBytes) std::string().swap(head);  // a long list: not kept per connection
  } else {
    std::array<net::const_buffer, 2> message{net::buffer(head), net::buffer(res.body())};
    std::tie(ec, std::ignore) = co_await net::async_write(stream, message, nothrow);
  }
  co_return ec;
}

}  // namespace

void write_response_head(const Response& res, std::string& out) {
  char number[16];
  out.assign("HTTP/");
  out.push_back(static_cast<char>('0' + res.version() / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + res.version() % 10));
  out.push_back(' ');
  out.append(number, std::to_chars(number, number + sizeof number, res.result_int()).ptr);
  out.push_back(' ');
  out.append(res.reason());
  out.append("\r\n");
  for (const auto& field : res) out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  out.append("\r\n");
}

// Registers a session for stop() and removes it when the session's coroutine ends.
class HttpServer::SessionGuard {
 public:
  SessionGuard(HttpServer& server, net::any_io_executor loop, std::function<void()> close) : server_(server) {
    std::lock_guard lock(server_.sessions_mutex_);
    id_ = server_.next_session_++;
    server_.sessions_[id_] = SessionEntry{std::move(loop), false, false, std::move(close)};
    ++server_.connection_count_;
  }
  ~SessionGuard() {
    std::lock_guard lock(server_.sessions_mutex_);
    auto it = server_.sessions_.find(id_);
    if (it->second.busy) --server_.request_count_;  // it ended within a request
    server_.sessions_.erase(it);
    --server_.connection_count_;
  }
  // A request begins, which stop() lets finish. False if the connection was closed first: its
  // bytes may have arrived before the close, but nothing could receive their answer.
  bool begin_request() {
    std::lock_guard lock(server_.sessions_mutex_);
    auto& entry = server_.sessions_[id_];
    if (entry.closed) return false;
    entry.busy = true;
    ++server_.request_count_;
    return true;
  }
  void end_request() {
    std::lock_guard lock(server_.sessions_mutex_);
    server_.sessions_[id_].busy = false;
    --server_.request_count_;
  }

 private:
  HttpServer& server_;
  std::uint64_t id_;
};

HttpServer::HttpServer(net::io_context& io, RequestHandler& handler, ServerLimits limits, EventLoops* connection_loops)
    : io_(io), handler_(handler), limits_(limits), connection_loops_(connection_loops) {}

HttpServer::~HttpServer() {
  for (const auto& path : unix_paths_) std::remove(path.c_str());
}

tcp::endpoint HttpServer::listen_tcp(const tcp::endpoint& endpoint, ssl::context* tls) {
  auto& acceptor = tcp_acceptors_.emplace_back(io_);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  if (tls)
    net::co_spawn(io_, accept_loop<tcp::acceptor, TlsStream>(acceptor, tls), net::detached);
  else
    net::co_spawn(io_, accept_loop<tcp::acceptor, TcpStream>(acceptor, nullptr), net::detached);
  return acceptor.local_endpoint();
}

void HttpServer::listen_unix(const std::string& path) {
  std::remove(path.c_str());
  auto& acceptor = unix_acceptors_.emplace_back(io_);
  net::local::stream_protocol::endpoint endpoint(path);
  acceptor.open(endpoint.protocol());
  // Created with no permissions for group and others, then listened on: no window for others.
  mode_t old = ::umask(0177);
  boost::system::error_code ec;
  acceptor.bind(endpoint, ec);
  ::umask(old);
  if (ec) throw boost::system::system_error(ec, "bind " + path);
  unix_paths_.push_back(path);
  acceptor.listen();
  net::co_spawn(io_, accept_loop<net::local::stream_protocol::acceptor, UnixStream>(acceptor, nullptr), net::detached);
}

void HttpServer::stop() {
  // A connection that becomes busy after this reads stopping_ when its answer is ready, and closes.
  stopping_ = true;
  // Canceled, not closed: each accept loop closes its acceptor once its accept has ended
  // (net/deadline.hpp says why).
  boost::system::error_code ignored;  // a second stop() finds them closed
  for (auto& a : tcp_acceptors_) a.cancel(ignored);
  for (auto& a : unix_acceptors_) a.cancel(ignored);
  close_sessions(false);
}

void HttpServer::close_all() { close_sessions(true); }

void HttpServer::close_sessions(bool busy_too) {
  std::vector<std::pair<std::uint64_t, net::any_io_executor>> chosen;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& [id, entry] : sessions_)
      if (busy_too || !entry.busy) chosen.emplace_back(id, entry.loop);
  }
  for (auto& [id, loop] : chosen)
    // On the connection's own loop, where it cannot end meanwhile: while its entry is there, the
    // connection is alive. It may have become busy since it was chosen: then it is left to finish.
    net::post(loop, [this, id = id, busy_too] {
      std::function<void()> close;
      {
        std::lock_guard lock(sessions_mutex_);
        auto it = sessions_.find(id);
        if (it == sessions_.end() || (it->second.busy && !busy_too)) return;
        it->second.closed = true;
        close = it->second.close;
      }
      close();  // not under the lock, which the ending session takes
    });
}

template <class Acceptor, class Stream>
net::awaitable<void> HttpServer::accept_loop(Acceptor& acceptor, ssl::context* tls) {
  RequestInfo info;
  info.tls = tls != nullptr;
  while (!stopping_) {
    net::io_context& loop = connection_loops_ ? connection_loops_->next() : io_;
    auto [ec, socket] = co_await acceptor.async_accept(loop.get_executor(), nothrow);
    if (ec == net::error::operation_aborted || stopping_) break;
    if (ec) {
      // Out of file descriptors and the like: pause briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (connection_count_ >= limits_.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
    }
    if constexpr (is_tls<Stream>)
      net::co_spawn(loop, session(Stream(std::move(socket), *tls), info), net::detached);
    else
      net::co_spawn(loop, session(Stream(std::move(socket)), info), net::detached);
  }
  boost::system::error_code ignored;
  acceptor.close(ignored);  // only now, with no accept in flight
}

template <class Stream>
net::awaitable<void> HttpServer::session(Stream stream, RequestInfo info) {
  auto& lowest = beast::get_lowest_layer(stream);
  DeadlineOf<Stream> deadline(lowest);
  // Ends the connection's operations; the socket is closed when this coroutine ends.
  SessionGuard guard(*this, lowest.get_executor(), [&lowest] {
    boost::system::error_code ignored;
    lowest.shutdown(net::socket_base::shutdown_both, ignored);
  });
  beast::flat_buffer buffer;
  std::string head;  // of each answer

  if constexpr (is_tls<Stream>) {
    deadline.expires_after(limits_.read_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, nothrow);
    if (ec) co_return;
  }

  while (!stopping_) {
    // Wait for the first byte of the next request as long as an idle connection may stay open;
    // from then on the whole request must arrive within read_timeout.
    if (buffer.size() == 0) {
      deadline.expires_after(limits_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), nothrow);
      if (ec) co_return;
      buffer.commit(n);
    }
    if (!guard.begin_request()) co_return;
    deadline.expires_after(limits_.read_timeout);

    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser.body_limit(limits_.max_body_bytes);

    auto [ec_header, n_header] = co_await http::async_read_header(stream, buffer, parser, nothrow);
    if (ec_header == http::error::header_limit) {
      co_await answer_and_close(stream, deadline, error_response(ApiError::HeadersTooLarge), limits_.write_timeout);
      co_return;
    }
    if (ec_header == http::error::body_limit) {  // a Content-Length over the limit fails here already
      co_await answer_and_close(stream, deadline, error_response(ApiError::PayloadTooLarge), limits_.write_timeout);
      co_return;
    }
    if (ec_header) spdlog::debug("read header: {}", ec_header.message());
    if (is_parse_error(ec_header)) {
      co_await answer_and_close(stream, deadline, error_response(ApiError::MalformedRequest), limits_.write_timeout);
      co_return;
    }
    if (ec_header) co_return;

    auto& header = parser.get();
    if (beast::iequals(header[http::field::expect], "100-continue") && !parser.is_done()) {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      auto [ec, n] = co_await http::async_write(stream, go_on, nothrow);
      if (ec) co_return;
    }

    // Beast reads as much as the buffer has room for, and the buffer stays as large as the first
    // read made it (4 KiB): a batch of 100 events took 27 reads, each a system call.
    if (auto length = parser.content_length(); length && !parser.is_done())
      buffer.reserve(std::min<std::uint64_t>(*length, kBodyReadBytes));
    auto [ec_body, n_body] = co_await http::async_read(stream, buffer, parser, nothrow);
    if (buffer.capacity() > kBodyReadBytes / 2 && buffer.size() == 0) buffer.shrink_to_fit();  // not kept while idle
    if (ec_body == http::error::body_limit) {
      co_await answer_and_close(stream, deadline, error_response(ApiError::PayloadTooLarge), limits_.write_timeout);
      co_return;
    }
    if (is_parse_error(ec_body)) {
      co_await answer_and_close(stream, deadline, error_response(ApiError::MalformedRequest), limits_.write_timeout);
      co_return;
    }
    if (ec_body) co_return;

    Request request = parser.release();
    bool keep_alive = request.keep_alive();
    deadline.expires_never();  // the handler has its own limits; the client is not reading yet
    Response res = co_await handler_.handle(std::move(request), info);

    res.keep_alive(keep_alive && !stopping_);
    if (res.result() == http::status::no_content || res.result() == http::status::not_modified) res.body().clear();
    res.prepare_payload();
    deadline.expires_after(limits_.write_timeout);
    // Within the request until the answer is written: a stop() meanwhile must let it go out whole.
    bool written = !co_await write_response(stream, res, head);
    guard.end_request();
    if (!written || !res.keep_alive()) break;
  }

  deadline.expires_after(limits_.write_timeout);
  if constexpr (is_tls<Stream>) {
    co_await stream.async_shutdown(nothrow);
  } else {
    boost::system::error_code ignored;
    lowest.shutdown(net::socket_base::shutdown_send, ignored);
  }
}

}  // namespace hookd::api

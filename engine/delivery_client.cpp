#include "engine/delivery_client.hpp"

#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "net/deadline.hpp"

namespace hookd::engine {
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

bool in_v4(std::uint32_t a, std::uint32_t net, int prefix) {
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == (net & mask);
}

bool public_v4(const net::ip::address_v4& v4) {
  std::uint32_t a = v4.to_uint();
  return !(in_v4(a, 0x00000000, 8)        // "this network", unspecified
           || in_v4(a, 0x0a000000, 8)     // private
           || in_v4(a, 0x64400000, 10)    // shared address space (carrier-grade NAT)
           || in_v4(a, 0x7f000000, 8)     // loopback
           || in_v4(a, 0xa9fe0000, 16)    // link-local
           || in_v4(a, 0xac100000, 12)    // private
           || in_v4(a, 0xc0000000, 24)    // IETF protocol assignments
           || in_v4(a, 0xc0a80000, 16)    // private
           || in_v4(a, 0xc6120000, 15)    // benchmarking
           || in_v4(a, 0xe0000000, 4)     // multicast
           || in_v4(a, 0xf0000000, 4));   // reserved, broadcast
}

}  // namespace

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::None: return "";
    case ErrorKind::InvalidUrl: return "invalid_url";
    case ErrorKind::Dns: return "dns";
    case ErrorKind::RefusedAddress: return "refused_address";
    case ErrorKind::Connect: return "connect";
    case ErrorKind::Tls: return "tls";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Connection: return "connection";
    case ErrorKind::Protocol: return "protocol";
  }
  return "unknown";
}

bool is_public_address(const net::ip::address& address) {
  if (address.is_v4()) return public_v4(address.to_v4());
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return public_v4(net::ip::make_address_v4(net::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  bool unique_local = (b[0] & 0xfe) == 0xfc;                 // fc00::/7
  bool documentation = b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8;  // 2001:db8::/32
  return !(v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_site_local() ||
           v6.is_multicast() || unique_local || documentation);
}

struct DeliveryClient::Origin {
  bool tls = false;
  std::string host;    // without brackets
  bool host_is_ip = false;
  std::string port;
  // The host when it is an IP address (and the port a number): connected to without the resolver,
  // whose one thread runs getaddrinfo for one new connection after another.
  std::optional<tcp::endpoint> literal;
  std::string target;  // path and query
  std::string host_header;
  std::string pool_key;  // key(), computed once
  std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

// A socket on the io_context's own executor type: a type-erased executor is copied and destroyed
// at every step of every operation. A plain socket, not Beast's basic_stream, whose timeouts close
// a socket under its operation (net/deadline.hpp).
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

struct DeliveryClient::Connection {
  Connection(const net::io_context::executor_type& executor, ssl::context* tls) {
    if (tls)
      secure.emplace(executor, *tls);
    else
      plain.emplace(executor);
    deadline.emplace(lowest());
  }
  std::optional<Socket> plain;
  std::optional<beast::ssl_stream<Socket>> secure;
  std::optional<Deadline<Socket>> deadline;  // of the attempt in progress; expired: the socket is shut down
  beast::flat_buffer buffer;
  std::string head;  // the request line and headers of the current attempt; its capacity is reused
  Clock::time_point idle_since;
  Socket& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

DeliveryClient::DeliveryClient(net::io_context::executor_type executor, ClientOptions options)
    : executor_(std::move(executor)), options_(std::move(options)), tls_(ssl::context::tls_client) {
  tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  tls_.set_default_verify_paths();
  if (!options_.ca_file.empty()) {
    boost::system::error_code ec;
    tls_.load_verify_file(options_.ca_file, ec);
    if (ec) throw std::runtime_error("cannot use CA file " + options_.ca_file + ": " + ec.message());
  }
  tls_.set_verify_mode(ssl::verify_peer);
}

DeliveryClient::~DeliveryClient() = default;

std::size_t DeliveryClient::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

void DeliveryClient::close_idle() {
  // Entries stay in the map, emptied: a post() in flight may hold a reference to its origin's list.
  auto now = Clock::now();
  for (auto& [origin, list] : idle_)
    std::erase_if(list, [&](const auto& c) { return now - c->idle_since > options_.idle_timeout; });
}

// The addresses of `origin`'s host name, or none and `result` says why.
net::awaitable<std::optional<std::vector<tcp::endpoint>>> DeliveryClient::resolve(const Origin& origin,
                                                                                   Clock::time_point deadline,
                                                                                   ClientResult& result) {
  // The resolver takes no deadline: a timer cancels it. Shared, as the timer's handler may run
  // after this frame has moved on.
  auto resolver = std::make_shared<tcp::resolver>(executor_);
  auto dns_timed_out = std::make_shared<bool>(false);
  net::steady_timer dns_timer(executor_, deadline);
  dns_timer.async_wait([resolver, dns_timed_out](auto ec) {
    if (ec) return;
    *dns_timed_out = true;
    resolver->cancel();
  });
  auto [ec, results] = co_await resolver->async_resolve(origin.host, origin.port, nothrow);
  dns_timer.cancel();
  if (ec) {
    result.error = *dns_timed_out ? ErrorKind::Timeout : ErrorKind::Dns;
    result.detail = "resolve " + origin.host + ": " + ec.message();
    co_return std::nullopt;
  }

  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  co_return endpoints;
}

net::awaitable<std::unique_ptr<DeliveryClient::Connection>> DeliveryClient::connect(const Origin& origin,
                                                                                    Clock::time_point deadline,
                                                                                    ClientResult& result) {
  auto connect_deadline = std::min(deadline, Clock::now() + options_.connect_timeout);

  std::vector<tcp::endpoint> candidates;
  if (origin.literal) {
    candidates.push_back(*origin.literal);
  } else {
    auto resolved = co_await resolve(origin, connect_deadline, result);
    if (!resolved) co_return nullptr;
    candidates = std::move(*resolved);
  }

  std::vector<tcp::endpoint> allowed;
  std::string refused;
  for (const auto& endpoint : candidates) {
    if (options_.allow_private_targets || is_public_address(endpoint.address()))
      allowed.push_back(endpoint);
    else
      refused = endpoint.address().to_string();
  }
  if (allowed.empty()) {
    result.error = ErrorKind::RefusedAddress;
    result.detail = origin.literal ? origin.host + " is not a public address"
                                   : origin.host + " resolves to " + refused + ", which is not a public address";
    co_return nullptr;
  }

  auto conn = std::make_unique<Connection>(executor_, origin.tls ? &tls_ : nullptr);
  auto& socket = conn->lowest();
  auto& timer = *conn->deadline;
  timer.expires_at(connect_deadline);
  // Tries the addresses in turn, the next one only while the deadline has not passed (an expired
  // deadline shuts down the socket of the address being tried, not the next one's).
  auto [connect_ec, endpoint] = co_await net::async_connect(
      socket, allowed, [&timer](const auto&, const auto&) { return !timer.expired(); }, nothrow);
  if (connect_ec) {
    result.error = timer.expired() ? ErrorKind::Timeout : ErrorKind::Connect;
    result.detail = "connect " + origin.key() + ": " + (timer.expired() ? "timed out" : connect_ec.message());
    co_return nullptr;
  }
  connections_opened_.fetch_add(1, std::memory_order_relaxed);
  socket.set_option(tcp::no_delay(true));

  if (origin.tls) {
    auto& secure = *conn->secure;
    // SNI carries host names only; the certificate is checked against the name or the IP.
    if (!origin.host_is_ip && !SSL_set_tlsext_host_name(secure.native_handle(), origin.host.c_str())) {
      result.error = ErrorKind::Tls;
      result.detail = "cannot set SNI";
      co_return nullptr;
    }
    secure.set_verify_callback(ssl::host_name_verification(origin.host));
    auto [hs_ec] = co_await secure.async_handshake(ssl::stream_base::client, nothrow);
    if (hs_ec) {
      result.error = timer.expired() ? ErrorKind::Timeout : ErrorKind::Tls;
      result.detail = "TLS handshake with " + origin.key() + ": " + (timer.expired() ? "timed out" : hs_ec.message());
      co_return nullptr;
    }
  }
  co_return conn;
}

net::awaitable<void> DeliveryClient::exchange(Connection& conn, const Origin& origin, const OutgoingRequest& request,
                                              Clock::time_point deadline, ClientResult& result, bool& reusable) {
  // The head is written by hand into the connection's buffer and sent with the body, which goes
  // from the shared event's own bytes, never copied per attempt. Beast's serializer of a
  // http::request cost more than the rest of the attempt's own work. Every value is hookd's own
  // (the URL's parsed target and host, signatures, ids), so none holds a CR or LF.
  std::string& head = conn.head;
  head.clear();
  head.append("POST ").append(origin.target).append(" HTTP/1.1\r\nHost: ").append(origin.host_header);
  head.append("\r\nUser-Agent: ").append(options_.user_agent);
  head.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(request.body->size()));
  for (const auto& [name, value] : request.headers) head.append("\r\n").append(name).append(": ").append(value);
  head.append("\r\n\r\n");
  std::array<net::const_buffer, 2> message{net::buffer(head), net::buffer(*request.body)};

  conn.deadline->expires_at(deadline);
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  boost::system::error_code ec;
  if (conn.plain) {
    std::tie(ec, std::ignore) = co_await net::async_write(*conn.plain, message, nothrow);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*conn.plain, conn.buffer, parser, nothrow);
  } else {
    std::tie(ec, std::ignore) = co_await net::async_write(*conn.secure, message, nothrow);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*conn.secure, conn.buffer, parser, nothrow);
  }

  reusable = false;
  bool timed_out = conn.deadline->expired();
  conn.deadline->expires_never();
  if (parser.is_header_done()) {
    result.status = static_cast<int>(parser.get().result_int());
    result.retry_after = std::string(parser.get()[http::field::retry_after]);
    const std::string& body = parser.get().body();
    result.body_prefix = body.substr(0, std::min(body.size(), kKeptBodyBytes));
  }
  if (!ec) {
    reusable = parser.get().keep_alive() && !timed_out;
    co_return;
  }
  if (ec == http::error::body_limit && result.status != 0) co_return;  // answered; the rest is not wanted
  result.status = 0;
  result.error = timed_out                                                ? ErrorKind::Timeout
                 : ec.category() == http::make_error_code(http::error::bad_target).category() &&
                         ec != http::error::end_of_stream && ec != http::error::partial_message
                     ? ErrorKind::Protocol
                     : ErrorKind::Connection;
  result.detail = "exchange with " + origin.key() + ": " + (timed_out ? "timed out" : ec.message());
}

std::shared_ptr<const DeliveryClient::Origin> DeliveryClient::parse(const std::string& url_text) {
  if (auto it = parsed_.find(url_text); it != parsed_.end()) return it->second;
  auto url = boost::urls::parse_absolute_uri(url_text);
  if (!url) return nullptr;
  auto origin = std::make_shared<Origin>();
  std::string scheme(url->scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  origin->tls = scheme == "https";
  origin->host = std::string(url->host_address());
  if (url->host_type() == boost::urls::host_type::ipv6 && origin->host.size() > 2 && origin->host.front() == '[')
    origin->host = origin->host.substr(1, origin->host.size() - 2);
  origin->port = url->has_port() ? std::string(url->port()) : (origin->tls ? "443" : "80");
  origin->target = std::string(url->encoded_target());
  if (origin->target.empty() || origin->target[0] != '/') origin->target = "/" + origin->target;
  origin->host_header = std::string(url->encoded_host_and_port());
  origin->pool_key = origin->key();
  if (origin->host.empty() || (scheme != "http" && scheme != "https")) return nullptr;
  boost::system::error_code not_ip;
  auto address = net::ip::make_address(origin->host, not_ip);
  origin->host_is_ip = !not_ip;
  std::uint16_t port = url->has_port() ? url->port_number() : (origin->tls ? 443 : 80);  // 0: not a number
  if (origin->host_is_ip && port != 0) origin->literal.emplace(address, port);
  if (parsed_.size() >= kParsedUrls) parsed_.clear();  // webhook URLs change rarely: start over
  parsed_.emplace(url_text, origin);
  return origin;
}

net::awaitable<ClientResult> DeliveryClient::post(const OutgoingRequest& request) {
  ClientResult result;
  auto deadline = Clock::now() + options_.timeout;

  auto parsed = parse(request.url);
  if (!parsed) {
    result.error = ErrorKind::InvalidUrl;
    result.detail = "not an http(s) URL: " + request.url;
    co_return result;
  }
  const Origin& origin = *parsed;  // kept alive by `parsed` while this coroutine runs

  auto& pool = idle_[origin.pool_key];
  // A pooled connection may have been closed by the receiver meanwhile: then one more try, on a
  // fresh connection, and the origin's other idle connections (as old, as suspect) are dropped.
  for (int tries = 0; tries < 2; ++tries) {
    std::unique_ptr<Connection> conn;
    while (tries == 0 && !pool.empty() && !conn) {
      conn = std::move(pool.back());
      pool.pop_back();
      if (Clock::now() - conn->idle_since > options_.idle_timeout) conn.reset();
    }
    bool reused = conn != nullptr;
    if (!conn) {
      conn = co_await connect(origin, deadline, result);
      if (!conn) co_return result;
    }
    bool reusable = false;
    result = ClientResult{};
    co_await exchange(*conn, origin, request, deadline, result, reusable);
    if (reused && result.error == ErrorKind::Connection) {
      pool.clear();
      continue;
    }
    if (reusable) {
      conn->idle_since = Clock::now();
      pool.push_back(std::move(conn));
    }
    co_return result;
  }
  co_return result;
}

}  // namespace hookd::engine

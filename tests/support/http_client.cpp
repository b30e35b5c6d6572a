#include "tests/support/http_client.hpp"

#include <sstream>
#include <stdexcept>

namespace hookd::test {

namespace {
constexpr std::chrono::seconds kDeadline{10};
}

struct HttpClient::Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::context> tls_context;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
};

double metric_sample(const std::string& page, const std::string& name) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

boost::json::value HttpResult::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpClient::HttpClient(std::uint16_t port, std::optional<std::string> ca_file, std::string host)
    : port_(port), ca_file_(std::move(ca_file)), host_(std::move(host)) {}

HttpClient::~HttpClient() = default;

void HttpClient::connect() {
  connection_ = std::make_unique<Connection>();
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port_);
  if (!ca_file_) {
    connection_->plain.emplace(io_);
    connection_->plain->expires_after(kDeadline);
    connection_->plain->connect(endpoint);
    return;
  }
  auto& ctx = connection_->tls_context.emplace(ssl::context::tls_client);
  ctx.load_verify_file(*ca_file_);
  ctx.set_verify_mode(ssl::verify_peer);
  auto& stream = connection_->tls.emplace(io_, ctx);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) throw std::runtime_error("SNI");
  stream.set_verify_callback(ssl::host_name_verification(host_));
  beast::get_lowest_layer(stream).expires_after(kDeadline);
  beast::get_lowest_layer(stream).connect(endpoint);
  stream.handshake(ssl::stream_base::client);
}

HttpResult HttpClient::request(http::verb method, const std::string& target, const std::string& body,
                               const Headers& headers) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    if (!connection_) connect();
    boost::system::error_code ec;
    http::response<http::string_body> res;
    auto& c = *connection_;
    if (c.plain) {
      c.plain->expires_after(kDeadline);
      http::write(*c.plain, req, ec);
      if (!ec) http::read(*c.plain, c.buffer, res, ec);
    } else {
      beast::get_lowest_layer(*c.tls).expires_after(kDeadline);
      http::write(*c.tls, req, ec);
      if (!ec) http::read(*c.tls, c.buffer, res, ec);
    }
    // A kept-alive connection the server closed meanwhile: reconnect once.
    if (ec && attempt == 0 && (ec == http::error::end_of_stream || ec == net::error::connection_reset ||
                               ec == net::error::broken_pipe || ec == ssl::error::stream_truncated)) {
      connection_.reset();
      continue;
    }
    if (ec) throw boost::system::system_error(ec, "test request");
    if (!res.keep_alive()) connection_.reset();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& field : res.base()) out.headers.insert(field.name_string(), field.value());
    return out;
  }
}

HttpResult ApiClient::call(http::verb method, const std::string& target, const std::string& body, Headers extra) {
  extra.emplace_back("Authorization", "Token " + key_);
  extra.emplace_back("Integration-ID", integration_);
  return http_.request(method, target, body, extra);
}

}  // namespace hookd::test

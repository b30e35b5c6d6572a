#include "tests/support/raw_connection.hpp"

#include <poll.h>

#include <algorithm>

namespace hookd::test {

RawConnection::RawConnection(std::uint16_t port) : socket_(io_) {
  socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

boost::system::error_code RawConnection::send(std::string_view bytes) {
  boost::system::error_code ec;
  net::write(socket_, net::buffer(bytes), ec);
  return ec;
}

std::string RawConnection::read_all(std::chrono::milliseconds timeout) {
  std::string out;
  closed_ = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  socket_.non_blocking(true);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(net::buffer(buf), ec);
    if (ec == net::error::would_block) {
      // Waits until readable or closed, at most until the deadline.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{socket_.native_handle(), POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      continue;
    }
    if (ec) {
      closed_ = ec == net::error::eof || ec == net::error::connection_reset;
      break;
    }
    out.append(buf, n);
  }
  return out;
}

bool RawConnection::wait_readable(std::chrono::milliseconds timeout) {
  pollfd pfd{socket_.native_handle(), POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) == 1;
}

bool RawConnection::closed_by_peer() {
  char c;
  boost::system::error_code ec;
  socket_.non_blocking(false);
  socket_.read_some(net::buffer(&c, 1), ec);
  return ec == net::error::eof || ec == net::error::connection_reset;
}

}  // namespace hookd::test

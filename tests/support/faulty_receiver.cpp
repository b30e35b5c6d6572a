#include "tests/support/faulty_receiver.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>

namespace hookd::test {

FaultyReceiver::FaultyReceiver(Fault fault)
    : fault_(fault), acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket = acceptor_.accept(ec);
      if (ec) return;
      // Reads wake up every 50 ms to notice a stop.
      timeval tv{0, 50'000};
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      connections_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  });
}

FaultyReceiver::~FaultyReceiver() {
  stopping_ = true;
  // shutdown() wakes the blocking accept(); the acceptor is closed only once its thread is done
  // with it (closing it under a running accept() is a data race, which ThreadSanitizer reports).
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  accept_thread_.join();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& t : connections_) t.join();
}

bool FaultyReceiver::read_request(tcp::socket& socket, std::string& pending) {
  // Appends what arrives; false when the peer closed, on an error, or when stopping.
  auto receive = [&] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(socket.native_handle(), buf, sizeof buf, 0);
      if (n == 0 || stopping_) return false;
      if (n > 0) {
        pending.append(buf, static_cast<std::size_t>(n));
        return true;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    }
  };
  std::size_t head_end;
  while ((head_end = pending.find("\r\n\r\n")) == std::string::npos)
    if (!receive()) return false;
  std::size_t length = 0;
  auto cl = pending.find("Content-Length: ");
  if (cl != std::string::npos && cl < head_end) length = std::stoul(pending.substr(cl + 16));
  while (pending.size() < head_end + 4 + length)
    if (!receive()) return false;
  pending.erase(0, head_end + 4 + length);
  ++requests_;
  return true;
}

void FaultyReceiver::serve(tcp::socket socket) {
  std::string pending;
  boost::system::error_code ec;
  while (read_request(socket, pending)) {
    switch (fault_) {
      case Fault::Reset: {
        socket.set_option(net::socket_base::linger(true, 0), ec);  // close sends RST
        socket.close(ec);
        return;
      }
      case Fault::Garbage:
        net::write(socket, net::buffer(std::string("SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03 not http\r\n\r\n")), ec);
        socket.close(ec);
        return;
      case Fault::StallMidResponse:
        net::write(socket, net::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")), ec);
        while (!stopping_ && !ec) {  // never the rest: until the client gives up
          char c;
          ssize_t n = ::recv(socket.native_handle(), &c, 1, 0);
          if (n == 0) return;
        }
        return;
      case Fault::HugeResponse: {
        net::write(socket, net::buffer(std::string("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1073741824\r\n\r\n")), ec);
        std::string chunk(1 << 16, 'z');
        for (int i = 0; i < 16384 && !ec && !stopping_; ++i) net::write(socket, net::buffer(chunk), ec);
        return;
      }
      case Fault::DropAfterResponse:
        net::write(socket, net::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), ec);
        socket.close(ec);  // though HTTP/1.1 keeps it alive by default
        return;
    }
  }
}

}  // namespace hookd::test

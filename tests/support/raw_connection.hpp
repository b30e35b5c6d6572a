// A raw TCP connection to 127.0.0.1 for tests that send exactly the bytes they want and watch how
// the server ends the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/net.hpp"

namespace hookd::test {

class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);

  boost::system::error_code send(std::string_view bytes);

  // Everything received until the server closes the connection, or until `timeout`.
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Whether the last read_all() ended because the server closed the connection.
  bool closed() const { return closed_; }

  // Waits until something arrived (or the server closed), at most `timeout`; false if nothing did.
  bool wait_readable(std::chrono::milliseconds timeout);

  // Blocks until the server closes the connection (true) or sends a byte (false).
  bool closed_by_peer();

 private:
  net::io_context io_;
  tcp::socket socket_;
  bool closed_ = false;
};

}  // namespace hookd::test

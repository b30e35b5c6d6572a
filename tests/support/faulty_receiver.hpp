// A receiver that misbehaves on purpose, over raw TCP on loopback: it reads each request, then
// resets the connection, answers garbage, stalls halfway through its answer, sends a huge answer,
// or answers properly and then drops the kept-alive connection.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/net.hpp"

namespace hookd::test {

class FaultyReceiver {
 public:
  enum class Fault { Reset, Garbage, StallMidResponse, HugeResponse, DropAfterResponse };

  explicit FaultyReceiver(Fault fault);
  ~FaultyReceiver();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::size_t requests() const { return requests_; }

 private:
  void serve(tcp::socket socket);
  // Reads one request (headers and Content-Length body); false when the peer closed or we stop.
  bool read_request(tcp::socket& socket, std::string& pending);

  Fault fault_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> requests_{0};
  std::thread accept_thread_;
  std::vector<std::thread> connections_;
};

}  // namespace hookd::test

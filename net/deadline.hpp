// A deadline for a socket's operations that ends them by shutting the socket down, never by
// closing it.
//
// Beast's basic_stream closes its socket when its timer expires, with the operation still in
// flight. On Asio 1.81's io_uring backend a close hands the socket's per-object state back to a
// pool at once; a socket opened before the cancel's completion arrives takes that state, and the
// old operation is re-submitted on the old descriptor number, which is the new socket's
// (bench/RESULTS.md, "Asio's event loops on io_uring"). A shut-down socket keeps its descriptor
// and its state: what is in flight ends (a read with end-of-file, a write with EPIPE), a later
// write fails at once, and the owner closes the socket once its operations have ended. (Do not
// read again after an expiry: on epoll, Asio waits for a readiness event that never comes.)
//
// The rule for every socket in hookd: close (or destroy) it only when none of its operations is
// in flight; to end it early, shut it down (this class does, on expiry).
//
// Once expired, a deadline stays expired: the socket is shut down for good, and expired() tells
// its owner that the operation's error means a timeout. Not thread-safe: every call, and the
// socket's operations, on the socket's one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "net/net.hpp"

namespace hookd {

template <class Socket>
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // `socket` must outlive this object.
  explicit Deadline(Socket& socket) : socket_(socket), timer_(socket.get_executor()) {}
  ~Deadline() { *alive_ = false; }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void expires_after(Clock::duration d) { expires_at(Clock::now() + d); }

  void expires_at(Clock::time_point at) {
    if (expired_) return;
    ++tick_;
    timer_.expires_at(at);
    // The handler may run after this object is gone (queued before the timer's destructor
    // canceled it): it touches nothing unless `alive` says the object is still there.
    timer_.async_wait([this, alive = alive_, tick = tick_](const boost::system::error_code& ec) {
      if (ec || !*alive || tick != tick_) return;
      expired_ = true;
      boost::system::error_code ignored;
      socket_.shutdown(net::socket_base::shutdown_both, ignored);
    });
  }

  void expires_never() {
    ++tick_;  // a handler already queued is stale now
    timer_.cancel();
  }

  // True once the deadline passed: the socket is shut down, and its operations failed for that.
  bool expired() const { return expired_; }

 private:
  Socket& socket_;
  // On the socket's own executor type: a type-erased executor is copied at every step.
  net::basic_waitable_timer<Clock, net::wait_traits<Clock>, typename Socket::executor_type> timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t tick_ = 0;
  bool expired_ = false;
};

}  // namespace hookd

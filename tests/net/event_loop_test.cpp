// Asio's event loop as hookd builds it (io_uring on Linux, net/asio_impl.cpp): a cancellation made
// after the submission ring has wrapped ends exactly the canceled operation, with operation_aborted,
// and leaves every other one pending; a completion that comes while the loop's thread is busy is
// collected by the loop's next round.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "net/net.hpp"

namespace hookd::test {
namespace {

using stream_socket = net::local::stream_protocol::socket;

// The entries of Asio 1.81's submission ring (io_uring_service::ring_size, private). With epoll
// there is no ring, and the test still checks cancellation.
constexpr int kRingEntries = 16384;

// Stops `io` if the test is not over within a minute: a completion that never comes must fail
// the test, not hang it.
class Watchdog {
 public:
  explicit Watchdog(net::io_context& io)
      : thread_([this, &io] {
          std::unique_lock lock(mutex_);
          if (done_cv_.wait_for(lock, std::chrono::minutes(1), [this] { return done_; })) return;
          fired_ = true;
          io.stop();
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

// Runs handlers until `done()`; false if the loop was stopped (or ran out of work) first.
template <class Done>
bool run_until(net::io_context& io, Done done) {
  while (!done() && !io.stopped()) io.run_one();
  return done();
}

TEST(EventLoop, ACancelAfterTheSubmissionRingWrappedEndsOnlyTheCanceledRead) {
  net::io_context io(1);
  Watchdog watchdog(io);
  auto work = net::make_work_guard(io);
  stream_socket a(io), a_peer(io), c(io), c_peer(io);
  net::local::connect_pair(a, a_peer);
  net::local::connect_pair(c, c_peer);
  std::array<char, 1> byte{'x'};
  std::array<char, 1> into_a{}, into_c{};

  // Every one of these reads of `c` waits (nothing to read yet), so each takes a ring entry, and
  // afterwards every entry was last used for a read of `c`.
  for (int i = 0; i < kRingEntries + 1000; ++i) {
    bool read = false;
    c.async_read_some(net::buffer(into_c), [&](boost::system::error_code ec, std::size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, 1u);
      read = true;
    });
    io.poll();  // submits the read before the byte is there
    net::write(c_peer, net::buffer(byte));
    ASSERT_TRUE(run_until(io, [&] { return read; })) << "read " << i << " never completed";
  }

  std::optional<boost::system::error_code> a_result, c_result;
  a.async_read_some(net::buffer(into_a), [&](boost::system::error_code ec, std::size_t) { a_result = ec; });
  c.async_read_some(net::buffer(into_c), [&](boost::system::error_code ec, std::size_t) { c_result = ec; });
  io.poll();
  a.cancel();
  ASSERT_TRUE(run_until(io, [&] { return a_result.has_value(); }));
  EXPECT_EQ(*a_result, net::error::operation_aborted) << a_result->message();
  io.poll();
  EXPECT_FALSE(c_result.has_value()) << "a read nobody canceled ended: " << c_result->message();

  // Both sockets still work.
  net::write(c_peer, net::buffer(byte));
  ASSERT_TRUE(run_until(io, [&] { return c_result.has_value(); }));
  EXPECT_FALSE(*c_result) << c_result->message();
  bool read_again = false;
  a.async_read_some(net::buffer(into_a), [&](boost::system::error_code ec, std::size_t n) {
    read_again = !ec && n == 1;
  });
  net::write(a_peer, net::buffer(byte));
  ASSERT_TRUE(run_until(io, [&] { return read_again; }));
  // With nothing left to do the loop ends: no completion is still owed.
  work.reset();
  for (auto* s : {&a, &a_peer, &c, &c_peer}) s->close();
  io.run();
  EXPECT_FALSE(watchdog.fired()) << "the loop did not end: it still waited for a completion";
}

// The ring is made with COOP_TASKRUN: a completion that comes while the loop's thread runs is left
// for that thread's next system call, not pushed at it by an interrupt. Its next round must still
// collect it, even a poll that would find the completion queue empty: TASKRUN_FLAG makes the poll
// enter the kernel for it. (Without that flag this poll finds nothing; a timer interrupt during
// the spin can hide that, so the test may pass on a broken build, never fail on a good one.)
TEST(EventLoop, ACompletionThatCameWhileTheLoopWasBusyIsCollectedByItsNextPoll) {
  net::io_context io(1);
  auto work = net::make_work_guard(io);  // a loop out of work stops, and a stopped loop polls nothing
  stream_socket c(io), c_peer(io);
  net::local::connect_pair(c, c_peer);
  std::array<char, 1> byte{'x'};
  std::array<char, 1> into{};
  for (int i = 0; i < 100; ++i) {
    bool read = false;
    c.async_read_some(net::buffer(into), [&](boost::system::error_code ec, std::size_t n) { read = !ec && n == 1; });
    io.poll();  // submits the read before the byte is there
    ASSERT_FALSE(read);
    std::atomic<bool> written = false;
    std::thread writer([&] {
      net::write(c_peer, net::buffer(byte));
      written = true;
    });
    while (!written) {
    }  // busy in user space, no system call: the completion waits for this thread
    io.poll();
    writer.join();  // after the poll: joining may make a system call, which would run the completion
    ASSERT_TRUE(read) << "round " << i << ": the poll did not collect the read's completion";
  }
}

}  // namespace
}  // namespace hookd::test

// net/deadline.hpp: an expired deadline ends a socket's operations by shutting the socket down;
// the descriptor stays the socket's until its owner closes it, so a socket opened meanwhile never
// receives what the ended operation was waiting for (on io_uring, a close under a pending read
// handed that read to the next socket: bench/RESULTS.md).
#include "net/deadline.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>

namespace hookd::test {
namespace {

using namespace std::chrono_literals;
using Socket = net::basic_stream_socket<net::local::stream_protocol, net::io_context::executor_type>;

// Runs handlers until `done()`, for at most a minute: a completion that never comes fails the test.
// (Not run_one_for: Asio 1.81's io_uring service tags its timeout with a stack address, asio#1284.)
template <class Done>
bool run_until(net::io_context& io, Done done) {
  auto gave_up = std::make_shared<bool>(false);  // shared: the canceled wait may end after this returns
  net::steady_timer give_up(io, 1min);
  give_up.async_wait([gave_up](boost::system::error_code ec) { *gave_up = !ec; });
  while (!done() && !*gave_up) io.run_one();
  return done();
}

struct Pair {
  explicit Pair(net::io_context& io) : socket(io.get_executor()), peer(io.get_executor()) {
    net::local::connect_pair(socket, peer);
  }
  Socket socket, peer;
};

// One pending read of a byte, started at construction, and how it ended. Not movable: the
// read's handler refers to it.
struct Read {
  explicit Read(Socket& s) : socket(s) {
    socket.async_read_some(net::buffer(byte), [this](boost::system::error_code ec, std::size_t) {
      open_at_completion = socket.is_open();
      result = ec;
    });
  }
  Read(const Read&) = delete;
  bool ended() const { return result.has_value(); }

  Socket& socket;
  std::array<char, 1> byte{};
  std::optional<boost::system::error_code> result;
  bool open_at_completion = false;
};

// A socket with a deadline and a pending read.
class DeadlineTest : public ::testing::Test {
 protected:
  net::io_context io{1};
  Pair a{io};
  Deadline<Socket> deadline{a.socket};
  Read read{a.socket};
};

TEST_F(DeadlineTest, ExpiryEndsAPendingReadAndTheSocketStaysOpenUntilItsOwnerClosesIt) {
  deadline.expires_after(5ms);
  ASSERT_TRUE(run_until(io, [&] { return read.ended(); }));
  EXPECT_TRUE(deadline.expired());
  EXPECT_EQ(*read.result, net::error::eof) << read.result->message();
  EXPECT_TRUE(read.open_at_completion);

  // The deadline stays expired even if set again, and a later write fails at once, with an error
  // and no SIGPIPE (which would end this process). (Not a later read: on epoll, Asio waits for a
  // new readiness event after an end-of-file, which never comes.)
  deadline.expires_after(1h);
  EXPECT_TRUE(deadline.expired());
  std::optional<boost::system::error_code> written;
  net::async_write(a.socket, net::buffer("x", 1), [&](boost::system::error_code ec, std::size_t) { written = ec; });
  ASSERT_TRUE(run_until(io, [&] { return written.has_value(); }));
  EXPECT_EQ(*written, net::error::broken_pipe) << written->message();
}

TEST_F(DeadlineTest, ExpiresNeverLetsTheOperationRunPastTheOldDeadline) {
  deadline.expires_after(5ms);
  deadline.expires_never();
  // The byte comes well after the old deadline.
  net::steady_timer later(io, 50ms);
  later.async_wait([&](boost::system::error_code) { net::write(a.peer, net::buffer("x", 1)); });
  ASSERT_TRUE(run_until(io, [&] { return read.ended(); }));
  EXPECT_FALSE(*read.result) << read.result->message();
  EXPECT_EQ(read.byte[0], 'x');
  EXPECT_FALSE(deadline.expired());
}

// The sequence that went wrong with a close on expiry: a socket is opened right after another's
// pending read was ended, before that read's completion, and reads. Each must get its own result.
TEST(Deadline, ASocketOpenedRightAfterAnExpiryGetsOnlyItsOwnBytes) {
  net::io_context io(1);
  for (int i = 0; i < 500; ++i) {
    auto a = std::make_unique<Pair>(io);
    auto deadline = std::make_unique<Deadline<Socket>>(a->socket);
    auto read_a = std::make_unique<Read>(a->socket);
    deadline->expires_after(0ms);
    ASSERT_TRUE(run_until(io, [&] { return deadline->expired(); }));

    Pair b(io);
    Read read_b(b.socket);
    net::write(b.peer, net::buffer("b", 1));
    ASSERT_TRUE(run_until(io, [&] { return read_a->ended() && read_b.ended(); })) << "round " << i;
    EXPECT_EQ(*read_a->result, net::error::eof) << "round " << i << ": " << read_a->result->message();
    ASSERT_FALSE(*read_b.result) << "round " << i << ": " << read_b.result->message();
    ASSERT_EQ(read_b.byte[0], 'b') << "round " << i;
    EXPECT_EQ(read_a->byte[0], '\0') << "round " << i;
    read_a.reset();
    deadline.reset();
    a.reset();  // closed now that its read has ended
  }
}

}  // namespace
}  // namespace hookd::test

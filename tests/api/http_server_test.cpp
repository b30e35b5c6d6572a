// The HTTP server: the answer's head it writes itself is the head Beast's serializer writes; with
// its connections spread over several event loops, every connection is served, each on one loop;
// stop() closes the idle ones at once and lets one within a request (from its first byte on)
// answer first, its answer written whole; close_all() closes even the busy ones.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "api/http_server.hpp"
#include "signing/crypto.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

namespace hookd::test {
namespace {

using namespace std::chrono_literals;

// What Beast's serializer writes for `res`: head and body.
std::string serialized_by_beast(const api::Response& res) {
  std::ostringstream out;
  out << res;
  return out.str();
}

TEST(ResponseHead, IsWrittenAsBeastWritesIt) {
  std::vector<api::Response> answers;
  api::Response created{http::status::created, 11};
  created.set(http::field::content_type, "application/json");
  created.set("Request-Id", "7f3c");
  created.set(http::field::location, "/v2/webhooks/abc/");
  created.body() = R"({"id":"abc"})";
  created.keep_alive(true);
  answers.push_back(created);
  api::Response closing{http::status::service_unavailable, 11};
  closing.set(http::field::retry_after, "1");
  closing.body() = "{}";
  closing.keep_alive(false);
  answers.push_back(closing);
  api::Response empty{http::status::no_content, 11};  // no body, no Content-Length
  answers.push_back(empty);
  api::Response unknown{static_cast<http::status>(299), 11};  // a code without a reason phrase
  unknown.body() = "x";
  answers.push_back(unknown);
  api::Response reasoned{http::status::ok, 10};  // an HTTP/1.0 client, a reason of our own
  reasoned.reason("Fine");
  reasoned.insert("X-Twice", "1");
  reasoned.insert("X-Twice", "2");
  reasoned.body() = std::string(5000, 'b');
  answers.push_back(reasoned);

  std::string head = "left over from the previous answer";
  for (auto& res : answers) {
    res.prepare_payload();
    api::write_response_head(res, head);
    EXPECT_EQ(head + res.body(), serialized_by_beast(res)) << res.result_int();
  }
}

// A body as /echo-size describes it: its size and its SHA-256.
std::string size_and_hash(std::string_view body) {
  return std::to_string(body.size()) + ":" + signing::hex(signing::sha256(body));
}

constexpr std::size_t kBigAnswerBytes = 32 << 20;

// Answers 200, noting the thread each request ran on. A request for /hold waits until release();
// one for /echo-size answers its body's size and hash; one for /big, kBigAnswerBytes.
class GatedHandler final : public api::RequestHandler {
 public:
  net::awaitable<api::Response> handle(api::Request request, api::RequestInfo) override {
    {
      std::lock_guard lock(mutex_);
      threads_[std::string(request[http::field::user_agent])].insert(std::this_thread::get_id());
    }
    if (request.target() == "/echo-size") {
      api::Response res{http::status::ok, 11};
      res.body() = size_and_hash(request.body());
      co_return res;
    }
    if (request.target() == "/big") {  // more than loopback's buffers hold: written while the client reads
      api::Response res{http::status::ok, 11};
      res.body().assign(kBigAnswerBytes, 'b');
      co_return res;
    }
    if (request.target() == "/hold")
      co_return co_await api::async_answer_on(
          pool_.get_executor(),
          [this] {
            ++held_;
            gate_.wait();
            return ok();
          },
          net::use_awaitable);
    co_return ok();
  }

  void release() {
    std::call_once(released_, [this] { open_.set_value(); });
  }
  int held() const { return held_; }
  // The threads that ran each client's requests (by User-Agent).
  std::map<std::string, std::set<std::thread::id>> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  static api::Response ok() {
    api::Response res{http::status::ok, 11};
    res.body() = "ok";
    return res;
  }
  net::thread_pool pool_{1};
  std::promise<void> open_;
  std::shared_future<void> gate_ = open_.get_future().share();
  std::once_flag released_;
  std::atomic<int> held_{0};
  std::mutex mutex_;
  std::map<std::string, std::set<std::thread::id>> threads_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    port_ = server_.listen_tcp(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)).port();
    io_thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpServerTest() override {
    handler_.release();
    net::post(io_, [this] {
      server_.stop();
      server_.close_all();
    });
    io_work_.reset();
    io_thread_.join();
    loops_.release();
    loops_.join();
  }
  void stop() {
    net::post(io_, [this] { server_.stop(); });
  }
  // Waits until stop() and the closes it posted to the connections' loops have run: each loop runs
  // its handlers in order, so a marker posted after them runs after them.
  void wait_for_posted_closes() {
    for (net::io_context* loop : {&io_, &loops_.next(), &loops_.next()}) {
      std::promise<void> ran;
      net::post(*loop, [&ran] { ran.set_value(); });
      ran.get_future().wait();
    }
  }

  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> io_work_ = net::make_work_guard(io_);
  EventLoops loops_{2};
  GatedHandler handler_;
  api::HttpServer server_{io_, handler_, {}, &loops_};
  std::uint16_t port_ = 0;
  std::thread io_thread_;
};

TEST_F(HttpServerTest, ConnectionsAreSpreadOverTheLoopsAndEachStaysOnOne) {
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(std::make_unique<HttpClient>(port_));
  for (int round = 0; round < 3; ++round)
    for (std::size_t i = 0; i < clients.size(); ++i)
      EXPECT_EQ(clients[i]->request(http::verb::get, "/", "", {{"User-Agent", std::to_string(i)}}).status, 200);

  std::set<std::thread::id> all;
  for (const auto& [client, threads] : handler_.threads()) {
    EXPECT_EQ(threads.size(), 1u) << "client " << client << "'s requests ran on more than one thread";
    all.insert(threads.begin(), threads.end());
  }
  EXPECT_EQ(handler_.threads().size(), 4u);
  EXPECT_EQ(all.size(), 2u);  // round-robin over both loops
  EXPECT_EQ(all.count(io_thread_.get_id()), 0u);
  EXPECT_EQ(all.count(std::this_thread::get_id()), 0u);
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAndLetsABusyOneAnswerFirst) {
  RawConnection idle(port_);
  RawConnection busy(port_);
  ASSERT_FALSE(busy.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return handler_.held() == 1 && server_.connections() == 2; }));

  stop();
  EXPECT_EQ(idle.read_all(5s), "");
  EXPECT_TRUE(idle.closed());
  ASSERT_TRUE(wait_until([&] { return server_.connections() == 1; }));

  handler_.release();
  std::string answer = busy.read_all(5s);
  EXPECT_TRUE(busy.closed());
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(wait_until([&] { return server_.connections() == 0; }));
}

// A request partly received when stop() comes is received whole, handled and answered. Closing
// its connection could lose the answer to a request that was handled anyway (its bytes read
// before the close), and a client resending it would then publish its events twice.
TEST_F(HttpServerTest, StopLetsARequestBeingReceivedFinish) {
  RawConnection sender(port_);
  std::string body(1000, 'p');
  ASSERT_FALSE(sender.send("POST /echo-size HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + body.substr(0, 400)));
  ASSERT_TRUE(wait_until([&] { return server_.requests_in_progress() == 1; }));

  stop();
  wait_for_posted_closes();
  ASSERT_FALSE(sender.send(body.substr(400)));
  std::string answer = sender.read_all(5s);
  EXPECT_TRUE(sender.closed());
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find(size_and_hash(body)), std::string::npos) << answer;
  EXPECT_TRUE(wait_until([&] { return server_.connections() == 0 && server_.requests_in_progress() == 0; }));
}

// Whenever stop() comes, a request that is handled is answered: of requests arriving on many
// connections while stop() runs, each is either answered or never handled.
TEST_F(HttpServerTest, StopNeverHandlesARequestWithoutAnsweringIt) {
  constexpr int kConnections = 64;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kConnections; ++i) connections.push_back(std::make_unique<RawConnection>(port_));
  ASSERT_TRUE(wait_until([&] { return server_.connections() == kConnections; }));

  for (int i = 0; i < kConnections; ++i) {
    if (i == kConnections / 2) stop();
    ASSERT_FALSE(connections[i]->send("GET / HTTP/1.1\r\nUser-Agent: " + std::to_string(i) + "\r\n\r\n"));
  }
  for (int i = 0; i < kConnections; ++i) {
    std::string answer = connections[i]->read_all(5s);
    bool handled = handler_.threads().contains(std::to_string(i));
    bool answered = answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0;
    EXPECT_EQ(handled, answered) << "request " << i << " answered with '" << answer << "'";
  }
}

// A connection is within a request from the request's first byte until its answer is written, or
// until the connection ends.
TEST_F(HttpServerTest, ARequestIsInProgressFromItsFirstByteToItsAnswer) {
  // The answer may arrive before its writer has seen the write complete: awaited, not asserted.
  auto none_in_progress = [&] { return wait_until([&] { return server_.requests_in_progress() == 0; }); };
  HttpClient client(port_);
  EXPECT_EQ(client.request(http::verb::get, "/").status, 200);
  EXPECT_TRUE(none_in_progress());
  {
    RawConnection abandoned(port_);
    ASSERT_FALSE(abandoned.send("POST /echo-size HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"));
    ASSERT_TRUE(wait_until([&] { return server_.requests_in_progress() == 1; }));
  }
  EXPECT_TRUE(wait_until([&] { return server_.connections() == 1; }));
  EXPECT_TRUE(none_in_progress());
  EXPECT_EQ(client.request(http::verb::get, "/").status, 200);
  EXPECT_TRUE(none_in_progress());
}

// An answer still being written when stop() comes goes out whole: the connection is busy until
// its answer is written, not only while its handler runs.
TEST_F(HttpServerTest, StopLetsAnAnswerBeingWrittenFinish) {
  RawConnection reader(port_);
  ASSERT_FALSE(reader.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The first bytes have arrived, and the rest cannot fit in the buffers: the write is under way.
  ASSERT_TRUE(reader.wait_readable(10s));

  stop();
  wait_for_posted_closes();

  std::string answer = reader.read_all(30s);
  EXPECT_TRUE(reader.closed());
  auto head_end = answer.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answer.substr(0, 200);
  EXPECT_EQ(answer.size() - head_end - 4, kBigAnswerBytes) << answer.substr(0, head_end);
}

TEST_F(HttpServerTest, CloseAllClosesBusyConnectionsToo) {
  RawConnection busy(port_);
  ASSERT_FALSE(busy.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return handler_.held() == 1; }));

  net::post(io_, [this] { server_.close_all(); });
  EXPECT_EQ(busy.read_all(5s), "");
  EXPECT_TRUE(busy.closed());

  // The connection ends once its handler returns; its answer goes nowhere.
  handler_.release();
  EXPECT_TRUE(wait_until([&] { return server_.connections() == 0; }));
}

// Bodies are read in chunks of up to 64 KiB into a buffer that shrinks again when the request is
// read: a body larger than that arrives whole whether it comes at once or in pieces, and so do a
// request pipelined right behind it and the requests after it on the same connection.
TEST_F(HttpServerTest, LargeBodiesArriveWholeInPiecesAndPipelined) {
  std::string big(300 << 10, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  std::string expected = size_and_hash(big);

  RawConnection raw(port_);
  std::string first = "POST /echo-size HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) +
                      "\r\n\r\n" + big;
  std::string second = "POST /echo-size HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello";
  std::string all = first + second;
  // In three pieces, the last one holding the end of the first body and the whole second request.
  ASSERT_FALSE(raw.send(all.substr(0, 1000)));
  ASSERT_FALSE(raw.send(all.substr(1000, 150'000)));
  ASSERT_FALSE(raw.send(all.substr(151'000)));
  std::string answers = raw.read_all(10s);
  EXPECT_TRUE(raw.closed());
  EXPECT_NE(answers.find("\r\n\r\n" + expected), std::string::npos) << answers;
  EXPECT_NE(answers.find("\r\n\r\n" + size_and_hash("hello")), std::string::npos) << answers;

  HttpClient client(port_);
  for (int round = 0; round < 3; ++round) {
    auto large = client.request(http::verb::post, "/echo-size", big);
    EXPECT_EQ(large.status, 200);
    EXPECT_EQ(large.body, expected);
    auto small = client.request(http::verb::post, "/echo-size", "hello");
    EXPECT_EQ(small.status, 200);
    EXPECT_EQ(small.body, size_and_hash("hello"));
  }
}

}  // namespace
}  // namespace hookd::test

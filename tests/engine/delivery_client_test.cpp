// The delivery client against real receivers on loopback, over HTTP and HTTPS.
#include "engine/delivery_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/receiver.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::engine {
namespace {

using namespace std::chrono_literals;
using test::Receiver;
using test::Reply;

class ClientTest : public ::testing::Test {
 protected:
  ClientResult post(DeliveryClient& client, const std::string& url, std::string body = R"({"a":1})") {
    OutgoingRequest req{url, std::make_shared<const std::string>(std::move(body)), {{"X-Test", "yes"}}};
    auto future = net::co_spawn(io, client.post(req), net::use_future);
    io.restart();
    io.run();
    return future.get();
  }
  ClientOptions local(ClientOptions o = {}) {
    o.allow_private_targets = true;
    o.timeout = 2s;
    o.connect_timeout = 1s;
    return o;
  }
  net::io_context io;
};

TEST_F(ClientTest, PostsAndKeepsTheConnection) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t i) { return Reply{i == 0 ? 200 : 202, 0ms, "ok " + std::to_string(i), {}}; });
  DeliveryClient client(io.get_executor(), local());
  auto first = post(client, receiver.url("/path?q=1"), R"({"id":"p1"})");
  EXPECT_EQ(first.error, ErrorKind::None) << first.detail;
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body_prefix, "ok 0");
  EXPECT_EQ(client.idle_connections(), 1u);
  auto second = post(client, receiver.url("/path?q=1"));
  EXPECT_EQ(second.status, 202);
  EXPECT_EQ(client.idle_connections(), 1u);  // the same connection went back to the pool

  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].target, "/path?q=1");
  EXPECT_EQ(got[0].body, R"({"id":"p1"})");
  EXPECT_EQ(got[0].header("content-type"), "application/json");
  EXPECT_EQ(got[0].header("x-test"), "yes");
  EXPECT_EQ(got[0].header("host"), "127.0.0.1:" + std::to_string(receiver.port()));
}

TEST_F(ClientTest, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  Receiver receiver;
  ClientOptions o = local();
  o.idle_timeout = 300ms;
  DeliveryClient client(io.get_executor(), o);
  EXPECT_EQ(post(client, receiver.url()).status, 200);
  EXPECT_EQ(client.idle_connections(), 1u);
  client.close_idle();
  EXPECT_EQ(client.idle_connections(), 1u);  // not idle long enough yet
  ASSERT_TRUE(test::wait_until([&] {
    client.close_idle();
    return client.idle_connections() == 0;
  }));
  EXPECT_EQ(post(client, receiver.url()).status, 200);  // and the origin is usable again
}

// Webhooks that share a receiver share its origin's pool: every connection that was in use at
// once is kept, so a second round as wide as the first opens none.
TEST_F(ClientTest, ThePoolKeepsAsManyConnectionsAsWereInUseAtOnce) {
  constexpr std::size_t kConcurrent = 24;
  Receiver receiver;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<std::size_t> answered{0};
  receiver.script([&](const auto&, std::size_t i) {
    // Each round is held until all of its requests are in, so they overlap.
    return i < kConcurrent ? Reply{200, 0ms, "", {}, released} : Reply{};
  });
  DeliveryClient client(io.get_executor(), local());
  auto round = [&] {
    std::vector<OutgoingRequest> requests;  // outlive the posts, which refer to them
    for (std::size_t i = 0; i < kConcurrent; ++i)
      requests.push_back({receiver.url("/hook" + std::to_string(i % 3)), std::make_shared<const std::string>("{}"), {}});
    for (const auto& req : requests)
      net::co_spawn(io, client.post(req), [&](std::exception_ptr, const ClientResult& r) {
        if (r.status == 200) ++answered;
      });
    io.restart();
    io.run();
  };
  std::thread releaser([&] {
    if (receiver.wait_for(kConcurrent)) release.set_value();
  });
  round();
  releaser.join();
  ASSERT_EQ(answered.load(), kConcurrent);
  EXPECT_EQ(client.connections_opened(), kConcurrent);
  EXPECT_EQ(client.idle_connections(), kConcurrent);
  round();
  EXPECT_EQ(answered.load(), 2 * kConcurrent);
  EXPECT_EQ(receiver.count(), 2 * kConcurrent);
  EXPECT_EQ(client.connections_opened(), kConcurrent);  // all reused
}

TEST_F(ClientTest, RedirectsAreNotFollowedAndBodiesAreCappedAt4KiB) {
  Receiver receiver;
  receiver.script([&](const auto&, std::size_t i) {
    if (i == 0) return Reply{302, 0ms, "", {{"Location", "http://127.0.0.1:1/elsewhere"}}};
    return Reply{500, 0ms, std::string(10000, 'x'), {{"Retry-After", "7"}}};
  });
  DeliveryClient client(io.get_executor(), local());
  auto redirect = post(client, receiver.url());
  EXPECT_EQ(redirect.status, 302);
  EXPECT_EQ(receiver.count(), 1u);
  auto big = post(client, receiver.url());
  EXPECT_EQ(big.status, 500);
  EXPECT_EQ(big.body_prefix.size(), 4096u);
  EXPECT_EQ(big.retry_after, "7");
}

TEST_F(ClientTest, OversizedResponsesStillCountButCloseTheConnection) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return Reply{200, 0ms, std::string(200000, 'y'), {}}; });
  DeliveryClient client(io.get_executor(), local());
  auto res = post(client, receiver.url());
  EXPECT_EQ(res.error, ErrorKind::None) << res.detail;
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(client.idle_connections(), 0u);
}

TEST_F(ClientTest, TimeoutWhenTheReceiverStalls) {
  Receiver receiver;
  receiver.script([](const auto&, std::size_t) { return Reply{200, 1500ms, "", {}}; });
  ClientOptions o = local();
  o.timeout = 300ms;
  DeliveryClient client(io.get_executor(), o);
  auto started = std::chrono::steady_clock::now();
  auto res = post(client, receiver.url());
  EXPECT_EQ(res.error, ErrorKind::Timeout) << res.detail;
  EXPECT_EQ(res.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1200ms);
}

TEST_F(ClientTest, ConnectionRefused) {
  std::uint16_t port;
  {
    net::io_context tmp;
    tcp::acceptor a(tmp, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed again: nothing listens there now
  DeliveryClient client(io.get_executor(), local());
  auto res = post(client, "http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(res.error, ErrorKind::Connect) << res.detail;
}

TEST_F(ClientTest, PrivateAddressesAreRefusedUnlessAllowed) {
  Receiver receiver;
  ClientOptions strict = local();
  strict.allow_private_targets = false;
  DeliveryClient client(io.get_executor(), strict);
  auto res = post(client, receiver.url());
  EXPECT_EQ(res.error, ErrorKind::RefusedAddress) << res.detail;
  auto by_name = post(client, "http://localhost:" + std::to_string(receiver.port()) + "/");
  EXPECT_EQ(by_name.error, ErrorKind::RefusedAddress) << by_name.detail;  // checked after resolution
  EXPECT_EQ(receiver.count(), 0u);

  DeliveryClient allowed(io.get_executor(), local());
  EXPECT_EQ(post(allowed, receiver.url()).status, 200);
}

// An IP address as the host is connected to as it is, without the resolver: an IPv6 one too, from
// between its brackets, and still only if the address rule allows it. (It needs the IPv6 loopback,
// ::1, which Debian configures on every machine by default.)
TEST_F(ClientTest, PostsToAnIpv6Literal) {
  net::io_context server_io;
  tcp::acceptor acceptor(server_io);
  boost::system::error_code no_ipv6;
  acceptor.open(tcp::v6(), no_ipv6);
  if (!no_ipv6) acceptor.bind(tcp::endpoint(net::ip::make_address("::1"), 0), no_ipv6);
  if (!no_ipv6) acceptor.listen(net::socket_base::max_listen_connections, no_ipv6);
  ASSERT_FALSE(no_ipv6) << "this test needs an IPv6 loopback (::1): " << no_ipv6.message();
  std::string url = "http://[::1]:" + std::to_string(acceptor.local_endpoint().port()) + "/v6";
  // One exchange, on a thread that gives up after 5 s should the client never come.
  std::string head;
  tcp::socket socket(server_io);
  net::streambuf buffer;
  acceptor.async_accept(socket, [&](boost::system::error_code ec) {
    if (ec) return;
    net::async_read_until(socket, buffer, "\r\n\r\n", [&](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      head.assign(net::buffers_begin(buffer.data()), net::buffers_end(buffer.data()));
      static constexpr std::string_view kAnswer = "HTTP/1.1 204 No Content\r\n\r\n";
      net::async_write(socket, net::buffer(kAnswer), [](boost::system::error_code, std::size_t) {});
    });
  });
  std::thread server([&] { server_io.run_for(5s); });

  ClientOptions strict = local();
  strict.allow_private_targets = false;
  DeliveryClient refusing(io.get_executor(), strict);
  auto refused = post(refusing, url);
  EXPECT_EQ(refused.error, ErrorKind::RefusedAddress);
  EXPECT_EQ(refused.detail, "::1 is not a public address");

  DeliveryClient client(io.get_executor(), local());
  auto res = post(client, url);
  server.join();
  EXPECT_EQ(res.error, ErrorKind::None) << res.detail;
  EXPECT_EQ(res.status, 204);
  EXPECT_TRUE(head.starts_with("POST /v6 HTTP/1.1\r\n")) << head;
  EXPECT_NE(head.find("\r\nHost: [::1]:"), std::string::npos) << head;
}

TEST(AddressRule, PublicAndNonPublicAddresses) {
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "0.0.0.0", "224.0.0.1", "255.255.255.255", "100.64.0.1", "::1", "::", "fe80::1",
                        "fd00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"})
    EXPECT_FALSE(is_public_address(net::ip::make_address(a))) << a;
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"})
    EXPECT_TRUE(is_public_address(net::ip::make_address(a))) << a;
}

TEST_F(ClientTest, HttpsVerifiesTheCertificateAndHostName) {
  test::TempDir dir;
  auto files = test::make_tls_files(dir.str());
  Receiver receiver(files);
  ClientOptions trusting = local();
  trusting.ca_file = files.ca_cert;
  DeliveryClient client(io.get_executor(), trusting);
  auto ok = post(client, receiver.url());
  EXPECT_EQ(ok.error, ErrorKind::None) << ok.detail;
  EXPECT_EQ(ok.status, 200);

  // Without the test CA the certificate is not trusted.
  DeliveryClient untrusting(io.get_executor(), local());
  EXPECT_EQ(post(untrusting, receiver.url()).error, ErrorKind::Tls);

  // A certificate for another host fails even from a trusted CA.
  test::TempDir other_dir;
  auto other = test::make_tls_files(other_dir.str(), {"other.example"}, {});
  Receiver wrong_host(other);
  ClientOptions trusting_other = local();
  trusting_other.ca_file = other.ca_cert;
  DeliveryClient client2(io.get_executor(), trusting_other);
  auto res = post(client2, wrong_host.url());
  EXPECT_EQ(res.error, ErrorKind::Tls) << res.detail;
  EXPECT_EQ(wrong_host.count(), 0u);
}

TEST_F(ClientTest, InvalidUrl) {
  DeliveryClient client(io.get_executor(), local());
  EXPECT_EQ(post(client, "ftp://example.com/").error, ErrorKind::InvalidUrl);
  EXPECT_EQ(post(client, "not a url").error, ErrorKind::InvalidUrl);
}

}  // namespace
}  // namespace hookd::engine

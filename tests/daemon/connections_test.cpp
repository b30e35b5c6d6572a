// 10,000 idle connections to a real hookd process: it holds them, keeps answering others at once,
// and its memory stays bounded (reported).
#include <gtest/gtest.h>

#include <cstdint>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace hookd::test {
namespace {

double gauge(HttpClient& http, const std::string& name) {
  return metric_sample(http.request(http::verb::get, "/metrics").body, name);
}

TEST(Connections, TenThousandIdleConnectionsDoNotStopService) {
  constexpr int kIdle = 10'000;
  TempDir dir;
  DaemonProcess daemon({"--data-dir", dir.str() + "/data", "--listen", "127.0.0.1:0", "--set",
                        "api.max_connections=12000"});
  int port = daemon.wait_ready();
  ASSERT_GT(port, 0) << daemon.err();
  HttpClient http(static_cast<std::uint16_t>(port));
  ASSERT_EQ(http.request(http::verb::get, "/healthz").status, 200);
  std::size_t rss_before = rss_kib(daemon.pid());

  net::io_context io;
  std::vector<tcp::socket> idle;
  idle.reserve(kIdle);
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port));
  for (int i = 0; i < kIdle; ++i) {
    idle.emplace_back(io);
    idle.back().connect(endpoint);
  }
  ASSERT_TRUE(wait_until([&] { return gauge(http, "hookd_api_connections") >= kIdle + 1; }))
      << gauge(http, "hookd_api_connections");

  // Service goes on for everyone else, without waiting.
  auto started = std::chrono::steady_clock::now();
  HttpClient fresh(static_cast<std::uint16_t>(port));
  EXPECT_EQ(fresh.request(http::verb::get, "/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  std::size_t rss_held = rss_kib(daemon.pid());
  // Signed: the daemon may meanwhile have handed back the memory it populated for the memtables
  // as it started (daemon/thread_arena.hpp), RSS then falling by up to 80 MiB.
  auto grown_kib = static_cast<std::int64_t>(rss_held) - static_cast<std::int64_t>(rss_before);
  std::cout << "[ figures  ] " << kIdle << " idle connections: RSS " << rss_before / 1024 << " MiB -> "
            << rss_held / 1024 << " MiB (" << grown_kib * 1024 / kIdle << " bytes each)" << std::endl;
  if (kRssIsMeaningful) {
    EXPECT_LT(grown_kib, 256 * 1024);  // well under 26 KiB a connection
  }

  idle.clear();  // closing them frees everything again
  EXPECT_TRUE(wait_until([&] { return gauge(http, "hookd_api_connections") <= 2; }));
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(), 0);
}

}  // namespace
}  // namespace hookd::test

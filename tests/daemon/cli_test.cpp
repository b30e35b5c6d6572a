// The real `hookd` binary: first start, signals (and a publish under way when one comes), a second
// daemon on the same directory, and the admin commands with the daemon stopped (straight on the store).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

TEST(Cli, VersionAndUsage) {
  auto v = run_hookd({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, "hookd " HOOKD_VERSION "\n");
  auto bad = run_hookd({"frobnicate"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("usage:"), std::string::npos);
  auto bad_setting = run_hookd({"serve", "--set", "api.listen=nowhere"});
  EXPECT_EQ(bad_setting.exit_code, 2);
  EXPECT_NE(bad_setting.err.find("api.listen"), std::string::npos) << bad_setting.err;
}

TEST(Cli, RefusedIoUringIsReportedWithWhatToDo) {
#if !defined(BOOST_ASIO_HAS_IO_URING)
  GTEST_SKIP() << "this build runs its event loops on epoll";
#endif
  TempDir dir;
  // The filter refuses io_uring and nothing else: what needs no event loop still works.
  auto version = run_hookd({"--version"}, {}, true);
  EXPECT_EQ(version.exit_code, 0) << version.err;
  auto serve = run_hookd({"serve", "--data-dir", dir.str() + "/data", "--listen", "127.0.0.1:0"}, {}, true);
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_NE(serve.err.find("io_uring_queue_init: Operation not permitted"), std::string::npos) << serve.err;
  EXPECT_NE(serve.err.find("-DHOOKD_IO_URING=OFF"), std::string::npos) << serve.err;
}

TEST(Cli, ServeBootstrapsOnceAndStopsCleanlyOnSigterm) {
  TempDir dir;
  std::string data = dir.str() + "/data";
  std::string key, integration;
  {
    DaemonProcess daemon({"--data-dir", data, "--listen", "127.0.0.1:0"});
    int port = daemon.wait_ready();
    ASSERT_GT(port, 0) << daemon.err();
    std::string banner = daemon.out();
    integration = banner_value(banner, "  Integration-ID: ");
    key = banner_value(banner, "  Authorization: Token ");
    EXPECT_EQ(key.size(), 40u);
    EXPECT_NE(banner.find("curl -H 'Authorization: Token " + key + "'"), std::string::npos) << banner;

    HttpClient http(static_cast<std::uint16_t>(port));
    auto res = http.request(http::verb::get, "/v2/webhooks/", "",
                            {{"Authorization", "Token " + key}, {"Integration-ID", integration}});
    EXPECT_EQ(res.status, 200) << res.body;

    // A second daemon on the same data directory fails at once, saying why.
    DaemonProcess second({"--data-dir", data, "--listen", "127.0.0.1:0"});
    EXPECT_EQ(second.wait(), 1);
    EXPECT_NE(second.err().find("in use"), std::string::npos) << second.err();

    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait(), 0) << daemon.err();
  }
  DaemonProcess again({"--data-dir", data, "--listen", "127.0.0.1:0"});
  ASSERT_GT(again.wait_ready(), 0);
  EXPECT_EQ(again.out().find("Integration-ID"), std::string::npos);  // no second bootstrap
  again.signal(SIGINT);
  EXPECT_EQ(again.wait(), 0);
}

// A publish whose first bytes arrived before SIGTERM is received whole, stored and answered, and
// only then is its connection closed; an idle connection is closed at once.
TEST(Cli, SigtermAnswersAPublishItHadBegunToReceive) {
  TempDir dir;
  std::vector<std::string> args = {"--data-dir", dir.str() + "/data", "--listen", "127.0.0.1:0"};
  auto daemon = std::make_unique<DaemonProcess>(args);
  int port = daemon->wait_ready();
  ASSERT_GT(port, 0) << daemon->err();
  std::string key = banner_value(daemon->out(), "  Authorization: Token ");
  std::string integration = banner_value(daemon->out(), "  Integration-ID: ");

  auto in_progress = [port] {
    HttpClient http(static_cast<std::uint16_t>(port));
    return metric_sample(http.request(http::verb::get, "/metrics").body, "hookd_api_requests_in_progress");
  };
  RawConnection idle(static_cast<std::uint16_t>(port));
  RawConnection publisher(static_cast<std::uint16_t>(port));
  const json::object event{{"id", "evt-sigterm"}, {"type", "Payout.created"}, {"data", {{"n", 1}}}};
  std::string body = json::serialize(event);
  ASSERT_FALSE(publisher.send("POST /v2/events/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token " + key +
                              "\r\nIntegration-ID: " + integration +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body.substr(0, body.size() / 2)));
  ASSERT_TRUE(wait_until([&] { return in_progress() >= 2; }));  // the publish and the metrics request

  daemon->signal(SIGTERM);
  EXPECT_TRUE(idle.closed_by_peer());
  ASSERT_FALSE(publisher.send(body.substr(body.size() / 2)));
  std::string answer = publisher.read_all(std::chrono::seconds(10));
  EXPECT_EQ(answer.rfind("HTTP/1.1 202 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"id\":\"evt-sigterm\""), std::string::npos) << answer;
  EXPECT_TRUE(publisher.closed());
  EXPECT_EQ(daemon->wait(), 0) << daemon->err();

  // Stored: the same publish after a restart answers 200 with the event already there.
  daemon = std::make_unique<DaemonProcess>(args);
  port = daemon->wait_ready();
  ASSERT_GT(port, 0) << daemon->err();
  auto again = ApiClient(static_cast<std::uint16_t>(port), key, integration).post("/v2/events/", event);
  EXPECT_EQ(again.status, 200) << again.body;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0);
}

TEST(Cli, AdminCommandsWorkOnAStoppedDaemonsStore) {
  TempDir dir;
  std::string data = dir.str() + "/data";
  auto created = run_hookd({"integration", "create", "--data-dir", data, "--name", "Acme", "--id", "acme"});
  EXPECT_EQ(created.exit_code, 1);  // no data directory yet: nothing made by accident
  {
    DaemonProcess daemon({"--data-dir", data, "--listen", "127.0.0.1:0"});
    ASSERT_GT(daemon.wait_ready(), 0);
    daemon.signal(SIGTERM);
    ASSERT_EQ(daemon.wait(), 0);
  }
  created = run_hookd({"integration", "create", "--data-dir", data, "--name", "Acme", "--id", "acme"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(json::parse(created.out), (json::object{{"id", "acme"}, {"name", "Acme"}}));
  auto key = run_hookd({"key", "create", "--data-dir", data, "--integration", "acme", "--scope", "manage"});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto key_json = json::parse(key.out);
  EXPECT_EQ(key_json.at("scopes"), (json::array{"manage"}));
  auto listed = run_hookd({"integration", "list"}, {{"HOOKD_DATA_DIR", data}});  // data_dir from the environment
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out).as_array().size(), 2u);

  // The key made offline works once the daemon runs.
  DaemonProcess daemon({"--data-dir", data, "--listen", "127.0.0.1:0"});
  int port = daemon.wait_ready();
  ASSERT_GT(port, 0);
  HttpClient http(static_cast<std::uint16_t>(port));
  auto res = http.request(http::verb::get, "/v2/webhooks/", "",
                          {{"Authorization", "Token " + std::string(key_json.at("key").as_string())},
                           {"Integration-ID", "acme"}});
  EXPECT_EQ(res.status, 200);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(), 0);
}

TEST(Cli, ServeReadsAConfigFileAndLogsJson) {
  TempDir dir;
  std::string config = dir.str() + "/hookd.toml";
  std::ofstream(config) << "data_dir = \"" << dir.str() << "/data\"\n[api]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\n";
  DaemonProcess daemon({"--config", config});
  ASSERT_GT(daemon.wait_ready(), 0) << daemon.err();
  std::string first_line = daemon.err().substr(0, daemon.err().find('\n'));
  boost::system::error_code ec;
  auto line = json::parse(first_line, ec);
  ASSERT_FALSE(ec) << first_line;
  EXPECT_EQ(line.at("level"), "info");
  EXPECT_TRUE(line.as_object().contains("ts"));
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(), 0);
}

}  // namespace
}  // namespace hookd::test

namespace hookd::test {
namespace {

TEST(Cli, BackupWhileRunningRestoresEverything) {
  TempDir dir;
  std::string data = dir.str() + "/data";
  auto first = std::make_unique<DaemonProcess>(std::vector<std::string>{"--data-dir", data, "--listen", "127.0.0.1:0"});
  int first_port = first->wait_ready();
  ASSERT_GT(first_port, 0) << first->err();
  std::string key = banner_value(first->out(), "  Authorization: Token ");
  std::string integration = banner_value(first->out(), "  Integration-ID: ");
  ApiClient first_api(static_cast<std::uint16_t>(first_port), key, integration);
  auto created = first_api.post("/v2/webhooks/", json::object{{"id", "kept"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}});
  ASSERT_EQ(created.status, 201);
  // An event big enough for the events' blob files, which it is in once the restart flushed it.
  json::object data_object{{"pad", std::string(2000, 'x')}};
  auto published = first_api.post("/v2/events/", json::object{{"id", "evt-kept"}, {"type", "Payout.created"}, {"data", data_object}});
  ASSERT_EQ(published.status, 202);
  first->signal(SIGTERM);
  ASSERT_EQ(first->wait(), 0);
  first.reset();

  DaemonProcess daemon({"--data-dir", data, "--listen", "127.0.0.1:0"});
  ASSERT_GT(daemon.wait_ready(), 0) << daemon.err();

  auto backup = run_hookd({"backup", "--data-dir", data, "--to", dir.str() + "/backup"});  // through the socket
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_EQ(json::parse(backup.out).at("backup"), json::value(dir.str() + "/backup"));
  auto again = run_hookd({"backup", "--data-dir", data, "--to", dir.str() + "/backup"});
  EXPECT_EQ(again.exit_code, 1);  // never over an existing directory
  daemon.signal(SIGTERM);
  ASSERT_EQ(daemon.wait(), 0);

  DaemonProcess restored({"--data-dir", dir.str() + "/backup", "--listen", "127.0.0.1:0"});
  int restored_port = restored.wait_ready();
  ASSERT_GT(restored_port, 0) << restored.err();
  EXPECT_EQ(restored.out().find("Integration-ID"), std::string::npos);  // not a fresh store
  ApiClient from_backup(static_cast<std::uint16_t>(restored_port), key, integration);
  EXPECT_EQ(from_backup.get("/v2/webhooks/kept/").json(), created.json());
  auto event = from_backup.get("/v2/events/evt-kept/");
  ASSERT_EQ(event.status, 200);
  EXPECT_EQ(event.json().at("data"), json::value(data_object));
  restored.signal(SIGTERM);
  EXPECT_EQ(restored.wait(), 0);
}

}  // namespace
}  // namespace hookd::test

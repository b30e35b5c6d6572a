// Hostile and malformed input on the API listener (oversized, flooded, garbage, ambiguous lengths,
// slow or idle clients, too many connections): every case gets a clear answer or a closed
// connection, nothing is stored, and the server keeps serving others.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string request_head(const TestDaemon& d, const std::string& extra) {
  return "POST /v2/webhooks/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token " + d.key() +
         "\r\nIntegration-ID: " + d.integration() + "\r\n" + extra;
}

// True once a new connection is closed without an answer (the connection cap is reached).
bool wait_for_refusal(std::uint16_t port) {
  return wait_until([&] {
    RawConnection probe(port);
    probe.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return probe.read_all(2s).empty();
  });
}

bool wait_until_serving(std::uint16_t port) {
  return wait_until([&] {
    try {
      return HttpClient(port).request(http::verb::get, "/healthz").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  });
}

class LimitsTest : public ::testing::Test {
 protected:
  TestDaemon daemon{[](Settings& s) {
    s.api.max_body_bytes = 4096;
    s.api.read_timeout_ms = 500;
    s.api.idle_timeout_ms = 1000;
    s.api.max_connections = 8;
  }};
  ApiClient api = daemon.client();
  bool still_serving() { return api.get("/v2/webhooks/").status == 200; }
};

TEST_F(LimitsTest, MalformedJsonIs400WithParseError) {
  std::vector<std::string> bodies = {"{bad", "", "{\"url\": }", std::string(4000, '['), "{\"url\": \"\xff\xfe\"}"};
  for (const auto& body : bodies) {
    auto res = api.call(http::verb::post, "/v2/webhooks/", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(res.status, 400) << body.substr(0, 20);
    std::string detail(res.json().at("detail").as_string());
    EXPECT_EQ(detail.rfind("JSON parse error - ", 0), 0u) << detail;
  }
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 0);
}

TEST_F(LimitsTest, DeeplyNestedJsonIsRefused) {
  std::string nested = "{\"url\":\"https://a.example/\",\"events\":[\"Payout.created\"],\"metadata\":";
  for (int i = 0; i < 200; ++i) nested += "{\"a\":";  // under the body limit, over the depth limit
  nested += "1";
  for (int i = 0; i < 200; ++i) nested += "}";
  nested += "}";
  auto res = api.call(http::verb::post, "/v2/webhooks/", nested, {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(std::string(res.json().at("detail").as_string()).rfind("JSON parse error - ", 0), 0u);
  EXPECT_TRUE(still_serving());
}

TEST_F(LimitsTest, HugeNumbersAndInvalidUtf8DoNotBreakAnything) {
  auto res = api.call(http::verb::post, "/v2/webhooks/",
                      "{\"url\":\"https://a.example/\",\"events\":[\"Payout.created\"],\"metadata\":{\"n\":1e999999}}",
                      {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(res.json(), (json::object{{"detail", "JSON parse error - number out of range"}}));
  auto big = api.call(http::verb::post, "/v2/webhooks/",
                      "{\"url\":\"https://a.example/\",\"events\":[\"Payout.created\"],\"metadata\":{\"n\":123456789012345678901234567890}}",
                      {{"Content-Type", "application/json"}});
  EXPECT_EQ(big.status, 201) << big.body;  // stored as a double, as JSON allows
  EXPECT_TRUE(still_serving());
}

TEST_F(LimitsTest, WrongContentTypeIs415) {
  auto res = api.call(http::verb::post, "/v2/webhooks/", "url=x", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(res.status, 415);
  EXPECT_EQ(res.json(), (json::object{{"detail", "Unsupported media type \"text/plain\" in request."}}));
  auto none = api.call(http::verb::post, "/v2/webhooks/", "{}", {});
  EXPECT_EQ(none.status, 415);
}

// Inputs the fuzzers of tests/fuzz found: bytes that are not UTF-8 reaching a JSON answer or the store.
TEST_F(LimitsTest, BytesThatAreNotUtf8NeverReachAnAnswerOrTheStore) {
  const Headers form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  auto webhook = api.call(http::verb::post, "/v2/webhooks/",
                          "url=https%3A%2F%2Fa.example%2F&events=Payout.created&metadata[k]=%C0%AF", form);
  EXPECT_EQ(webhook.status, 400) << webhook.body;
  EXPECT_EQ(webhook.json(), (json::object{{"detail", "Form parse error - invalid UTF-8."}}));
  auto event = api.call(http::verb::post, "/v2/events/", "id=e%8C&type=Payout.created&data=%7B%7D", form);
  EXPECT_EQ(event.status, 400) << event.body;
  auto encoded = api.call(http::verb::post, "/v2/events/", "id=%E2%82%AC&type=Payout.created&data=%7B%7D", form);
  EXPECT_EQ(encoded.status, 202) << encoded.body;  // well-formed UTF-8 (the euro sign) is fine
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 0);

  auto media = api.call(http::verb::post, "/v2/webhooks/", "{}", {{"Content-Type", "text/\xc0\xdf"}});
  EXPECT_EQ(media.status, 415);
  EXPECT_EQ(media.json(), (json::object{{"detail", "Unsupported media type \"text/??\" in request."}})) << media.body;

  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(api.post("/v2/webhooks/", {{"url", "https://a.example/"}, {"events", {"Payout.created"}}}).status, 201);
  auto page = api.get("/v2/webhooks/?page_size=1", {{"Host", "bad\xff host"}});
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(std::string(page.json().at("next").as_string()).rfind("http://localhost/v2/webhooks/?", 0), 0u) << page.body;
}

TEST_F(LimitsTest, OversizedBodyIs413ByContentLengthAndByChunks) {
  std::string big(5000, 'x');
  auto res = api.call(http::verb::post, "/v2/webhooks/", big, {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 413);
  EXPECT_TRUE(res.json().as_object().contains("detail"));

  RawConnection chunked(daemon.port());
  chunked.send(request_head(daemon, "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 5; ++i) chunked.send("3e8\r\n" + std::string(1000, ' ') + "\r\n");
  std::string answer = chunked.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 80);
  EXPECT_TRUE(still_serving());
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 0);
}

TEST_F(LimitsTest, HeaderFloodIs431) {
  std::string flood;
  for (int i = 0; i < 400; ++i) flood += "X-Flood-" + std::to_string(i) + ": " + std::string(60, 'f') + "\r\n";
  RawConnection conn(daemon.port());
  conn.send("GET /v2/webhooks/ HTTP/1.1\r\nHost: localhost\r\n" + flood + "\r\n");
  std::string answer = conn.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 80);
  EXPECT_TRUE(still_serving());
}

TEST_F(LimitsTest, GarbageIs400AndClosed) {
  RawConnection conn(daemon.port());
  conn.send("\x16\x03\x01 this is not HTTP\r\n\r\n");
  std::string answer = conn.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer.substr(0, 80);
  EXPECT_TRUE(still_serving());
}

// A request whose body length is ambiguous (two lengths, or a length and chunked encoding) is
// refused and its connection closed: a proxy in front that read the other length would otherwise
// see a second request, smuggled inside the first one's body, that hookd handles on its own. Both
// requests would create a webhook; none is created.
TEST_F(LimitsTest, AmbiguousBodyLengthIs400AndClosed) {
  std::string body = R"({"url": "https://example.com/hook", "events": ["Payout.created"]})";
  std::string smuggled = request_head(daemon, "Content-Type: application/json\r\nContent-Length: " +
                                                  std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string type = "Content-Type: application/json\r\n";
  std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  std::string chunked = "Transfer-Encoding: chunked\r\n";
  std::string chunks = (std::ostringstream() << std::hex << body.size()).str() + "\r\n" + body + "\r\n0\r\n\r\n";
  std::string longer = "Content-Length: " + std::to_string(chunks.size() + smuggled.size()) + "\r\n";
  const std::string cases[] = {
      type + length + "Content-Length: " + std::to_string(body.size() + smuggled.size()) + "\r\n\r\n" + body + smuggled,
      type + longer + chunked + "\r\n" + chunks + smuggled,
      type + chunked + longer + "\r\n" + chunks + smuggled,
  };
  for (const auto& rest : cases) {
    RawConnection conn(daemon.port());
    conn.send(request_head(daemon, rest));
    std::string answer = conn.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("Malformed HTTP request."), std::string::npos) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << answer;
    EXPECT_TRUE(conn.closed());
  }
  EXPECT_TRUE(still_serving());
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 0);
}

TEST_F(LimitsTest, SlowClientIsDroppedAfterReadTimeoutWhileOthersAreServed) {
  RawConnection slow(daemon.port());
  std::string request = request_head(daemon, "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  auto started = std::chrono::steady_clock::now();
  bool dropped = false;
  // One byte every 50 ms: the request would take far longer than the 500 ms read timeout.
  for (char c : request) {
    if (slow.send(std::string_view(&c, 1))) {
      dropped = true;
      break;
    }
    EXPECT_TRUE(still_serving());  // others are served meanwhile
    std::this_thread::sleep_for(50ms);
    if (std::chrono::steady_clock::now() - started > 3s) break;
  }
  EXPECT_TRUE(dropped || slow.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 0);
}

TEST_F(LimitsTest, IdleConnectionIsClosedAfterIdleTimeout) {
  RawConnection idle(daemon.port());
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closed_by_peer());
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s);
}

TEST_F(LimitsTest, ConnectionsBeyondTheCapAreClosed) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<RawConnection>(daemon.port()));
  // The server counts a connection once it accepted it; the next one is closed at once.
  EXPECT_TRUE(wait_for_refusal(daemon.port()));
  held.clear();
  EXPECT_TRUE(wait_until_serving(daemon.port()));
}

}  // namespace
}  // namespace hookd::test

// The API over HTTPS with a certificate made by a throwaway CA in the test.
#include <gtest/gtest.h>

#include "tests/support/daemon.hpp"
#include "tests/support/tls_certs.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

TEST(Tls, ApiServesOverHttpsWithVerifiedCertificate) {
  TempDir certs;
  TlsFiles files = make_tls_files(certs.str());
  TestDaemon daemon([&](Settings& s) {
    s.api.tls_cert = files.server_cert;
    s.api.tls_key = files.server_key;
  });
  ApiClient api = daemon.client(files.ca_cert);
  auto created = api.post("/v2/webhooks/", json::value{{"url", "https://a.example/"}, {"events", {"Payout.created"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto list = api.get("/v2/webhooks/?page_size=1");
  EXPECT_EQ(list.json().at("count"), 1);
  EXPECT_EQ(api.get("/v2/webhooks/" + std::string(created.json().at("id").as_string()) + "/").json(), created.json());

  // Pagination links say https.
  api.post("/v2/webhooks/", json::value{{"url", "https://b.example/"}, {"events", {"Payout.created"}}});
  std::string next(api.get("/v2/webhooks/?page_size=1").json().at("next").as_string());
  EXPECT_EQ(next.rfind("https://localhost:", 0), 0u) << next;

  // An answer longer than what a connection keeps of its answer buffer (16 KiB) arrives whole over
  // TLS, and the next request is answered.
  for (int i = 0; i < 80; ++i) {
    std::string url = "https://c" + std::to_string(i) + ".example/" + std::string(100, 'p');
    ASSERT_EQ(api.post("/v2/webhooks/", json::value{{"url", url}, {"events", {"Payout.created"}}}).status, 201);
  }
  auto all = api.get("/v2/webhooks/?page_size=100");
  ASSERT_EQ(all.status, 200);
  EXPECT_GT(all.body.size(), std::size_t{16} << 10);
  EXPECT_EQ(all.json().at("results").as_array().size(), 82u);
  EXPECT_EQ(api.get("/v2/webhooks/?page_size=1").json().at("count"), 82);

  // Plain HTTP on the TLS port gets no answer.
  HttpClient plain(daemon.port());
  EXPECT_THROW(plain.request(http::verb::get, "/healthz"), std::exception);

  // A client that checks for another host name refuses the certificate.
  HttpClient wrong_host(daemon.port(), files.ca_cert, "other.example");
  EXPECT_THROW(wrong_host.request(http::verb::get, "/healthz"), std::exception);
}

TEST(Tls, BadCertificateFileStopsTheStartWithItsName) {
  TempDir dir;
  Settings s;
  s.data_dir = dir.str() + "/data";
  s.api.listen = "127.0.0.1:0";
  s.api.tls_cert = dir.str() + "/missing.pem";
  s.api.tls_key = dir.str() + "/missing.key";
  App app(s);
  std::ostringstream out;
  try {
    app.start(out);
    FAIL() << "started without a certificate";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hookd::test

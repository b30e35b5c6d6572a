// Tenancy and authentication (SPEC §1): keys, scopes, integrations, revocation, through the real
// `hookd` admin commands talking to the running daemon over its socket.
#include <gtest/gtest.h>

#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

const json::value kWebhook = {{"url", "https://a.example/"}, {"events", {"Payout.created"}}};

class AuthTest : public ::testing::Test {
 protected:
  // Runs a hookd admin command against this daemon; returns its JSON output.
  json::value admin(std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(daemon.data_dir());
    auto r = run_hookd(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  std::string new_integration(const std::string& id) {
    return std::string(admin({"integration", "create", "--name", "Acme " + id, "--id", id}).at("id").as_string());
  }
  json::value new_key(const std::string& integration, std::vector<std::string> scopes = {}) {
    std::vector<std::string> args = {"key", "create", "--integration", integration};
    for (auto& s : scopes) args.insert(args.end(), {"--scope", s});
    return admin(args);
  }

  TestDaemon daemon;
};

TEST_F(AuthTest, MissingAndUnknownKeysAre401) {
  HttpClient http(daemon.port());
  auto none = http.request(http::verb::get, "/v2/webhooks/", "", {{"Integration-ID", daemon.integration()}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json(), (json::object{{"detail", "Authentication credentials were not provided."}}));
  EXPECT_EQ(none.header("WWW-Authenticate"), "Token");

  auto wrong = http.request(http::verb::get, "/v2/webhooks/", "",
                            {{"Authorization", "Token 0000000000000000000000000000000000000000"},
                             {"Integration-ID", daemon.integration()}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.json(), (json::object{{"detail", "Invalid token."}}));

  auto scheme = http.request(http::verb::get, "/v2/webhooks/", "",
                             {{"Authorization", "Bearer " + daemon.key()}, {"Integration-ID", daemon.integration()}});
  EXPECT_EQ(scheme.status, 401);
}

TEST_F(AuthTest, MissingIntegrationIs400AndHeaderNamesAreCaseInsensitive) {
  HttpClient http(daemon.port());
  auto missing = http.request(http::verb::get, "/v2/webhooks/", "", {{"Authorization", "Token " + daemon.key()}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_TRUE(missing.json().as_object().contains("detail"));

  auto lower = http.request(http::verb::get, "/v2/webhooks/", "",
                            {{"authorization", "token " + daemon.key()}, {"Integration-Id", daemon.integration()}});
  EXPECT_EQ(lower.status, 200) << lower.body;
}

TEST_F(AuthTest, IntegrationsCannotSeeEachOthersWebhooks) {
  std::string other = new_integration("other-co");
  auto other_key = new_key(other);
  ApiClient mine = daemon.client();
  ApiClient theirs(daemon.port(), std::string(other_key.at("key").as_string()), other);

  json::value body = {{"id", "same-id"}, {"url", "https://mine.example/"}, {"events", {"Payout.created"}}};
  ASSERT_EQ(mine.post("/v2/webhooks/", body).status, 201);
  EXPECT_EQ(theirs.get("/v2/webhooks/same-id/").status, 404);
  EXPECT_EQ(theirs.get("/v2/webhooks/").json().at("count"), 0);
  EXPECT_EQ(theirs.del("/v2/webhooks/same-id/").status, 404);
  // Ids are unique per integration only.
  body.as_object()["url"] = "https://theirs.example/";
  ASSERT_EQ(theirs.post("/v2/webhooks/", body).status, 201);
  EXPECT_EQ(mine.get("/v2/webhooks/same-id/").json().at("url"), "https://mine.example/");
  EXPECT_EQ(theirs.get("/v2/webhooks/same-id/").json().at("url"), "https://theirs.example/");

  // A key may not act for an integration it was not given.
  ApiClient crossing(daemon.port(), std::string(other_key.at("key").as_string()), daemon.integration());
  auto denied = crossing.get("/v2/webhooks/");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.json(), (json::object{{"detail", "You do not have permission to perform this action."}}));
}

TEST_F(AuthTest, KeyForSeveralIntegrations) {
  std::string second = new_integration("second");
  auto key = admin({"key", "create", "--integration", daemon.integration(), "--integration", second});
  EXPECT_EQ(key.at("integrations"), (json::array{json::string(daemon.integration()), "second"}));
  EXPECT_EQ(key.at("scopes"), (json::array{"manage", "publish"}));
  for (const auto& integration : {daemon.integration(), second}) {
    ApiClient api(daemon.port(), std::string(key.at("key").as_string()), integration);
    EXPECT_EQ(api.get("/v2/webhooks/").status, 200);
  }
}

TEST_F(AuthTest, KeyWithoutManageScopeIs403) {
  auto publish_only = new_key(daemon.integration(), {"publish"});
  EXPECT_EQ(publish_only.at("scopes"), (json::array{"publish"}));
  ApiClient api(daemon.port(), std::string(publish_only.at("key").as_string()), daemon.integration());
  auto res = api.get("/v2/webhooks/");
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(res.json(), (json::object{{"detail", "You do not have permission to perform this action."}}));
  EXPECT_EQ(api.post("/v2/webhooks/", kWebhook).status, 403);
  EXPECT_EQ(daemon.client().get("/v2/webhooks/").json().at("count"), 0);
}

TEST_F(AuthTest, RevokedKeyIs401AndKeysAreListedWithoutSecrets) {
  auto key = new_key(daemon.integration(), {"manage"});
  std::string secret(key.at("key").as_string());
  EXPECT_EQ(secret.size(), 40u);  // 160 random bits, hex
  ApiClient api(daemon.port(), secret, daemon.integration());
  EXPECT_EQ(api.get("/v2/webhooks/").status, 200);

  auto listed = admin({"key", "list"});
  ASSERT_EQ(listed.as_array().size(), 2u);  // the bootstrap key and this one
  for (const auto& k : listed.as_array()) EXPECT_FALSE(k.as_object().contains("key"));

  auto revoked = admin({"key", "revoke", std::string(key.at("id").as_string())});
  EXPECT_EQ(revoked.at("revoked"), true);
  EXPECT_EQ(api.get("/v2/webhooks/").status, 401);
  EXPECT_EQ(admin({"key", "list"}).as_array().size(), 1u);
  EXPECT_EQ(daemon.client().get("/v2/webhooks/").status, 200);  // other keys unaffected
}

TEST_F(AuthTest, AdminCommandErrorsAreClear) {
  auto bad_scope = run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", daemon.integration(),
                              "--scope", "root"});
  EXPECT_EQ(bad_scope.exit_code, 1);
  EXPECT_NE(bad_scope.err.find("unknown scope root"), std::string::npos) << bad_scope.err;
  auto no_integration = run_hookd({"key", "create", "--data-dir", daemon.data_dir(), "--integration", "nope"});
  EXPECT_EQ(no_integration.exit_code, 1);
  EXPECT_NE(no_integration.err.find("no integration nope"), std::string::npos);
  auto dup = run_hookd({"integration", "create", "--data-dir", daemon.data_dir(), "--name", "x", "--id",
                        daemon.integration()});
  EXPECT_EQ(dup.exit_code, 1);
  auto bad_id = run_hookd({"integration", "create", "--data-dir", daemon.data_dir(), "--name", "x", "--id", "a/b"});
  EXPECT_EQ(bad_id.exit_code, 1);
  auto usage = run_hookd({"key", "revoke", "--data-dir", daemon.data_dir()});
  EXPECT_EQ(usage.exit_code, 2);
  auto listed = admin({"integration", "list"});
  EXPECT_EQ(listed.as_array().size(), 1u);
}

}  // namespace
}  // namespace hookd::test

// The Webhooks API of the seed, end to end over HTTP against a real daemon and store.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/daemon.hpp"

namespace hookd::test {
namespace {

namespace json = boost::json;

json::value webhook_body(std::string url = "https://jobmatchr.se/webhooks/payouts/",
                         json::array events = {"Payout.created"}) {
  return json::object{{"url", url}, {"events", events}};
}

class WebhooksApiTest : public ::testing::Test {
 protected:
  TestDaemon daemon;
  ApiClient api = daemon.client();
};

TEST_F(WebhooksApiTest, CreateAppliesTheDocumentedDefaults) {
  auto res = api.post("/v2/webhooks/", webhook_body());
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(res.header("Content-Type"), "application/json");
  auto o = res.json().as_object();
  EXPECT_TRUE(std::regex_match(std::string(o["id"].as_string()),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_TRUE(std::regex_match(std::string(o["secret_key"].as_string()), std::regex("[a-z0-9]{32}")));
  EXPECT_EQ(o["url"], "https://jobmatchr.se/webhooks/payouts/");
  EXPECT_EQ(o["events"], (json::array{"Payout.created"}));
  EXPECT_EQ(o["metadata"], json::object{});
  // The object has exactly the documented fields, in the documented order.
  std::vector<std::string> keys;
  for (auto& kv : o) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "url", "events", "secret_key", "metadata"}));
}

TEST_F(WebhooksApiTest, CreateWithClientFieldsAndRetrieve) {
  json::value body = {{"id", "481272"},
                      {"url", "https://jobmatchr.se/webhooks/payouts/"},
                      {"events", {"Payout.notified", "Payout.accepted", "Payout.notified"}},
                      {"secret_key", "c1329a085d65f7757838df5920fdcc9a"},
                      {"metadata", {{"team", "payouts"}, {"n", 3}}},
                      {"unknown_field", "ignored"}};
  auto created = api.post("/v2/webhooks/", body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json().at("events"), (json::array{"Payout.notified", "Payout.accepted"}));  // folded
  EXPECT_FALSE(created.json().as_object().contains("unknown_field"));

  auto got = api.get("/v2/webhooks/481272/");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());
  EXPECT_EQ(api.get("/v2/webhooks/481272").json(), created.json());  // trailing slash optional
  EXPECT_EQ(got.json().at("metadata"), (json::object{{"team", "payouts"}, {"n", 3}}));
}

TEST_F(WebhooksApiTest, DuplicateClientIdIs400AndChangesNothing) {
  json::value first = {{"id", "dup"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}};
  ASSERT_EQ(api.post("/v2/webhooks/", first).status, 201);
  json::value second = {{"id", "dup"}, {"url", "https://b.example/"}, {"events", {"Invoice.paid"}}};
  auto res = api.post("/v2/webhooks/", second);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.json(), (json::object{{"id", {"webhook with this id already exists."}}}));
  EXPECT_EQ(api.get("/v2/webhooks/dup/").json().at("url"), "https://a.example/");
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("count"), 1);
}

TEST_F(WebhooksApiTest, PatchChangesOnlyGivenFields) {
  auto created = api.post("/v2/webhooks/", json::value{{"id", "481272"},
                                                       {"url", "https://jobmatchr.se/webhooks/payouts/"},
                                                       {"events", {"Payout.created"}},
                                                       {"metadata", {{"a", 1}}}})
                     .json();
  auto res = api.patch("/v2/webhooks/481272/", {{"events", {"Payout.created", "Payout.notified"}}});
  ASSERT_EQ(res.status, 200) << res.body;
  auto o = res.json().as_object();
  EXPECT_EQ(o["events"], (json::array{"Payout.created", "Payout.notified"}));
  EXPECT_EQ(o["url"], created.at("url"));
  EXPECT_EQ(o["secret_key"], created.at("secret_key"));
  EXPECT_EQ(o["metadata"], created.at("metadata"));
  EXPECT_EQ(api.get("/v2/webhooks/481272/").json(), res.json());
}

TEST_F(WebhooksApiTest, PatchCanRenameToAFreeId) {
  api.post("/v2/webhooks/", json::value{{"id", "old"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}});
  api.post("/v2/webhooks/", json::value{{"id", "taken"}, {"url", "https://b.example/"}, {"events", {"Payout.created"}}});

  auto clash = api.patch("/v2/webhooks/old/", {{"id", "taken"}});
  EXPECT_EQ(clash.status, 400);
  EXPECT_EQ(clash.json(), (json::object{{"id", {"webhook with this id already exists."}}}));

  auto renamed = api.patch("/v2/webhooks/old/", {{"id", "new"}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json().at("id"), "new");
  EXPECT_EQ(api.get("/v2/webhooks/old/").status, 404);
  EXPECT_EQ(api.get("/v2/webhooks/new/").json().at("url"), "https://a.example/");
  // The renamed webhook keeps its place in the list (oldest first).
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("results").at(0).at("id"), "new");
}

TEST_F(WebhooksApiTest, PutReplacesAndResetsOmittedFields) {
  auto created = api.post("/v2/webhooks/", json::value{{"id", "481272"},
                                                       {"url", "https://jobmatchr.se/webhooks/payouts/"},
                                                       {"events", {"Payout.created"}},
                                                       {"metadata", {{"a", 1}}}})
                     .json();
  auto missing = api.put("/v2/webhooks/481272/", json::object{});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json(),
            (json::object{{"url", {"This field is required."}}, {"events", {"This field is required."}}}));

  auto res = api.put("/v2/webhooks/481272/", webhook_body("https://jobmatchr.se/webhooks/payruns/", {"Payrun.created"}));
  ASSERT_EQ(res.status, 200) << res.body;
  auto o = res.json().as_object();
  EXPECT_EQ(o["id"], "481272");
  EXPECT_EQ(o["url"], "https://jobmatchr.se/webhooks/payruns/");
  EXPECT_EQ(o["events"], (json::array{"Payrun.created"}));
  EXPECT_NE(o["secret_key"], created.at("secret_key"));  // a new random secret
  EXPECT_TRUE(std::regex_match(std::string(o["secret_key"].as_string()), std::regex("[a-z0-9]{32}")));
  EXPECT_EQ(o["metadata"], json::object{});
}

TEST_F(WebhooksApiTest, DeleteAnswers204EmptyThen404) {
  api.post("/v2/webhooks/", json::value{{"id", "gone"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}});
  auto res = api.del("/v2/webhooks/gone/");
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.body, "");
  EXPECT_EQ(api.get("/v2/webhooks/gone/").status, 404);
  auto again = api.del("/v2/webhooks/gone/");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.json(), (json::object{{"detail", "Not found."}}));
}

TEST_F(WebhooksApiTest, ValidationMessagesHaveTheDocumentedShape) {
  struct Case {
    json::value body;
    json::value errors;
  };
  std::string long_url = "https://example.com/" + std::string(2100, 'a');
  std::vector<Case> cases = {
      {json::object{}, {{"url", {"This field is required."}}, {"events", {"This field is required."}}}},
      {{{"url", "not a url"}, {"events", {"Payout.created"}}}, {{"url", {"Enter a valid URL."}}}},
      {{{"url", "ftp://example.com/"}, {"events", {"Payout.created"}}}, {{"url", {"Enter a valid URL."}}}},
      {{{"url", "http:///path"}, {"events", {"Payout.created"}}}, {{"url", {"Enter a valid URL."}}}},
      {{{"url", long_url}, {"events", {"Payout.created"}}},
       {{"url", {"Ensure this field has no more than 2048 characters."}}}},
      {{{"url", "https://a.example/"}, {"events", {"X.y"}}}, {{"events", {"\"X.y\" is not a valid choice."}}}},
      {{{"url", "https://a.example/"}, {"events", json::array{}}}, {{"events", {"This list may not be empty."}}}},
      {{{"url", "https://a.example/"}, {"events", "Payout.created"}},
       {{"events", {"Expected a list of items but got type \"str\"."}}}},
      {{{"url", "https://a.example/"}, {"events", nullptr}}, {{"events", {"This field may not be null."}}}},
      {{{"url", "https://a.example/"}, {"events", {"Payout.created"}}, {"metadata", "x"}},
       {{"metadata", {"Expected a dictionary of items but got type \"str\"."}}}},
      {{{"url", "https://a.example/"}, {"events", {"Payout.created"}}, {"id", ""}},
       {{"id", {"This field may not be blank."}}}},
      {{{"url", "https://a.example/"}, {"events", {"Payout.created"}}, {"id", std::string(256, 'x')}},
       {{"id", {"Ensure this field has no more than 255 characters."}}}},
      {{{"url", "https://a.example/"}, {"events", {"Payout.created"}}, {"secret_key", json::array{}}},
       {{"secret_key", {"Not a valid string."}}}},
  };
  for (const auto& c : cases) {
    auto res = api.post("/v2/webhooks/", c.body);
    EXPECT_EQ(res.status, 400) << json::serialize(c.body);
    EXPECT_EQ(res.json(), c.errors) << json::serialize(c.body) << " -> " << res.body;
  }
  auto list = api.get("/v2/webhooks/");
  EXPECT_EQ(list.json().at("count"), 0);  // nothing invalid was stored
}

TEST_F(WebhooksApiTest, NonObjectBodyIsANonFieldError) {
  auto res = api.call(http::verb::post, "/v2/webhooks/", "[1,2]", {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.json(),
            (json::object{{"non_field_errors", {"Invalid data. Expected a dictionary, but got list."}}}));
}

TEST_F(WebhooksApiTest, PaginationFollowsNextToTheEnd) {
  for (int i = 0; i < 60; ++i) {
    auto res = api.post("/v2/webhooks/", json::value{{"id", "w" + std::to_string(i)},
                                                     {"url", "https://a.example/" + std::to_string(i)},
                                                     {"events", {"Payout.created"}}});
    ASSERT_EQ(res.status, 201);
  }
  std::vector<std::string> ids;
  std::string next = "/v2/webhooks/?page_size=25&keep=me";
  std::string base = "http://localhost:" + std::to_string(daemon.port());
  int pages = 0;
  json::value previous = nullptr;
  while (!next.empty()) {
    auto res = api.get(next);
    ASSERT_EQ(res.status, 200) << next << " " << res.body;
    auto o = res.json().as_object();
    EXPECT_EQ(o["count"], 60);
    EXPECT_EQ(o["previous"].is_null(), pages == 0);
    for (auto& w : o["results"].as_array()) ids.emplace_back(w.at("id").as_string());
    previous = o["previous"];
    if (o["next"].is_null()) break;
    std::string link(o["next"].as_string());
    ASSERT_EQ(link.rfind(base, 0), 0u) << link;  // absolute
    EXPECT_NE(link.find("keep=me"), std::string::npos) << link;  // other parameters kept
    next = link.substr(base.size());
    ++pages;
  }
  EXPECT_EQ(pages, 2);  // pages 1 and 2 had a next; page 3 is the last
  ASSERT_EQ(ids.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(ids[static_cast<std::size_t>(i)], "w" + std::to_string(i));  // oldest first
  EXPECT_EQ(previous, json::value(base + "/v2/webhooks/?page_size=25&keep=me&page=2"));

  auto page2 = api.get("/v2/webhooks/?page=2&page_size=25").json().as_object();
  EXPECT_EQ(page2["previous"], json::value(base + "/v2/webhooks/?page_size=25"));  // page 1 drops the parameter
  EXPECT_EQ(api.get("/v2/webhooks/").json().at("results").as_array().size(), 25u);  // default page size
  EXPECT_EQ(api.get("/v2/webhooks/?page_size=1000").json().at("results").as_array().size(), 60u);

  for (std::string bad : {"/v2/webhooks/?page=4&page_size=25", "/v2/webhooks/?page=0", "/v2/webhooks/?page=abc"}) {
    auto res = api.get(bad);
    EXPECT_EQ(res.status, 404) << bad;
    EXPECT_EQ(res.json(), (json::object{{"detail", "Invalid page."}})) << bad;
  }
}

TEST_F(WebhooksApiTest, PageSizeIsCappedAt100) {
  for (int i = 0; i < 101; ++i)
    ASSERT_EQ(api.post("/v2/webhooks/", webhook_body()).status, 201);
  auto o = api.get("/v2/webhooks/?page_size=500").json().as_object();
  EXPECT_EQ(o["results"].as_array().size(), 100u);
  EXPECT_FALSE(o["next"].is_null());
}

TEST_F(WebhooksApiTest, FormEncodedCreateAndUpdate) {
  std::string form =
      "id=form1&url=https%3A%2F%2Fjobmatchr.se%2Fwebhooks%2Fpayouts%2F&events=Payout.created&events=Payout.notified"
      "&metadata=%7B%22team%22%3A%20%22pay%22%7D&ignored=1";
  auto res = api.call(http::verb::post, "/v2/webhooks/", form, {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(res.status, 201) << res.body;
  EXPECT_EQ(res.json().at("url"), "https://jobmatchr.se/webhooks/payouts/");
  EXPECT_EQ(res.json().at("events"), (json::array{"Payout.created", "Payout.notified"}));
  EXPECT_EQ(res.json().at("metadata"), (json::object{{"team", "pay"}}));

  // Indexed lists and keyed objects, as other client libraries send them.
  std::string patch = "events%5B1%5D=Invoice.paid&events%5B0%5D=Invoice.created&metadata%5Bowner%5D=ann+b";
  auto updated = api.call(http::verb::patch, "/v2/webhooks/form1/", patch,
                          {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}});
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json().at("events"), (json::array{"Invoice.created", "Invoice.paid"}));
  EXPECT_EQ(updated.json().at("metadata"), (json::object{{"owner", "ann b"}}));
  EXPECT_EQ(updated.json().at("url"), "https://jobmatchr.se/webhooks/payouts/");

  auto invalid = api.call(http::verb::post, "/v2/webhooks/", "url=nope",
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.json(), (json::object{{"url", {"Enter a valid URL."}}, {"events", {"This field is required."}}}));
}

TEST_F(WebhooksApiTest, IdsWithPathCharactersAreAddressablePercentEncoded) {
  auto res = api.post("/v2/webhooks/", json::value{{"id", "a/b c"}, {"url", "https://a.example/"}, {"events", {"Payout.created"}}});
  ASSERT_EQ(res.status, 201);
  auto got = api.get("/v2/webhooks/a%2Fb%20c/");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json().at("id"), "a/b c");
}

TEST_F(WebhooksApiTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto missing = api.get("/v2/nothing/");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json(), (json::object{{"detail", "Not found."}}));

  auto wrong = api.del("/v2/webhooks/");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.json(), (json::object{{"detail", "Method \"DELETE\" not allowed."}}));
  EXPECT_EQ(wrong.header("Allow"), "GET, POST");
  EXPECT_EQ(api.call(http::verb::post, "/v2/webhooks/x/", "{}", {}).header("Allow"), "GET, PUT, PATCH, DELETE");
}

TEST_F(WebhooksApiTest, EverythingSurvivesARestart) {
  auto created = api.post("/v2/webhooks/", json::value{{"id", "keep"}, {"url", "https://a.example/"},
                                                       {"events", {"Payout.created"}}, {"metadata", {{"x", 1}}}});
  ASSERT_EQ(created.status, 201);
  auto replay_key = Headers{{"Idempotency-Key", "restart-1"}};
  auto first = api.post("/v2/webhooks/", webhook_body(), replay_key);
  ASSERT_EQ(first.status, 201);

  daemon.restart();
  ApiClient after = daemon.client();
  EXPECT_EQ(after.get("/v2/webhooks/keep/").json(), created.json());
  EXPECT_EQ(after.get("/v2/webhooks/").json().at("count"), 2);
  auto replay = after.post("/v2/webhooks/", webhook_body(), replay_key);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.header("Idempotent-Replayed"), "true");
  // New webhooks still get fresh places after the restart.
  ASSERT_EQ(after.post("/v2/webhooks/", json::value{{"id", "later"}, {"url", "https://b.example/"}, {"events", {"Payout.created"}}}).status, 201);
  EXPECT_EQ(after.get("/v2/webhooks/").json().at("results").at(2).at("id"), "later");
}

TEST(WebhooksCatalog, EventTypesComeFromSettings) {
  TestDaemon daemon([](Settings& s) { s.events.types = {"Order.placed"}; });
  ApiClient api = daemon.client();
  EXPECT_EQ(api.post("/v2/webhooks/", webhook_body("https://a.example/", {"Order.placed"})).status, 201);
  auto res = api.post("/v2/webhooks/", webhook_body("https://a.example/", {"Payout.created"}));
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.json(), (json::object{{"events", {"\"Payout.created\" is not a valid choice."}}}));
}

}  // namespace
}  // namespace hookd::test

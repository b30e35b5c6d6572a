#include "tests/fuzz/fuzz_api.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "api/admin.hpp"

namespace hookd::fuzz {
namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

void fail(std::string_view what) {
  std::fprintf(stderr, "hookd fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

std::string path_segment(std::string_view id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

FuzzApi& FuzzApi::get() {
  static FuzzApi instance;
  return instance;
}

FuzzApi::FuzzApi() : dir_(std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp") {
  spdlog::set_level(spdlog::level::err);  // only what explains a failure, not every rejected request
  storage::Store::Options options;
  options.path = dir_.str();
  options.min_free_bytes = 0;
  store_ = std::make_unique<storage::Store>(options);
  committer_ = std::make_unique<storage::GroupCommitter>(*store_);

  api::Admin admin(*store_, now_ms);
  auto first = admin.bootstrap();
  if (!first) fail("bootstrap made nothing on an empty store");
  integration_ = first->at("integration").at("id").as_string();
  key_ = first->at("key").at("key").as_string();

  api::EngineHooks hooks;
  hooks.deliveries_created = [](storage::CreatedDeliveries) {};
  hooks.webhook_deleted = [](const std::string&, std::uint64_t) {};
  hooks.retry_delivery = [](const std::string&, const std::string&) { return api::RetryAnswer::NotFound; };
  api::ApiOptions api_options;
  api_options.event_types = {"Payout.created", "Invoice.paid", "Employee.created"};  // a catalog
  api_options.now_ms = now_ms;
  api_options.engine = hooks;
  api_options.metrics = [] { return std::string("# no metrics here\n"); };
  api_ = std::make_unique<api::ApiService>(*store_, *committer_, blocking_.get_executor(), std::move(api_options));

  // A webhook to update, replace and list the deliveries of.
  auto res = send(authorized(http::verb::post, "/v2/webhooks/", "application/json",
                             R"({"url": "https://receiver.example/hook", "events": ["Payout.created"]})"));
  if (res.result() != http::status::created) fail("could not create the fixture webhook");
  webhook_id_ = boost::json::parse(res.body()).at("id").as_string();
}

FuzzApi::~FuzzApi() {
  api_.reset();
  blocking_.join();
  committer_.reset();
  store_.reset();
}

Response FuzzApi::send(Request request) {
  net::io_context io;
  std::optional<Response> answer;
  std::exception_ptr error;
  net::co_spawn(io, api_->handle(std::move(request), api::RequestInfo{}),
                [&](std::exception_ptr e, Response res) {
                  error = e;
                  answer = std::move(res);
                });
  io.run();
  if (error) fail("an exception escaped ApiService::handle");
  if (!answer) fail("ApiService::handle never answered");
  if (answer->result() == http::status::internal_server_error) fail("500: " + answer->body());
  // Every answer in JSON must be JSON a client can parse (well-formed UTF-8 included).
  if (answer->find(http::field::content_type) != answer->end() &&
      (*answer)[http::field::content_type].starts_with("application/json")) {
    boost::system::error_code ec;
    boost::json::parse(answer->body(), ec);
    if (ec) fail("an answer is not JSON: " + ec.message());
  }
  return std::move(*answer);
}

void FuzzApi::authorize(Request& request) const {
  request.set(http::field::authorization, "Token " + key_);
  request.set("Integration-ID", integration_);
}

Request FuzzApi::authorized(http::verb method, std::string_view target, std::string_view content_type,
                            std::string body) const {
  Request request(method, target, 11);
  request.set(http::field::host, "hookd.fuzz");
  authorize(request);
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace hookd::fuzz

#include "api/service.hpp"

#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "api/auth.hpp"
#include "api/errors.hpp"

namespace hookd::api {
namespace {

bool mutating(http::verb v) {
  return v == http::verb::post || v == http::verb::put || v == http::verb::patch || v == http::verb::delete_;
}

std::string base_url(const Request& request, const RequestInfo& info, const std::string& configured) {
  if (!configured.empty()) return configured;
  auto host = request.find(http::field::host);
  std::string authority = host == request.end() || host->value().empty() ? "localhost" : std::string(host->value());
  return (info.tls ? "https://" : "http://") + authority;
}

}  // namespace

ApiService::ApiService(storage::Store& store, net::any_io_executor blocking, ApiOptions options)
    : store_(store),
      blocking_(std::move(blocking)),
      options_(std::move(options)),
      webhooks_(store_, options_.event_types, options_.now_ms),
      idempotency_(store_) {
  using v = http::verb;
  auto health = [](std::string status) {
    return [status](Context&) { return json_response(http::status::ok, {{"status", status}}); };
  };
  router_.add(v::get, "/healthz", health("ok"));
  router_.add(v::get, "/readyz", health("ready"));

  auto manage = [this](Response (WebhooksApi::*fn)(Context&) const) {
    return authenticated(storage::kScopeManage, [this, fn](Context& ctx) { return (webhooks_.*fn)(ctx); });
  };
  router_.add(v::get, "/v2/webhooks/", manage(&WebhooksApi::list));
  router_.add(v::post, "/v2/webhooks/", manage(&WebhooksApi::create));
  router_.add(v::get, "/v2/webhooks/:id/", manage(&WebhooksApi::retrieve));
  router_.add(v::put, "/v2/webhooks/:id/", manage(&WebhooksApi::replace));
  router_.add(v::patch, "/v2/webhooks/:id/", manage(&WebhooksApi::update));
  router_.add(v::delete_, "/v2/webhooks/:id/", manage(&WebhooksApi::destroy));
}

net::awaitable<Response> ApiService::handle(Request request, RequestInfo info) {
  // The lambda refers to this coroutine's own parameters, which live until it resumes.
  co_return co_await async_answer_on(blocking_, [this, &request, &info] { return answer(request, info); },
                                     net::use_awaitable);
}

Response ApiService::answer(const Request& request, const RequestInfo& info) {
  auto target = boost::urls::parse_origin_form(request.target());
  if (!target) return error_response(ApiError::MalformedRequest, "Malformed request target.");
  Context ctx{request, *target, {}, base_url(request, info, options_.public_base_url), {}, nullptr};
  try {
    return router_.route(ctx);
  } catch (const storage::StoreError& e) {
    spdlog::error("store error on {} {}: {}", request.method_string(), request.target(), e.what());
    return error_response(ApiError::Unavailable);
  } catch (const std::exception& e) {
    spdlog::error("error on {} {}: {}", request.method_string(), request.target(), e.what());
    return error_response(ApiError::Internal);
  }
}

Handler ApiService::authenticated(storage::Scope scope, Handler handler) {
  return [this, scope, handler = std::move(handler)](Context& ctx) -> Response {
    auto principal = authenticate(store_, ctx.request, scope);
    if (auto* error = std::get_if<Response>(&principal)) return std::move(*error);
    ctx.integration_id = std::get<Principal>(principal).integration_id;
    if (!mutating(ctx.request.method())) return handler(ctx);

    std::lock_guard lock(write_mutex_);
    storage::Batch batch = store_.batch();
    ctx.batch = &batch;
    auto key = ctx.request.find("Idempotency-Key");
    if (key == ctx.request.end() || ctx.request.method() == http::verb::delete_)
      return commit(batch, handler(ctx));
    Response res = idempotency_.run(ctx.integration_id, key->value(), ctx.request, options_.now_ms(), batch,
                                    [&] { return handler(ctx); });
    return commit(batch, std::move(res));
  };
}

Response ApiService::commit(storage::Batch& batch, Response res) {
  if (batch.empty()) return res;
  storage::WriteStatus status = store_.write(batch);
  if (status.is_ok()) return res;
  spdlog::error("write failed: {}", status.message());
  return error_response(ApiError::Unavailable);
}

}  // namespace hookd::api

#include "api/service.hpp"

#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "api/auth.hpp"
#include "api/errors.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {
namespace {

bool mutating(http::verb v) {
  return v == http::verb::post || v == http::verb::put || v == http::verb::patch || v == http::verb::delete_;
}

std::string base_url(const Request& request, const RequestInfo& info, const std::string& configured) {
  if (!configured.empty()) return configured;
  // The Host header goes into the URLs of answers, so only a well-formed authority is taken.
  auto host = request.find(http::field::host);
  bool usable = host != request.end() && !host->value().empty() && boost::urls::parse_authority(host->value());
  return (info.tls ? "https://" : "http://") + (usable ? std::string(host->value()) : std::string("localhost"));
}

}  // namespace

ApiService::ApiService(storage::Store& store, storage::GroupCommitter& committer, net::any_io_executor blocking,
                       ApiOptions options)
    : store_(store),
      api_keys_(store_),
      committer_(committer),
      blocking_(std::move(blocking)),
      options_(std::move(options)),
      webhooks_(store_, options_.event_types, options_.now_ms, options_.engine),
      events_(store_, options_.event_types, options_.now_ms, options_.engine),
      idempotency_(store_),
      request_id_prefix_("req_" + signing::hex(signing::random_bytes(4)) + "_") {
  using v = http::verb;
  router_.add(v::get, "/healthz", [](Context&) { return json_response(http::status::ok, {{"status", "ok"}}); });
  router_.add(v::get, "/readyz", [this](Context&) {
    // Ready once the store is open (it is, or nothing would listen) and the scheduler has loaded.
    if (options_.ready && !options_.ready())
      return json_response(http::status::service_unavailable, {{"status", "starting"}});
    return json_response(http::status::ok, {{"status", "ready"}});
  });
  if (options_.metrics)
    router_.add(v::get, "/metrics", [this](Context&) {
      Response res{http::status::ok, 11};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = options_.metrics();
      return res;
    });

  using Surface = ApiOptions::Surface;
  if (options_.surface != Surface::Ingress) {
    // A management route: `fn` of `api` (webhooks_ or events_), behind the manage scope.
    auto manage = [this](const auto& api, auto fn) {
      return authenticated(storage::kScopeManage, [&api, fn](Context& ctx) { return (api.*fn)(ctx); });
    };
    router_.add(v::get, "/v2/webhooks/", manage(webhooks_, &WebhooksApi::list));
    router_.add(v::post, "/v2/webhooks/", manage(webhooks_, &WebhooksApi::create));
    router_.add(v::get, "/v2/webhooks/:id/", manage(webhooks_, &WebhooksApi::retrieve));
    router_.add(v::put, "/v2/webhooks/:id/", manage(webhooks_, &WebhooksApi::replace));
    router_.add(v::patch, "/v2/webhooks/:id/", manage(webhooks_, &WebhooksApi::update));
    router_.add(v::delete_, "/v2/webhooks/:id/", manage(webhooks_, &WebhooksApi::destroy));

    router_.add(v::get, "/v2/events/", manage(events_, &EventsApi::list));
    router_.add(v::get, "/v2/events/:id/", manage(events_, &EventsApi::retrieve));
    router_.add(v::get, "/v2/webhooks/:id/deliveries/", manage(events_, &EventsApi::list_deliveries));
    router_.add(v::post, "/v2/deliveries/:id/retry/", manage(events_, &EventsApi::retry_delivery));
  }
  if (options_.surface != Surface::Management) {
    // Publishing takes no lock and writes through the group committer: it runs on the event loop.
    using enum Router::Blocking;
    router_.add(v::post, "/v2/events/", publishing([this](Context& ctx) { return events_.publish(ctx); }),
                OnlyOnStoreReads);
    router_.add(v::post, "/v2/events/batch/",
                publishing([this](Context& ctx) { return events_.publish_batch(ctx); }), OnlyOnStoreReads);
  }
}

std::string ApiService::request_id(const Request& request) {
  auto given = request.find("X-Request-Id");
  if (given != request.end()) {
    std::string_view v = given->value();
    bool sane = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
    if (sane) return std::string(v);
  }
  return request_id_prefix_ + std::to_string(++request_counter_);
}

template <class CompletionToken>
auto ApiService::async_prepare_and_commit(const Request& request, const RequestInfo& info, const std::string& id,
                                          CompletionToken&& token) {
  return net::async_initiate<CompletionToken, void(Answered)>(
      [this, &request, &info, &id](auto completion) {
        using Completion = decltype(completion);
        using WorkGuard = decltype(net::make_work_guard(net::get_associated_executor(completion)));
        // Shared: the committer's callback must be copyable, the completion handler is not.
        struct Operation {
          Completion completion;
          WorkGuard work;
          Answered answered;
          void complete() {
            auto ex = work.get_executor();
            net::post(ex, [completion = std::move(completion), answered = std::move(answered)]() mutable {
              completion(std::move(answered));
            });
          }
        };
        auto work = net::make_work_guard(net::get_associated_executor(completion));
        auto op = std::make_shared<Operation>(Operation{std::move(completion), std::move(work), {}});
        auto commit = [this, op](Prepared prepared) {
          op->answered.response = std::move(prepared.response);
          op->answered.held = std::move(prepared.held);
          if (!prepared.deferred) return op->complete();
          committer_.submit(std::move(*prepared.deferred),
                            [op, on_commit = std::move(prepared.on_commit)](const storage::WriteStatus& status) {
                              if (on_commit) on_commit(status.is_ok());
                              op->answered.status = status;
                              op->complete();
                            });
        };
        try {
          storage::Store::MemoryOnlyReads memory_only;
          return commit(prepare(request, info, id, true));
        } catch (const WouldBlock&) {
          // Nothing of it took effect (publisher ids claimed are released): run it again where
          // it may block.
        }
        // The request, info and id belong to the caller's coroutine frame, which waits for this.
        net::post(blocking_, [this, commit, &request, &info, &id] { commit(prepare(request, info, id)); });
      },
      token);
}

net::awaitable<Response> ApiService::handle(Request request, RequestInfo info) {
  auto started = std::chrono::steady_clock::now();
  std::string id = request_id(request);
  Answered answered = co_await async_prepare_and_commit(request, info, id, net::use_awaitable);
  answered.held.reset();  // before the client can send its next request
  Response res = std::move(answered.response);
  if (!answered.status.is_ok()) {
    spdlog::error("request {}: ingress write failed: {}", id, answered.status.message());
    res = error_response(ApiError::Unavailable);
  }
  res.set("X-Request-Id", id);
  // Method, path and outcome only: headers (the API key) and bodies (secrets) are never logged.
  spdlog::debug("request {} {} {} -> {} in {} us", id, request.method_string(), request.target(), res.result_int(),
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
  co_return res;
}

ApiService::Prepared ApiService::prepare(const Request& request, const RequestInfo& info, const std::string& id,
                                        bool on_event_loop) {
  auto target = boost::urls::parse_origin_form(request.target());
  if (!target) return {error_response(ApiError::MalformedRequest, "Malformed request target."), {}, {}};
  Context ctx{request, *target, {}, base_url(request, info, options_.public_base_url), {}, nullptr, {}, {}, on_event_loop};
  try {
    Response res = router_.route(ctx);
    return {std::move(res), std::move(ctx.deferred), std::move(ctx.on_commit), std::move(ctx.held_until_answered)};
  } catch (const WouldBlock&) {
    throw;  // nothing committed; what the handler claimed is released with ctx
  } catch (const storage::StoreError& e) {
    if (e.kind == storage::StoreError::Kind::WouldBlock) throw WouldBlock();
    spdlog::error("request {}: store error on {} {}: {}", id, request.method_string(), request.target(), e.what());
    if (ctx.on_commit) ctx.on_commit(false);
    return {error_response(ApiError::Unavailable), {}, {}};
  } catch (const std::exception& e) {
    spdlog::error("request {}: error on {} {}: {}", id, request.method_string(), request.target(), e.what());
    if (ctx.on_commit) ctx.on_commit(false);
    return {error_response(ApiError::Internal), {}, {}};
  }
}

Handler ApiService::publishing(Handler handler) {
  return [this, handler = std::move(handler)](Context& ctx) -> Response {
    auto principal = authenticate(api_keys_, ctx.request, storage::kScopePublish);
    if (auto* error = std::get_if<Response>(&principal)) return std::move(*error);
    ctx.integration_id = std::get<Principal>(principal).integration_id;
    return handler(ctx);
  };
}

Handler ApiService::authenticated(storage::Scope scope, Handler handler) {
  return [this, scope, handler = std::move(handler)](Context& ctx) -> Response {
    auto principal = authenticate(api_keys_, ctx.request, scope);
    if (auto* error = std::get_if<Response>(&principal)) return std::move(*error);
    ctx.integration_id = std::get<Principal>(principal).integration_id;
    if (!mutating(ctx.request.method())) return handler(ctx);

    std::lock_guard lock(write_mutex_);
    storage::Batch batch = store_.batch();
    ctx.batch = &batch;
    auto key = ctx.request.find("Idempotency-Key");
    if (key == ctx.request.end() || ctx.request.method() == http::verb::delete_)
      return commit(ctx, batch, handler(ctx));
    Response res = idempotency_.run(ctx.integration_id, key->value(), ctx.request, options_.now_ms(), batch,
                                    [&] { return handler(ctx); });
    return commit(ctx, batch, std::move(res));
  };
}

Response ApiService::commit(Context& ctx, storage::Batch& batch, Response res) {
  auto on_commit = std::exchange(ctx.on_commit, nullptr);
  if (batch.empty()) return res;
  storage::WriteStatus status = store_.write(batch);
  if (on_commit) on_commit(status.is_ok());
  if (status.is_ok()) return res;
  spdlog::error("write failed: {}", status.message());
  return error_response(ApiError::Unavailable);
}

}  // namespace hookd::api

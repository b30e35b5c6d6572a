#include "api/admin_routes.hpp"

#include <boost/url/parse.hpp>

#include "api/errors.hpp"

namespace hookd::api {
namespace {

namespace json = boost::json;

Response from_result(const Admin::Result& result, http::status ok) {
  if (auto* v = std::get_if<json::value>(&result)) return json_response(ok, *v);
  const auto& e = std::get<Admin::Error>(result);
  auto status = e.kind == Admin::Error::NotFound      ? http::status::not_found
                : e.kind == Admin::Error::Unavailable ? http::status::service_unavailable
                                                      : http::status::bad_request;
  return json_response(status, {{"detail", e.message}});
}

std::vector<std::string> strings(const json::object& body, std::string_view field) {
  std::vector<std::string> out;
  if (auto* a = body.if_contains(field); a && a->is_array())
    for (const auto& v : a->get_array())
      if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

json::object body_of(const Context& ctx) {
  boost::system::error_code ec;
  json::value v = json::parse(ctx.request.body(), ec);
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

}  // namespace

AdminService::AdminService(Admin& admin, net::any_io_executor blocking) : admin_(admin), blocking_(std::move(blocking)) {
  using v = http::verb;
  router_.add(v::get, "/admin/integrations", [this](Context&) {
    return json_response(http::status::ok, admin_.list_integrations());
  });
  router_.add(v::post, "/admin/integrations", [this](Context& ctx) {
    json::object body = body_of(ctx);
    std::string name = body.contains("name") && body["name"].is_string() ? std::string(body["name"].get_string()) : "";
    std::optional<std::string> id;
    if (body.contains("id") && body["id"].is_string()) id = std::string(body["id"].get_string());
    return from_result(admin_.create_integration(name, id), http::status::created);
  });
  router_.add(v::get, "/admin/keys", [this](Context&) { return json_response(http::status::ok, admin_.list_keys()); });
  router_.add(v::post, "/admin/keys", [this](Context& ctx) {
    json::object body = body_of(ctx);
    return from_result(admin_.create_key(strings(body, "integrations"), strings(body, "scopes")), http::status::created);
  });
  router_.add(v::post, "/admin/backup", [this](Context& ctx) {
    json::object body = body_of(ctx);
    std::string to = body.contains("to") && body["to"].is_string() ? std::string(body["to"].get_string()) : "";
    return from_result(admin_.backup(to), http::status::created);
  });
  router_.add(v::delete_, "/admin/keys/:id", [this](Context& ctx) {
    return from_result(admin_.revoke_key(ctx.params.at(0)), http::status::ok);
  });
}

net::awaitable<Response> AdminService::handle(Request request, RequestInfo) {
  co_return co_await async_answer_on(blocking_, [this, &request] { return answer(request); }, net::use_awaitable);
}

Response AdminService::answer(const Request& request) {
  auto target = boost::urls::parse_origin_form(request.target());
  if (!target) return error_response(ApiError::MalformedRequest);
  Context ctx{request, *target, {}, {}, {}, nullptr, {}, {}};
  try {
    return router_.route(ctx);
  } catch (const std::exception& e) {
    return json_response(http::status::internal_server_error, {{"detail", e.what()}});
  }
}

}  // namespace hookd::api

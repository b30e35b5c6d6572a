// The admin socket's HTTP API: what `hookd integration ...` and `hookd key ...` call on a running
// daemon. It has no authentication of its own: the socket's file mode (0600) is the guard.
//
//   GET  /admin/integrations            POST /admin/integrations {"name", "id"?}
//   GET  /admin/keys                    POST /admin/keys {"integrations": [...], "scopes": [...]}
//   DELETE /admin/keys/{id}
//   POST /admin/backup {"to": "/absolute/dir"}
#pragma once

#include "api/admin.hpp"
#include "api/http_types.hpp"
#include "api/router.hpp"

namespace hookd::api {

class AdminService final : public RequestHandler {
 public:
  AdminService(Admin& admin, net::any_io_executor blocking);
  net::awaitable<Response> handle(Request request, RequestInfo info) override;
  Response answer(const Request& request);

 private:
  Admin& admin_;
  net::any_io_executor blocking_;
  Router router_;
};

}  // namespace hookd::api

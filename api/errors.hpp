// Responses hookd answers with, and the one table that maps error kinds to statuses and bodies.
// Bodies follow the documented API: {"detail": "..."} for request-level errors, and
// {"field": ["message", ...]} for validation errors.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.hpp"

namespace hookd::api {

enum class ApiError {
  NotAuthenticated,      // 401, no Authorization header
  InvalidToken,          // 401, unknown or malformed key
  MissingIntegration,    // 400, no Integration-ID header
  PermissionDenied,      // 403, key may not act for the integration or lacks the scope
  NotFound,              // 404
  InvalidPage,           // 404, page past the end or not a number
  MethodNotAllowed,      // 405, detail names the method
  UnsupportedMediaType,  // 415, detail names the content type
  PayloadTooLarge,       // 413
  HeadersTooLarge,       // 431
  MalformedRequest,      // 400, the HTTP itself did not parse
  IdempotencyMismatch,   // 400, key reused with another method, path or body
  Unavailable,           // 503, the store cannot take writes (disk full, I/O error)
  Internal,              // 500
};

// A response carrying `value` as JSON.
Response json_response(http::status status, const boost::json::value& value);

// The response for `error`; `detail` replaces the table's default text where given.
Response error_response(ApiError error, std::string_view detail = {});

// Field name -> messages, in the order fields were checked.
class FieldErrors {
 public:
  void add(std::string_view field, std::string message);
  bool empty() const { return errors_.empty(); }
  bool has(std::string_view field) const { return errors_.contains(field); }
  Response response() const { return json_response(http::status::bad_request, errors_); }  // 400
  const boost::json::object& body() const { return errors_; }

 private:
  boost::json::object errors_;  // keeps insertion order, as the documented API lists fields
};

}  // namespace hookd::api

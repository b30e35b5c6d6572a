#include "api/errors.hpp"

namespace hookd::api {
namespace {

struct ErrorEntry {
  http::status status;
  std::string_view detail;
};

ErrorEntry entry(ApiError e) {
  using s = http::status;
  switch (e) {
    case ApiError::NotAuthenticated: return {s::unauthorized, "Authentication credentials were not provided."};
    case ApiError::InvalidToken: return {s::unauthorized, "Invalid token."};
    case ApiError::MissingIntegration: return {s::bad_request, "Integration-ID header is required."};
    case ApiError::PermissionDenied: return {s::forbidden, "You do not have permission to perform this action."};
    case ApiError::NotFound: return {s::not_found, "Not found."};
    case ApiError::InvalidPage: return {s::not_found, "Invalid page."};
    case ApiError::MethodNotAllowed: return {s::method_not_allowed, "Method not allowed."};
    case ApiError::UnsupportedMediaType: return {s::unsupported_media_type, "Unsupported media type in request."};
    case ApiError::PayloadTooLarge: return {s::payload_too_large, "Request body is too large."};
    case ApiError::HeadersTooLarge: return {s::request_header_fields_too_large, "Request headers are too large."};
    case ApiError::MalformedRequest: return {s::bad_request, "Malformed HTTP request."};
    case ApiError::IdempotencyMismatch:
      return {s::bad_request, "Idempotency-Key was already used with a different method, path or body."};
    case ApiError::Unavailable: return {s::service_unavailable, "Service temporarily unavailable, try again later."};
    case ApiError::Internal: return {s::internal_server_error, "A server error occurred."};
  }
  return {s::internal_server_error, "A server error occurred."};
}

}  // namespace

Response json_response(http::status status, const boost::json::value& value) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(value);
  return res;
}

Response error_response(ApiError error, std::string_view detail) {
  ErrorEntry e = entry(error);
  Response res = json_response(e.status, boost::json::object{{"detail", detail.empty() ? e.detail : detail}});
  if (e.status == http::status::unauthorized) res.set(http::field::www_authenticate, "Token");
  return res;
}

void FieldErrors::add(std::string_view field, std::string message) {
  auto& list = errors_[field];
  if (!list.is_array()) list = boost::json::array{};
  list.as_array().emplace_back(std::move(message));
}

}  // namespace hookd::api

#include "api/idempotency.hpp"

#include "api/errors.hpp"
#include "signing/crypto.hpp"

namespace hookd::api {
namespace {

std::string fingerprint(const Request& request) {
  std::string material(request.method_string());
  material += ' ';
  material += request.target();
  material += '\n';
  material += request.body();
  return signing::hex(signing::sha256(material));
}

// Responses to input the client must change (bad JSON, validation, size, media type) are not kept,
// as Stripe does not keep them: the corrected request may reuse the key. Server errors neither.
bool worth_storing(http::status status) {
  switch (status) {
    case http::status::bad_request:
    case http::status::payload_too_large:
    case http::status::unsupported_media_type:
      return false;
    default:
      return static_cast<unsigned>(status) < 500;
  }
}

}  // namespace

Response Idempotency::run(std::string_view integration_id, std::string_view key, const Request& request,
                          std::int64_t now_ms, storage::Batch& batch, const std::function<Response()>& act) {
  if (key.empty() || key.size() > kMaxKeyLength)
    return error_response(ApiError::MalformedRequest, "Idempotency-Key must be 1 to 255 characters.");

  std::string print = fingerprint(request);
  if (auto stored = store_.find_idempotency(integration_id, key, now_ms, kTtlMs)) {
    if (stored->fingerprint != print) return error_response(ApiError::IdempotencyMismatch);
    Response res{static_cast<http::status>(stored->status), 11};
    if (!stored->body.empty()) res.set(http::field::content_type, "application/json");
    res.body() = stored->body;
    res.set("Idempotent-Replayed", "true");
    return res;
  }

  Response res = act();
  if (worth_storing(res.result()))
    batch.put_idempotency(integration_id, key,
                          storage::IdempotencyRecord{print, static_cast<int>(res.result_int()), res.body(), now_ms});
  return res;
}

}  // namespace hookd::api

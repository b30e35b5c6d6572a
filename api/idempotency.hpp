// Idempotency-Key handling (SPEC §2): the first response to a mutating request made with a key is
// stored for 24 hours per integration, and a repeat gets it again without acting.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "api/http_types.hpp"
#include "storage/store.hpp"

namespace hookd::api {

class Idempotency {
 public:
  static constexpr std::int64_t kTtlMs = storage::kIdempotencyTtlMs;
  static constexpr std::size_t kMaxKeyLength = 255;

  explicit Idempotency(storage::Store& store) : store_(store) {}

  // Runs `act` for a request made with Idempotency-Key `key` in `integration_id`, unless a response
  // is stored for it: then that response comes back with "Idempotent-Replayed: true" and nothing is
  // done. A key reused with another method, path or body is 400; one in use by a concurrent request
  // `act` adds its changes to `batch`; the response is stored in the same batch, so the action and
  // its record are written together or not at all. Callers serialize run() and the batch's commit
  // for one integration (ApiService holds its write lock), so a concurrent repeat waits, then replays.
  Response run(std::string_view integration_id, std::string_view key, const Request& request, std::int64_t now_ms,
               storage::Batch& batch, const std::function<Response()>& act);

 private:
  storage::Store& store_;
};

}  // namespace hookd::api

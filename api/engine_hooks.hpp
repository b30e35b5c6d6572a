// What the API tells the delivery engine. The daemon wires these to the engine; the API does not
// know the engine, and the engine does not know the API.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace hookd::api {

enum class RetryAnswer { Scheduled, NotFound, NotRetryable, Unavailable };

struct EngineHooks {
  // New deliveries were committed (or their commit failed). Called on the group committer's thread
  // right after the commit, before anything the engine writes later is applied (the engine
  // relies on that order to trust the records).
  std::function<void(storage::CreatedDeliveries)> deliveries_created;
  // A webhook's deletion was committed: its active deliveries are to be canceled.
  std::function<void(const std::string& integration_id, std::uint64_t webhook_seq)> webhook_deleted;
  // Schedules a delivery now; blocks until the engine answers.
  std::function<RetryAnswer(const std::string& integration_id, const std::string& delivery_id)> retry_delivery;
};

}  // namespace hookd::api

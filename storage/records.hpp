// The records hookd stores, and their binary encodings (format version byte first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hookd::storage {

struct Integration {
  std::string id;
  std::string name;
  std::int64_t created_at_ms = 0;
};
// How long a stored response answers a repeated Idempotency-Key (SPEC §2), and is then removed.
inline constexpr std::int64_t kIdempotencyTtlMs = 24LL * 60 * 60 * 1000;

enum Scope : std::uint8_t { kScopeManage = 1, kScopePublish = 2 };

struct ApiKey {
  std::string id;                         // public identifier, used to list and revoke
  std::string key_hash;                   // SHA-256 of the secret key; the key itself is never stored
  std::vector<std::string> integrations;  // integrations this key may act for
  std::uint8_t scopes = 0;                // bit set of Scope
  std::int64_t created_at_ms = 0;
};

struct Webhook {
  std::string integration_id;
  std::uint64_t seq = 0;  // internal and immutable: creation order, and what deliveries refer to
  std::string id;         // client-visible, may change through PATCH
  std::string url;
  std::vector<std::string> events;
  std::string secret_key;
  std::string metadata_json = "{}";  // a serialized JSON object, opaque to the store
  std::int64_t created_at_ms = 0;
};

// A stored response to a request made with an Idempotency-Key.
struct IdempotencyRecord {
  std::string fingerprint;  // identifies method, path and body of the first request
  int status = 0;
  std::string body;
  std::int64_t created_at_ms = 0;
};

enum class DeliveryState : std::uint8_t { Pending = 0, Retrying = 1, Succeeded = 2, Failed = 3, Canceled = 4 };

// "pending", "retrying", "succeeded", "failed", "canceled": the names the API shows.
std::string_view to_string(DeliveryState state);

// Pending and retrying deliveries have an entry in the due index; the others are finished.
inline bool is_active(DeliveryState s) { return s == DeliveryState::Pending || s == DeliveryState::Retrying; }

struct Event {
  std::string integration_id;
  std::uint64_t seq = 0;    // internal: creation order
  std::string id;           // the publisher's id, or a generated uuid4
  std::string type;
  std::string data_json;    // the event's data, serialized JSON: the body every delivery posts
  std::int64_t created_at_ms = 0;
};

struct Attempt {
  std::uint32_t number = 0;  // 1-based
  std::int64_t started_at_ms = 0;
  std::uint32_t duration_ms = 0;
  int status = 0;            // HTTP status; 0 when none arrived
  std::string error;         // error kind ("timeout", "connect", "tls", ...); empty when a status arrived
  std::string response;      // the first 4 KiB of the response body
  bool operator==(const Attempt&) const = default;
};

// One event to one webhook, attempted until it succeeds, fails for good or is canceled.
struct Delivery {
  std::string id;           // uuid7 (uuid4 before e5b0578); sent as Webhook-Id on every attempt
  std::string integration_id;
  std::uint64_t seq = 0;    // internal: creation order
  std::uint64_t event_seq = 0;
  std::uint64_t webhook_seq = 0;
  DeliveryState state = DeliveryState::Pending;
  std::uint32_t attempts = 0;        // attempts made so far
  std::int64_t next_attempt_ms = 0;  // when active: its time in the due index
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  // The latest attempt, kept in the delivery's own record; the earlier ones are records of the
  // attempts family (Store::list_attempts gives them all). A delivery that succeeds at once then
  // writes one record fewer. None before the first attempt, and in records written before step 55,
  // which kept every attempt in that family.
  std::optional<Attempt> last_attempt;
};

std::string encode(const Integration& v);
std::string encode(const ApiKey& v);
std::string encode(const Webhook& v);
std::string encode(const IdempotencyRecord& v);
std::string encode(const Event& v);
std::string encode(const Delivery& v);
std::string encode(const Attempt& v);

// Decoders throw CorruptRecord (storage/codec.hpp) on bytes that are not a record of the type.
template <typename T>
T decode(std::string_view bytes);

}  // namespace hookd::storage

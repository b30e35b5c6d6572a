#include "storage/records.hpp"

#include "storage/codec.hpp"

namespace hookd::storage {
namespace {

constexpr std::uint8_t kFormat = 1;

void expect_format(Decoder& d) {
  if (d.u8() != kFormat) throw CorruptRecord("unknown record format");
}

}  // namespace

std::string_view to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::Pending: return "pending";
    case DeliveryState::Retrying: return "retrying";
    case DeliveryState::Succeeded: return "succeeded";
    case DeliveryState::Failed: return "failed";
    case DeliveryState::Canceled: return "canceled";
  }
  return "unknown";
}

std::string encode(const Integration& v) {
  Encoder e;
  e.u8(kFormat);
  e.str(v.id);
  e.str(v.name);
  e.svarint(v.created_at_ms);
  return e.take();
}

std::string encode(const ApiKey& v) {
  Encoder e;
  e.u8(kFormat);
  e.str(v.id);
  e.str(v.key_hash);
  e.strings(v.integrations);
  e.u8(v.scopes);
  e.svarint(v.created_at_ms);
  return e.take();
}

std::string encode(const Webhook& v) {
  Encoder e;
  e.u8(kFormat);
  e.str(v.integration_id);
  e.varint(v.seq);
  e.str(v.id);
  e.str(v.url);
  e.strings(v.events);
  e.str(v.secret_key);
  e.str(v.metadata_json);
  e.svarint(v.created_at_ms);
  return e.take();
}

std::string encode(const IdempotencyRecord& v) {
  Encoder e;
  e.u8(kFormat);
  e.str(v.fingerprint);
  e.varint(static_cast<std::uint64_t>(v.status));
  e.str(v.body);
  e.svarint(v.created_at_ms);
  return e.take();
}

template <>
Integration decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  Integration v;
  v.id = d.str();
  v.name = d.str();
  v.created_at_ms = d.svarint();
  return v;
}

template <>
ApiKey decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  ApiKey v;
  v.id = d.str();
  v.key_hash = d.str();
  v.integrations = d.strings();
  v.scopes = d.u8();
  v.created_at_ms = d.svarint();
  return v;
}

template <>
Webhook decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  Webhook v;
  v.integration_id = d.str();
  v.seq = d.varint();
  v.id = d.str();
  v.url = d.str();
  v.events = d.strings();
  v.secret_key = d.str();
  v.metadata_json = d.str();
  v.created_at_ms = d.svarint();
  return v;
}

template <>
IdempotencyRecord decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  IdempotencyRecord v;
  v.fingerprint = d.str();
  v.status = static_cast<int>(d.varint());
  v.body = d.str();
  v.created_at_ms = d.svarint();
  return v;
}

std::string encode(const Event& v) {
  // 64: room for the format byte and the varints.
  Encoder e(v.integration_id.size() + v.id.size() + v.type.size() + v.data_json.size() + 64);
  e.u8(kFormat);
  e.str(v.integration_id);
  e.varint(v.seq);
  e.str(v.id);
  e.str(v.type);
  e.str(v.data_json);
  e.svarint(v.created_at_ms);
  return e.take();
}

template <>
Event decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  Event v;
  v.integration_id = d.str();
  v.seq = d.varint();
  v.id = d.str();
  v.type = d.str();
  v.data_json = d.str();
  v.created_at_ms = d.svarint();
  return v;
}

namespace {

// Deliveries are in format 2 since step 55: format 1 and a trailing latest attempt, if any.
constexpr std::uint8_t kDeliveryFormat = 2;

void put_attempt_fields(Encoder& e, const Attempt& v) {
  e.varint(v.number);
  e.svarint(v.started_at_ms);
  e.varint(v.duration_ms);
  e.varint(static_cast<std::uint64_t>(v.status));
  e.str(v.error);
  e.str(v.response);
}

Attempt attempt_fields(Decoder& d) {
  Attempt v;
  v.number = static_cast<std::uint32_t>(d.varint());
  v.started_at_ms = d.svarint();
  v.duration_ms = static_cast<std::uint32_t>(d.varint());
  v.status = static_cast<int>(d.varint());
  v.error = d.str();
  v.response = d.str();
  return v;
}

}  // namespace

std::string encode(const Delivery& v) {
  // 96: room for the varints, an id and an integration id without growing.
  Encoder e(96 + (v.last_attempt ? v.last_attempt->error.size() + v.last_attempt->response.size() : 0));
  e.u8(kDeliveryFormat);
  e.str(v.id);
  e.str(v.integration_id);
  e.varint(v.seq);
  e.varint(v.event_seq);
  e.varint(v.webhook_seq);
  e.u8(static_cast<std::uint8_t>(v.state));
  e.varint(v.attempts);
  e.svarint(v.next_attempt_ms);
  e.svarint(v.created_at_ms);
  e.svarint(v.updated_at_ms);
  e.u8(v.last_attempt ? 1 : 0);
  if (v.last_attempt) put_attempt_fields(e, *v.last_attempt);
  return e.take();
}

template <>
Delivery decode(std::string_view bytes) {
  Decoder d(bytes);
  std::uint8_t format = d.u8();
  if (format != kFormat && format != kDeliveryFormat) throw CorruptRecord("unknown record format");
  Delivery v;
  v.id = d.str();
  v.integration_id = d.str();
  v.seq = d.varint();
  v.event_seq = d.varint();
  v.webhook_seq = d.varint();
  std::uint8_t state = d.u8();
  if (state > static_cast<std::uint8_t>(DeliveryState::Canceled)) throw CorruptRecord("unknown delivery state");
  v.state = static_cast<DeliveryState>(state);
  v.attempts = static_cast<std::uint32_t>(d.varint());
  v.next_attempt_ms = d.svarint();
  v.created_at_ms = d.svarint();
  v.updated_at_ms = d.svarint();
  if (format == kDeliveryFormat && d.u8() != 0) v.last_attempt = attempt_fields(d);
  return v;
}

std::string encode(const Attempt& v) {
  Encoder e(32 + v.error.size() + v.response.size());
  e.u8(kFormat);
  put_attempt_fields(e, v);
  return e.take();
}

template <>
Attempt decode(std::string_view bytes) {
  Decoder d(bytes);
  expect_format(d);
  return attempt_fields(d);
}

}  // namespace hookd::storage

// Batch: the store's writes, each a few records in the layout of storage/store_internal.hpp.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <utility>

#include "storage/codec.hpp"
#include "storage/store.hpp"
#include "storage/store_internal.hpp"

namespace hookd::storage {

using namespace internal;

Batch::Batch(const Store& store, std::size_t reserve_bytes)
    : store_(&store), batch_(std::make_unique<rocksdb::WriteBatch>(reserve_bytes)) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;

bool Batch::empty() const { return batch_->Count() == 0; }

void Batch::note_seq(int kind, std::uint64_t seq) {
  auto& high = high_water_[kind];
  high = std::max(high, seq);
}

void Batch::take_seqs(Batch& other) {
  for (int kind = 0; kind < 3; ++kind) note_seq(kind, std::exchange(other.high_water_[kind], 0));
}

void Batch::seal() {
  // One merge per kind and batch: a batch of 100 events would otherwise carry 200 of them.
  for (int kind = 0; kind < 3; ++kind) {
    if (high_water_[kind] == 0) continue;
    auto k = seq_key(static_cast<Store::Sequence>(kind));
    check(batch_->Merge(store_->family(Store::kMeta), slice(k), be64(high_water_[kind])), "batch");
    high_water_[kind] = 0;
  }
}

void Batch::put_integration(const Integration& v) {
  check(batch_->Put(store_->family(Store::kIntegrations), slice(v.id), encode(v)), "batch");
}

void Batch::put_api_key(const ApiKey& v) {
  auto* cf = store_->family(Store::kApiKeys);
  check(batch_->Put(cf, "h" + v.key_hash, encode(v)), "batch");
  check(batch_->Put(cf, "i" + v.id, v.key_hash), "batch");
  api_keys_changed_ = true;
}

void Batch::delete_api_key(const ApiKey& v) {
  auto* cf = store_->family(Store::kApiKeys);
  check(batch_->Delete(cf, "h" + v.key_hash), "batch");
  check(batch_->Delete(cf, "i" + v.id), "batch");
  api_keys_changed_ = true;
}

void Batch::put_webhook(const Webhook& v, std::optional<std::string_view> previous_id) {
  auto* cf = store_->family(Store::kWebhooks);
  if (previous_id && *previous_id != v.id)
    check(batch_->Delete(cf, id_key(v.integration_id, *previous_id)), "batch");
  check(batch_->Put(cf, record_key(v.integration_id, v.seq), encode(v)), "batch");
  check(batch_->Put(cf, id_key(v.integration_id, v.id), be64(v.seq)), "batch");
  note_seq(static_cast<int>(Store::Sequence::Webhook), v.seq);
  webhooks_changed_ = true;
}

void Batch::delete_webhook(const Webhook& v) {
  auto* cf = store_->family(Store::kWebhooks);
  check(batch_->Delete(cf, record_key(v.integration_id, v.seq)), "batch");
  check(batch_->Delete(cf, id_key(v.integration_id, v.id)), "batch");
  webhooks_changed_ = true;
}

void Batch::put_idempotency(std::string_view integration_id, std::string_view key, const IdempotencyRecord& record) {
  check(batch_->Put(store_->family(Store::kIdempotency), scoped("", integration_id, key), encode(record)), "batch");
}

void Batch::put_event(const Event& v) {
  auto* cf = store_->family(Store::kEvents);
  check(batch_->Put(cf, record_key(v.integration_id, v.seq), encode(v)), "batch");
  check(batch_->Put(cf, id_key(v.integration_id, v.id), be64(v.seq)), "batch");
  note_seq(static_cast<int>(Store::Sequence::Event), v.seq);
}

void Batch::put_new_deliveries(std::span<const Delivery> deliveries, NewDue due) {
  if (deliveries.empty()) return;
  auto* cf = store_->family(Store::kDeliveries);
  for (std::size_t first = 0; first < deliveries.size();) {
    const Delivery& head = deliveries[first];
    std::size_t end = first + 1;
    while (end < deliveries.size() && deliveries[end].event_seq == head.event_seq &&
           deliveries[end].integration_id == head.integration_id)
      ++end;
    for (const Delivery& v : deliveries.subspan(first, end - first)) {
      check(batch_->Put(cf, "d" + v.id, encode(v)), "batch");
      check(batch_->Put(cf, by_webhook_key(v), v.id), "batch");
      if (due == NewDue::Indexed && is_active(v.state)) put_due(v.next_attempt_ms, v.id);
      note_seq(static_cast<int>(Store::Sequence::Delivery), v.seq);
    }
    check(batch_->Put(cf, by_event_key(head), list_ids(deliveries.subspan(first, end - first))), "batch");
    first = end;
  }
  if (due == NewDue::Fresh) check(batch_->Put(cf, fresh_key(deliveries.front().seq), list_events(deliveries)), "batch");
}

void Batch::put_delivery(const Delivery& v, const Delivery& before, NewDue before_due) {
  check(batch_->Put(store_->family(Store::kDeliveries), "d" + v.id, encode(v)), "batch");
  if (before_due == NewDue::Indexed && is_active(before.state))
    check(batch_->Delete(store_->family(Store::kDue), due_key(before.next_attempt_ms, v.id)), "batch");
  if (is_active(v.state)) put_due(v.next_attempt_ms, v.id);
}

void Batch::put_due(std::int64_t due_ms, std::string_view delivery_id) {
  check(batch_->Put(store_->family(Store::kDue), due_key(due_ms, delivery_id), ""), "batch");
}

void Batch::delete_fresh(std::uint64_t first_delivery_seq) {
  check(batch_->Delete(store_->family(Store::kDeliveries), fresh_key(first_delivery_seq)), "batch");
}

void Batch::put_attempt(std::string_view delivery_id, const Attempt& attempt) {
  check(batch_->Put(store_->family(Store::kAttempts), attempt_key(delivery_id, attempt.number), encode(attempt)), "batch");
}

void Batch::delete_event(const Event& event, std::span<const Delivery> deliveries) {
  auto* events = store_->family(Store::kEvents);
  check(batch_->Delete(events, record_key(event.integration_id, event.seq)), "batch");
  check(batch_->Delete(events, id_key(event.integration_id, event.id)), "batch");
  auto* cf = store_->family(Store::kDeliveries);
  auto* attempts = store_->family(Store::kAttempts);
  for (const auto& d : deliveries) {
    check(batch_->Delete(cf, "d" + d.id), "batch");
    check(batch_->Delete(cf, by_webhook_key(d)), "batch");
    // The event's index entries are keyed by some of its deliveries (the first of each run that
    // put_new_deliveries wrote; every one before step 54): a delete for each finds them all.
    check(batch_->Delete(cf, by_event_key(d)), "batch");
    if (is_active(d.state)) check(batch_->Delete(store_->family(Store::kDue), due_key(d.next_attempt_ms, d.id)), "batch");
    // Attempts are numbered from 1 and every one is recorded: point deletes, not a range
    // deletion, whose tombstones RocksDB 7.8 checks on every read of the family.
    std::uint32_t in_family = d.last_attempt ? d.last_attempt->number - 1 : d.attempts;
    for (std::uint32_t n = 1; n <= in_family; ++n) check(batch_->Delete(attempts, attempt_key(d.id, n)), "batch");
  }
}

}  // namespace hookd::storage

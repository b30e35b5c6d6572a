// The store's layout in RocksDB and the helpers that its writes (batch.cpp) and its reads
// (store.cpp) share. Internal to storage/: nothing outside includes it.
#pragma once

#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/codec.hpp"
#include "storage/store.hpp"

// Key layout. Column families separate kinds of record, so that each can be scanned and tuned
// alone. Integration ids never contain '\0' (the API validates them), so '\0' ends them in keys.
//
//   integrations  <integration id>                        -> Integration
//   api_keys      'h' <sha-256 of key>                    -> ApiKey
//                 'i' <key id>                            -> <sha-256 of key>
//   webhooks      'r' <integration> '\0' <be64 seq>       -> Webhook      (key order = creation order)
//                 'i' <integration> '\0' <webhook id>     -> <be64 seq>
//   idempotency   <integration> '\0' <idempotency key>    -> IdempotencyRecord
//   events        'r' <integration> '\0' <be64 seq>       -> Event        (key order = creation order)
//                 'i' <integration> '\0' <event id>       -> <be64 seq>
//   deliveries    'd' <delivery id>                       -> Delivery     (ids are uuid7: about creation order)
//                 'w' <integration> '\0' <be64 webhook seq> <be64 delivery seq> -> <delivery id>
//                 'e' <integration> '\0' <be64 event seq> <delivery id>          -> <delivery ids>
//                     (one entry per event's fan-out, keyed by its first delivery: the list of
//                     them all; before step 54 one entry per delivery, with an empty value)
//                 'f' <be64 delivery seq>                 -> <events, by integration>
//                     (a fresh entry: new deliveries without due entries, keyed by the first,
//                     listing their events; see NewDue)
//   due           <be64 due ms> <delivery id>             -> ""           (key order = time order)
//   attempts      <delivery id> '\0' <be64 number>        -> Attempt      (all but the latest, which the
//                                                                         delivery's record holds; all
//                                                                         of them before step 55)
//   default       "seq/webhook", "seq/event", "seq/delivery" -> <be64> highest ever allocated (max-merge)

namespace hookd::storage::internal {

inline std::string_view seq_key(Store::Sequence s) {
  constexpr std::string_view kSeqKeys[] = {"seq/webhook", "seq/event", "seq/delivery"};
  return kSeqKeys[static_cast<int>(s)];
}

inline std::string scoped(std::string_view prefix, std::string_view integration, std::string_view rest) {
  std::string k;
  k.reserve(prefix.size() + integration.size() + 1 + rest.size());
  k.append(prefix).append(integration).push_back('\0');
  k.append(rest);
  return k;
}

// A webhook's or an event's record, and its entry in the index by id: the same keys in their
// own families.
inline std::string record_key(std::string_view integration, std::uint64_t seq) {
  return scoped("r", integration, be64(seq));
}
inline std::string id_key(std::string_view integration, std::string_view id) { return scoped("i", integration, id); }
// A delivery's entries in the per-webhook and the per-event index.
inline std::string by_webhook_key(const Delivery& d) {
  return scoped("w", d.integration_id, be64(d.webhook_seq) + be64(d.seq));
}
inline std::string by_event_key(const Delivery& d) { return scoped("e", d.integration_id, be64(d.event_seq) + d.id); }
inline std::string fresh_key(std::uint64_t first_delivery_seq) { return "f" + be64(first_delivery_seq); }
inline std::string due_key(std::int64_t due_ms, std::string_view delivery_id) {
  return be64(static_cast<std::uint64_t>(due_ms)) + std::string(delivery_id);
}
inline std::string attempt_key(std::string_view delivery_id, std::uint32_t number) {
  return std::string(delivery_id) + '\0' + be64(number);
}

// A per-event index entry's value: the deliveries' count, then their ids.
inline std::string list_ids(std::span<const Delivery> deliveries) {
  Encoder ids(8 + deliveries.size() * (deliveries.front().id.size() + 1));
  ids.varint(deliveries.size());
  for (const Delivery& d : deliveries) ids.str(d.id);
  return ids.take();
}
inline void read_ids(std::string_view listed, std::vector<std::string>& ids) {
  Decoder in(listed);
  for (auto n = in.varint(); n > 0; --n) ids.push_back(in.str());
}

// A fresh entry lists the events of its deliveries, whose other deliveries (if any) are new in the
// same batch too: an event's deliveries are all created with it. By integration: its id, the
// number of its events, their seqs; and so on. Far smaller than the deliveries' ids.
inline std::string list_events(std::span<const Delivery> deliveries) {
  Encoder out(64);
  std::vector<std::uint64_t> seqs;
  for (std::size_t i = 0; i < deliveries.size();) {
    const std::string& integration = deliveries[i].integration_id;
    seqs.clear();
    for (; i < deliveries.size() && deliveries[i].integration_id == integration; ++i)
      if (seqs.empty() || seqs.back() != deliveries[i].event_seq) seqs.push_back(deliveries[i].event_seq);
    out.str(integration);
    out.varint(seqs.size());
    for (std::uint64_t seq : seqs) out.varint(seq);
  }
  return out.take();
}
inline void read_events(std::string_view listed, std::vector<std::pair<std::string, std::uint64_t>>& events) {
  for (Decoder in(listed); !in.done();) {
    std::string integration = in.str();
    for (auto n = in.varint(); n > 0; --n) events.emplace_back(integration, in.varint());
  }
}

inline rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Set on a thread while a Store::MemoryOnlyReads lives on it.
inline thread_local bool memory_only_reads = false;

inline StoreError::Kind kind_of(const rocksdb::Status& s) {
  if (s.IsIncomplete() && memory_only_reads) return StoreError::Kind::WouldBlock;
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace) return StoreError::Kind::NoSpace;
  if (s.IsCorruption()) return StoreError::Kind::Corruption;
  return StoreError::Kind::Io;
}

// Throws StoreError for a status that is not OK; `what` names the operation.
inline void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw StoreError(kind_of(s), std::string(what) + ": " + s.ToString());
}

}  // namespace hookd::storage::internal

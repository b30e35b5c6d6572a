// The engine's writes: one batch per round of its event loop, submitted to the group committer,
// and the records kept in memory until it is applied; fresh entries counted off.
#include "engine/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace hookd::engine {

using storage::Delivery;
using storage::DueKey;

std::optional<Delivery> Engine::load(const std::string& delivery_id) const {
  if (auto it = tracked_.find(delivery_id); it != tracked_.end() && it->second.record)
    return it->second.record->delivery;
  return store_.find_delivery(delivery_id);
}

void Engine::settle(const std::vector<std::string>& ids, const storage::WriteStatus& status) {
  if (!status.is_ok()) spdlog::error("engine: write failed: {}", status.message());
  for (const auto& id : ids) {
    auto it = tracked_.find(id);
    if (it == tracked_.end()) continue;
    it->second.applied();
    if (it->second.idle()) tracked_.erase(it);
  }
  stat_tracked_ = tracked_.size();
}

storage::Batch& Engine::outgoing_batch() {
  if (!outgoing_) {
    outgoing_.emplace(Outgoing{store_.batch(), {}, {}, {}, {}});
    // After the handlers already queued: their writes join this batch.
    net::post(io_, [this] { flush_outgoing(); });
  }
  return outgoing_->batch;
}

void Engine::submit(std::vector<Delivery> changed, std::function<void(bool)> done) {
  outgoing_batch();  // the caller wrote into it already; this only makes sure
  Outgoing& out = *outgoing_;
  for (auto& d : changed) {
    out.ids.push_back(d.id);
    track(out.ids.back()).written(std::move(d));
  }
  if (done) out.done.push_back(std::move(done));
}

void Engine::put_delivery(const Delivery& delivery, const Delivery& before) {
  storage::Batch& batch = outgoing_batch();
  Tracked* t = find_tracked(delivery.id);
  if (!t || !t->fresh) return batch.put_delivery(delivery, before);
  batch.put_delivery(delivery, before, storage::NewDue::Fresh);  // no due entry to remove
  outgoing_->fresh.push_back(std::exchange(t->fresh, nullptr));
}

void Engine::index_fresh(Tracked& tracked, const DueKey& key) {
  outgoing_batch().put_due(key.due_ms, key.delivery_id);
  Outgoing& out = *outgoing_;
  out.fresh.push_back(std::exchange(tracked.fresh, nullptr));
  out.indexed_from = std::min(out.indexed_from.value_or(key.due_ms), key.due_ms);
}

void Engine::count_off_fresh(const std::vector<FreshEntry*>& entries, bool ok) {
  if (!ok) return;  // the entries stay: the store's next open indexes what they list
  for (FreshEntry* entry : entries)
    if (--entry->second == 0) remove_fresh(*entry);
}

void Engine::remove_fresh(FreshEntry& entry) {
  std::uint64_t key = entry.first;  // not a reference into the node that goes
  outgoing_batch().delete_fresh(key);
  fresh_.erase(key);
}

void Engine::flush_outgoing() {
  Outgoing out = std::move(*outgoing_);
  outgoing_.reset();
  // Attempt records and cancellations answer nobody: they need to survive a crash of hookd, which
  // an applied write does, and reach the disk soon (at-least-once covers the rest: a delivery whose
  // success did not reach the disk before a power loss is made again). A round with a callback
  // answers someone (a manual retry) and is synced first.
  auto durability = out.done.empty() ? storage::Durability::Soon : storage::Durability::Synced;
  // The work guard keeps the engine's thread running until the callbacks have run.
  committer_.submit(
      std::move(out.batch),
      [this, ids = std::move(out.ids), done = std::move(out.done), fresh = std::move(out.fresh),
       indexed_from = out.indexed_from, work = net::make_work_guard(io_)](const storage::WriteStatus& status) mutable {
        // Called once: what it holds moves on to the engine's thread.
        net::post(io_, [this, ids = std::move(ids), done = std::move(done), fresh = std::move(fresh), indexed_from,
                        status] {
          settle(ids, status);
          count_off_fresh(fresh, status.is_ok());
          if (indexed_from && status.is_ok()) {
            cursor_ = std::min(cursor_, DueKey::before(*indexed_from));  // a scan may have passed them unwritten
            pump();
          }
          for (const auto& d : done) d(status.is_ok());
        });
      },
      durability);
}

}  // namespace hookd::engine

#include "engine/engine.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>
#include <limits>
#include <random>
#include <set>

namespace hookd::engine {

using storage::Delivery;
using storage::DeliveryState;
using storage::DueKey;

Engine::Engine(storage::Store& store, storage::GroupCommitter& committer, EngineOptions options)
    : store_(store),
      committer_(committer),
      options_(std::move(options)),
      policy_(options_.retry),
      records_(store),
      client_(io_.get_executor(), options_.client),
      timer_(io_),
      wheel_(options_.now_ms()) {
  // As large as it will grow: it holds about what is queued (memory_capacity at most) and grows
  // and shrinks with every burst, rehashing each time if it had to grow into it (1.5% of the
  // engine's thread in `one`). Only what is used is touched.
  tracked_.reserve(options_.memory_capacity);
  if (!options_.random_unit) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    options_.random_unit = [rng] { return std::uniform_real_distribution<double>(0, 1)(*rng); };
  }
}

Engine::~Engine() { stop(); }

void Engine::start() {
  if (thread_.joinable()) return;
  net::post(io_, [this] { pump(); });
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "hookd-engine");  // for top -H, perf and gdb
    io_.run();
  });
}

void Engine::stop() {
  if (!thread_.joinable()) return;
  net::post(io_, [this] {
    stopping_ = true;
    timer_.cancel();
  });
  thread_.join();  // run() returns once the attempts in flight have finished
}

void Engine::deliveries_created(storage::CreatedDeliveries created) {
  net::post(io_, [this, created = std::move(created)]() mutable {
    std::size_t e = 0;  // deliveries come in the order of their events
    std::int64_t t = now();
    FreshEntry* fresh = nullptr;  // their entry, if they have no due entries
    if (created.fresh && created.durable && !created.deliveries.empty())
      fresh = &*fresh_.try_emplace(created.deliveries.front().seq, 0).first;
    for (auto& d : created.deliveries) {
      auto [it, inserted] = tracked_.try_emplace(d.id);
      // Known already (queued, in flight or written by the engine: a scan of the due index found
      // it first): the store or tracked_ has the current record, and this one may be stale.
      bool known = !inserted;
      Tracked& tracked = it->second;
      DueKey key{d.next_attempt_ms, d.id};
      bool queued = schedule(tracked, key, t);
      if (fresh && !known) {
        ++fresh->second;
        tracked.fresh = fresh;
        if (!queued) index_fresh(tracked, key);  // no room: left to the index, like any other
      }
      if (!queued || known || !created.durable) {
        if (tracked.idle()) tracked_.erase(it);
        continue;
      }
      while (e < created.events.size() && created.events[e]->seq != d.event_seq) ++e;
      tracked.handed_over(std::move(d), e < created.events.size() ? created.events[e] : nullptr);
    }
    if (fresh && fresh->second == 0) remove_fresh(*fresh);  // none was new to the engine
    pump();
  });
}

void Engine::webhook_deleted(std::string integration_id, std::uint64_t webhook_seq) {
  net::post(io_, [this, integration_id = std::move(integration_id), webhook_seq] {
    std::vector<Delivery> before;  // read first: a failed read must leave nothing half written
    try {
      auto listed = store_.list_deliveries_of_webhook(integration_id, webhook_seq, 0,
                                                      std::numeric_limits<std::uint64_t>::max(), true);
      std::set<std::string> ids;
      for (const auto& d : listed.items) ids.insert(d.id);
      for (const auto& [id, t] : tracked_)  // made active by a write not applied yet
        if (t.unapplied_writes > 0 && t.record->delivery.integration_id == integration_id &&
            t.record->delivery.webhook_seq == webhook_seq)
          ids.insert(id);
      for (const auto& id : ids)
        if (auto d = load(id); d && storage::is_active(d->state)) before.push_back(std::move(*d));
    } catch (const std::exception& e) {
      // Each is canceled when it falls due instead: its attempt finds the webhook gone.
      ++stat_read_failures_;
      spdlog::error("engine: reading the deliveries of a deleted webhook failed, each is canceled when due: {}",
                    e.what());
      return;
    }
    if (before.empty()) return;
    std::vector<Delivery> changed;
    for (const auto& d : before) {
      Delivery canceled = d;
      canceled.state = DeliveryState::Canceled;
      canceled.updated_at_ms = now();
      put_delivery(canceled, d);
      mark_changed_if_in_flight(d.id);
      changed.push_back(std::move(canceled));
    }
    stat_canceled_ += changed.size();
    submit(std::move(changed));
  });
}

Engine::RetryOutcome Engine::retry_now(const std::string& integration_id, const std::string& delivery_id) {
  if (!thread_.joinable()) return RetryOutcome::Unavailable;
  std::promise<RetryOutcome> outcome;
  net::post(io_, [&] {
    if (stopping_) return outcome.set_value(RetryOutcome::Unavailable);
    if (removing_.contains(delivery_id)) return outcome.set_value(RetryOutcome::NotFound);
    std::optional<Delivery> d;
    try {
      d = load(delivery_id);
    } catch (const std::exception& e) {
      ++stat_read_failures_;
      spdlog::error("delivery {}: reading its record for a manual retry failed: {}", delivery_id, e.what());
      return outcome.set_value(RetryOutcome::Unavailable);
    }
    if (!d || d->integration_id != integration_id) return outcome.set_value(RetryOutcome::NotFound);
    if (d->state == DeliveryState::Succeeded || d->state == DeliveryState::Canceled)
      return outcome.set_value(RetryOutcome::NotRetryable);
    Delivery now_due = *d;
    now_due.state = DeliveryState::Retrying;
    now_due.next_attempt_ms = now();
    now_due.updated_at_ms = now_due.next_attempt_ms;
    put_delivery(now_due, *d);
    mark_changed_if_in_flight(delivery_id);
    DueKey key{now_due.next_attempt_ms, delivery_id};
    submit({std::move(now_due)}, [this, key, &outcome](bool ok) {
      if (!ok) return outcome.set_value(RetryOutcome::Unavailable);
      // Queued already for its old time: that entry is skipped as stale when it comes up.
      Tracked& tracked = track(key.delivery_id);
      tracked.queued = false;
      schedule(tracked, key, now());
      forget_if_idle(key.delivery_id);
      pump();
      outcome.set_value(RetryOutcome::Scheduled);
    });
  });
  return outcome.get_future().get();
}

Engine::Removed Engine::remove_expired(std::vector<storage::ExpiredEvent> expired, std::int64_t cutoff_ms) {
  if (!thread_.joinable()) return {};
  std::promise<Removed> removed;
  net::post(io_, [&] {
    if (stopping_) return removed.set_value({});
    // Read first: a failed read must leave nothing half written.
    std::vector<std::pair<const storage::ExpiredEvent*, std::vector<Delivery>>> still_expired;
    try {
      for (const auto& e : expired) {
        std::vector<Delivery> current;  // the deliveries as they are now
        for (const auto& found : e.deliveries) {
          if (tracked_.contains(found.id)) break;  // the store may not have its latest state
          auto d = store_.find_delivery(found.id);
          if (!d || storage::is_active(d->state) || d->updated_at_ms >= cutoff_ms) break;
          current.push_back(std::move(*d));
        }
        if (current.size() == e.deliveries.size()) still_expired.emplace_back(&e, std::move(current));
      }
    } catch (const std::exception& ex) {
      ++stat_read_failures_;
      spdlog::error("retention: reading deliveries failed: {}", ex.what());
      return removed.set_value({});
    }
    if (still_expired.empty()) return removed.set_value({});
    Removed counts;
    std::vector<std::string> ids;
    storage::Batch& batch = outgoing_batch();
    for (const auto& [e, deliveries] : still_expired) {
      batch.delete_event(e->event, deliveries);
      for (const auto& d : deliveries) ids.push_back(d.id);
      ++counts.events;
    }
    counts.deliveries = ids.size();
    removing_.insert(ids.begin(), ids.end());
    submit({}, [this, ids = std::move(ids), counts, &removed](bool ok) {
      for (const auto& id : ids) removing_.erase(id);
      removed.set_value(ok ? counts : Removed{});
    });
  });
  return removed.get_future().get();
}

Engine::Stats Engine::stats() const {
  Stats s;
  s.in_flight = stat_in_flight_;
  s.in_memory = stat_in_memory_;
  s.tracked = stat_tracked_;
  s.attempts = stat_attempts_;
  s.attempts_failed = stat_attempts_failed_;
  s.succeeded = stat_succeeded_;
  s.failed = stat_failed_;
  s.canceled = stat_canceled_;
  s.retried = stat_retried_;
  s.connections_opened = client_.connections_opened();
  s.read_failures = stat_read_failures_;
  for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) s.latency_buckets[i] = stat_latency_[i];
  s.latency_sum_ms = stat_latency_sum_ms_;
  s.loaded = loaded_;
  return s;
}

}  // namespace hookd::engine

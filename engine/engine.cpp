#include "engine/engine.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <ctime>
#include <future>
#include <limits>
#include <random>
#include <set>

namespace hookd::engine {
namespace {

using storage::Delivery;
using storage::DeliveryState;
using storage::DueKey;

// A cursor just before every entry due at `due_ms`: delivery ids are printable, so "\x7f" sorts last.
DueKey before(std::int64_t due_ms) { return DueKey{due_ms - 1, "\x7f"}; }

}  // namespace

std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::int64_t now_ms) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  std::uint64_t seconds = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && p == value.data() + value.size()) return seconds * 1000;
  std::tm tm{};
  std::string text(value);
  if (!strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
  std::int64_t at_ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  return at_ms > now_ms ? static_cast<std::uint64_t>(at_ms - now_ms) : 0;
}

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

Engine::Tracked& Engine::track(const std::string& delivery_id) {
  return tracked_.try_emplace(delivery_id).first->second;
}

Engine::Tracked* Engine::find_tracked(const std::string& delivery_id) {
  auto it = tracked_.find(delivery_id);
  return it == tracked_.end() ? nullptr : &it->second;
}

void Engine::forget_if_idle(const std::string& delivery_id) {
  if (auto it = tracked_.find(delivery_id); it != tracked_.end() && it->second.idle()) tracked_.erase(it);
}

bool Engine::schedule(const DueKey& key, std::int64_t now) {
  bool queued = schedule(track(key.delivery_id), key, now);
  if (!queued) forget_if_idle(key.delivery_id);
  return queued;
}

bool Engine::schedule(Tracked& t, const DueKey& key, std::int64_t now) {
  if (t.queued) return false;
  if (cursor_ < key) return false;  // beyond what is loaded: a later refill finds it in the index
  if (wheel_.size() + ready_.size() + waiting_count_ < options_.memory_capacity) {
    t.queued = true;
    enqueue(key, now);
    return true;
  }
  cursor_ = std::min(cursor_, before(key.due_ms));  // no room: leave it to the index
  return false;
}

void Engine::enqueue(const DueKey& key, std::int64_t now) {
  // The wheel hands an item out at the first tick boundary at or after its due time: one due now
  // (a new delivery, a manual retry) would wait up to a tick (10 ms) for nothing.
  if (key.due_ms <= now)
    ready_.push_back(key);
  else
    wheel_.insert(key.due_ms, key);
}

void Engine::refill(std::int64_t now) {
  std::size_t held = wheel_.size() + ready_.size() + waiting_count_;
  if (held >= options_.memory_capacity) {
    loaded_ = true;  // memory is full of what is due first: the rest waits on disk by design
    return;
  }
  std::int64_t until = now + options_.horizon.count();
  if (cursor_.due_ms >= now + options_.horizon.count() / 2) return;  // loaded far enough ahead
  if (now < scan_retry_at_) return;  // the last scan failed
  std::size_t room = options_.memory_capacity - held;
  std::vector<DueKey> entries;
  try {
    entries = store_.scan_due(cursor_, until, room);
  } catch (const std::exception& e) {
    // Nothing has changed yet: the same scan is made again later.
    ++stat_read_failures_;
    spdlog::error("engine: reading the due index failed, trying again in {} ms: {}", options_.read_retry.count(),
                  e.what());
    scan_retry_at_ = now + options_.read_retry.count();
    wake_at(now, scan_retry_at_);
    return;
  }
  for (const auto& e : entries) {
    Tracked& t = track(e.delivery_id);
    if (!t.queued) {
      t.queued = true;
      enqueue(e, now);
    }
  }
  cursor_ = entries.size() < room ? before(until) : entries.back();
  loaded_ = true;
}

void Engine::pump() {
  if (stopping_) return;
  std::int64_t t = now();
  if (!store_.has_space()) {
    // Attempts could not be recorded: they would only be made again and again. Wait for space.
    wake_at(t, t + 1000);
    return;
  }
  refill(t);
  if (auto steady = std::chrono::steady_clock::now(); steady - last_idle_sweep_ > std::chrono::seconds(10)) {
    client_.close_idle();  // pooled connections unused for a while, to receivers no longer called
    last_idle_sweep_ = steady;
  }
  std::vector<DueKey> due;
  wheel_.advance(t, due);
  for (auto& k : due) ready_.push_back(std::move(k));
  start_ready();
  stat_in_memory_ = wheel_.size() + ready_.size() + waiting_count_;
  stat_tracked_ = tracked_.size();
  arm_timer(t);
}

void Engine::arm_timer(std::int64_t now) {
  std::int64_t next = now + options_.horizon.count() / 2;  // refill the wheel at least this often
  if (auto wake = wheel_.next_wakeup_ms()) next = std::min(next, *wake);
  if (!ready_.empty() && in_flight_ < options_.max_in_flight) next = now;
  wake_at(now, next);
}

void Engine::wake_at(std::int64_t now, std::int64_t at) {
  // pump() runs after every attempt; re-arming each time would cancel and re-post the wait and
  // reprogram the kernel's timer (a VM exit on virtual machines) every time. A wait that comes no
  // later is kept: waking early only runs pump() once more, which arms the timer again.
  if (timer_armed_at_ && *timer_armed_at_ <= at) return;
  timer_armed_at_ = at;
  timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, at - now)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == net::error::operation_aborted) return;  // replaced by an earlier wait, or stopping
    timer_armed_at_.reset();
    if (!ec) pump();
  });
}

void Engine::start_ready() {
  // Those waiting for a webhook were due before anything ready.
  while (!freed_.empty() && start_waiting(freed_.front())) freed_.pop_front();
  while (in_flight_ < options_.max_in_flight && !ready_.empty()) {
    std::size_t n = std::min(ready_.size(), options_.max_in_flight - in_flight_);
    // The records not held in memory (a backlog beyond memory_capacity, retries read back) are
    // read in one lookup: a MultiGet costs far less than a read each.
    std::vector<std::string> unread;
    std::vector<std::size_t> unread_at;
    for (std::size_t i = 0; i < n; ++i) {
      if (holds_record(ready_[i].delivery_id)) continue;
      unread.push_back(ready_[i].delivery_id);
      unread_at.push_back(i);
    }
    std::vector<bool> failed;
    auto read = unread.empty() ? std::vector<std::optional<Delivery>>{} : read_records(unread, failed);
    for (std::size_t i = 0, j = 0; i < n; ++i) {
      DueKey key = std::move(ready_.front());
      ready_.pop_front();
      std::optional<Delivery> record;
      if (j < unread_at.size() && unread_at[j] == i) {
        if (failed[j]) {
          ++j;
          defer(std::move(key), now());
          continue;
        }
        record = std::move(read[j++]);
      }
      start_attempt(key, std::move(record));  // adds nothing to ready_
    }
  }
}

bool Engine::start_waiting(const RecordKey& webhook) {
  // An entry found stale leaves the slot to the next: else the webhook's queue would wait for the
  // end of an attempt that was never made.
  for (;;) {
    if (in_flight_ >= options_.max_in_flight) return false;
    auto w = waiting_.find(webhook);
    if (w == waiting_.end()) return true;
    auto in_flight = in_flight_per_webhook_.find(webhook);
    if (in_flight != in_flight_per_webhook_.end() && in_flight->second >= options_.max_in_flight_per_webhook)
      return true;  // taken meanwhile by a ready entry: the end of that attempt frees it again
    DueKey key = std::move(w->second.front());
    w->second.pop_front();
    --waiting_count_;
    if (w->second.empty()) waiting_.erase(w);
    std::optional<Delivery> read;
    if (!holds_record(key.delivery_id)) {
      std::vector<bool> failed;
      read = std::move(read_records(std::span(&key.delivery_id, 1), failed)[0]);
      if (failed[0]) {
        defer(std::move(key), now());
        continue;
      }
    }
    if (start_attempt(key, std::move(read)) != Start::Dropped) return true;
  }
}

std::vector<std::optional<Delivery>> Engine::read_records(std::span<const std::string> ids, std::vector<bool>& failed) {
  failed.assign(ids.size(), false);
  try {
    return store_.find_deliveries(ids);
  } catch (const std::exception&) {
    // The lookup does not tell which record failed: read each alone.
  }
  std::vector<std::optional<Delivery>> read(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    try {
      read[i] = store_.find_delivery(ids[i]);
    } catch (const std::exception& e) {
      failed[i] = true;
      ++stat_read_failures_;
      spdlog::error("delivery {}: reading its record failed, it is tried again later: {}", ids[i], e.what());
    }
  }
  return read;
}

void Engine::defer(DueKey key, std::int64_t now) {
  // Each failure in a row doubles the wait, up to 64 times read_retry: a record that stays
  // unreadable costs a read and a line of the log about once a minute, not every second.
  int doublings = 0;
  if (Tracked* t = find_tracked(key.delivery_id)) {
    doublings = t->failed_reads;
    if (t->failed_reads < 6) ++t->failed_reads;
  }
  wheel_.insert(now + (options_.read_retry.count() << doublings), std::move(key));
}

bool Engine::holds_record(const std::string& delivery_id) const {
  auto it = tracked_.find(delivery_id);
  return it != tracked_.end() && (it->second.in_flight || it->second.record);
}

Engine::Start Engine::start_attempt(const DueKey& key, std::optional<Delivery> read) {
  // Usually tracked: not if this entry is a stale one whose delivery was done and forgotten.
  Tracked* t = find_tracked(key.delivery_id);
  if (t) {
    t->queued = false;
    // One attempt of a delivery at a time; the one in flight reschedules it when it ends.
    if (t->in_flight) return Start::Dropped;
  }
  auto d = t && t->record ? t->record->delivery : std::move(read);
  // Stale: finished, canceled, or rescheduled (a manual retry) since this entry was loaded.
  if (!d || !storage::is_active(d->state) || d->next_attempt_ms != key.due_ms) {
    if (t) {
      t->drop_handed_over();
      forget_if_idle(key.delivery_id);
    }
    return Start::Dropped;
  }
  if (!t) t = &track(key.delivery_id);  // the last insert into tracked_ here: `t` stays valid
  RecordKey wkey{d->integration_id, d->webhook_seq};
  auto& webhook_in_flight = in_flight_per_webhook_[wkey];
  if (webhook_in_flight >= options_.max_in_flight_per_webhook) {
    t->queued = true;
    waiting_[wkey].push_back(key);  // this webhook is busy; others go on
    ++waiting_count_;
    return Start::Waits;
  }
  t->in_flight = true;
  t->changed_in_flight = false;
  ++webhook_in_flight;
  ++in_flight_;
  ++stat_in_flight_;
  auto event = t->record ? t->record->event : nullptr;
  net::co_spawn(io_, attempt(std::move(*d), std::move(event), std::move(wkey)), net::detached);
  return Start::Started;
}

void Engine::finish(const RecordKey& wkey, const std::string& delivery_id) {
  --in_flight_;
  --stat_in_flight_;
  if (auto t = tracked_.find(delivery_id); t != tracked_.end()) {
    t->second.in_flight = false;
    t->second.changed_in_flight = false;
    t->second.failed_reads = 0;  // an attempt was made; attempt() restores the count if it failed
    if (t->second.idle()) tracked_.erase(t);
  }
  auto it = in_flight_per_webhook_.find(wkey);
  if (--it->second == 0) in_flight_per_webhook_.erase(it);
  if (waiting_.contains(wkey)) freed_.push_back(wkey);  // its next takes the slot
  net::post(io_, [this] { pump(); });
}

void Engine::mark_changed_if_in_flight(const std::string& delivery_id) {
  if (Tracked* t = find_tracked(delivery_id); t && t->in_flight) t->changed_in_flight = true;
}

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
  outgoing_batch().put_due(key);
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
            cursor_ = std::min(cursor_, before(*indexed_from));  // a scan may have passed them unwritten
            pump();
          }
          for (const auto& d : done) d(status.is_ok());
        });
      },
      durability);
}

net::awaitable<void> Engine::attempt(Delivery d, std::shared_ptr<const storage::Event> event, RecordKey wkey) {
  DueKey key{d.next_attempt_ms, d.id};
  std::optional<DueKey> next;
  std::optional<std::uint8_t> failed_reads;  // set if the attempt failed inside hookd
  try {
    next = co_await make_attempt(std::move(d), std::move(event));
  } catch (const std::exception& e) {
    // A store read failed (the webhook, the event, the record after a change): nothing was
    // written, and the delivery keeps its due entry.
    ++stat_read_failures_;
    spdlog::error("delivery {}: attempt failed inside hookd, it is tried again later: {}", key.delivery_id, e.what());
    Tracked* t = find_tracked(key.delivery_id);  // in flight, so tracked
    t->drop_handed_over();  // whoever picks it up again reads the store
    failed_reads = t->failed_reads;
  }
  finish(wkey, key.delivery_id);  // may forget it; counts its failed reads from 0 again
  if (next) schedule(*next, now());
  if (failed_reads) {
    // Queued again here: the cursor has passed its due entry, so no scan would find it.
    Tracked& t = track(key.delivery_id);
    t.failed_reads = *failed_reads;
    if (!t.queued) {
      t.queued = true;
      defer(std::move(key), now());
    }
  }
}

net::awaitable<std::optional<DueKey>> Engine::make_attempt(Delivery d, std::shared_ptr<const storage::Event> event) {
  Delivery started_as = d;
  auto webhook = records_.webhook(d.integration_id, d.webhook_seq);
  if (!event) event = records_.event(d.integration_id, d.event_seq);
  if (!webhook || !event) {  // the webhook was deleted (or its event purged): nothing to deliver
    spdlog::info("delivery {} canceled: its webhook or event is gone", d.id);
    d.state = DeliveryState::Canceled;
    d.updated_at_ms = now();
    put_delivery(d, started_as);
    ++stat_canceled_;
    submit({std::move(d)});
    co_return std::nullopt;
  }

  // The webhook's current url and secret, at every attempt.
  std::int64_t started_ms = now();
  auto signature = webhook->signer.sign(d.id, started_ms / 1000, event->data_json);
  std::shared_ptr<const std::string> body(event, &event->data_json);  // shares the event's ownership
  OutgoingRequest request{webhook->record.url, std::move(body),
                          {{"Gigapay-Signature", std::move(signature.gigapay_signature)},
                           {"Webhook-Id", d.id},
                           {"Webhook-Timestamp", std::to_string(started_ms / 1000)},
                           {"Webhook-Signature", std::move(signature.webhook_signature)},
                           {"Webhook-Event", event->type}}};
  auto steady_start = std::chrono::steady_clock::now();
  ClientResult result = co_await client_.post(request);
  auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - steady_start);
  ++stat_attempts_;
  auto ms = static_cast<std::uint32_t>(duration.count());
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketsMs.size() && ms > kLatencyBucketsMs[bucket]) ++bucket;
  ++stat_latency_[bucket];
  stat_latency_sum_ms_ += ms;

  storage::Attempt record{d.attempts + 1,          started_ms,    static_cast<std::uint32_t>(duration.count()),
                          result.status,           std::string(to_string(result.error)), std::move(result.body_prefix)};
  if (result.error != ErrorKind::None || result.status < 200 || result.status >= 300)
    spdlog::info("delivery {} (event {}, webhook {}) attempt {} failed: {}", d.id, event->id, webhook->record.id,
                 record.number, result.error != ErrorKind::None ? result.detail : "status " + std::to_string(result.status));

  // The delivery may have been canceled or manually rescheduled while this was in flight: only
  // then is it read again. Else it is as it started, and so is `d` still.
  bool changed = find_tracked(d.id)->changed_in_flight;  // in flight, so tracked
  std::optional<Delivery> reread = changed ? load(d.id) : std::nullopt;
  if (reread) d = *reread;
  const Delivery& current = reread ? *reread : started_as;
  d.attempts = record.number;
  d.updated_at_ms = now();
  bool success = result.error == ErrorKind::None && result.status >= 200 && result.status < 300;
  if (!success) ++stat_attempts_failed_;
  std::optional<std::uint64_t> delay;
  if (current.state == DeliveryState::Canceled) {
    // stays canceled; the attempt is still recorded
  } else if (success) {
    d.state = DeliveryState::Succeeded;
    ++stat_succeeded_;
  } else if (current.next_attempt_ms != started_as.next_attempt_ms) {
    // A manual retry asked for another attempt meanwhile: keep its time.
  } else {
    AttemptResult outcome{false, result.status, parse_retry_after(result.retry_after, d.updated_at_ms)};
    delay = policy_.next_delay_ms(record.number, outcome, options_.random_unit());
    if (delay) {
      d.state = DeliveryState::Retrying;
      d.next_attempt_ms = d.updated_at_ms + static_cast<std::int64_t>(*delay);
      ++stat_retried_;
    } else {
      d.state = DeliveryState::Failed;
      ++stat_failed_;
    }
  }
  storage::Batch& batch = outgoing_batch();
  if (d.last_attempt) batch.put_attempt(d.id, *d.last_attempt);  // no longer the latest
  d.last_attempt = std::move(record);
  put_delivery(d, current);
  DueKey next{d.next_attempt_ms, d.id};
  bool active = storage::is_active(d.state);
  // Not awaited: load() sees the new state at once, and a crash before the write is applied only
  // means the attempt is made again (delivery is at-least-once).
  submit({std::move(d)});
  if (!active) co_return std::nullopt;
  co_return next;
}

}  // namespace hookd::engine

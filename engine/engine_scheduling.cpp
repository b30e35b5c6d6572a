// The engine's scheduling: what is queued, loaded from the due index, started and finished, and
// what the engine knows of each delivery meanwhile (tracked_).
#include "engine/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hookd::engine {

using storage::Delivery;
using storage::DueKey;

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
  cursor_ = std::min(cursor_, DueKey::before(key.due_ms));  // no room: leave it to the index
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
  cursor_ = entries.size() < room ? DueKey::before(until) : entries.back();
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

}  // namespace hookd::engine

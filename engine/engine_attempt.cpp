// One attempt of a delivery: signing, the request, and the record of its result.
#include "engine/engine.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <ctime>

namespace hookd::engine {

using storage::Delivery;
using storage::DeliveryState;
using storage::DueKey;

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

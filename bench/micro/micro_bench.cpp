// Google Benchmark micro benchmarks of hookd's hot paths: signing, event JSON, the timer wheel,
// delivery-state writes, a fan-out's writes and request routing. Run: build/bench/hookd_micro
// (see bench/README.md).
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "api/router.hpp"
#include "engine/timer_wheel.hpp"
#include "signing/crypto.hpp"
#include "signing/signature.hpp"
#include "storage/crc32c.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd {
namespace {

const std::string kSecret = "0123456789abcdefghijklmnopqrstuv";
const std::string kBody(1024, 'x');

// Both headers (Gigapay-Signature and Standard Webhooks' Webhook-Signature), as an attempt makes them.
void BM_SignBothSchemes1KiB(benchmark::State& state) {
  std::string_view secrets[] = {kSecret};
  for (auto _ : state) benchmark::DoNotOptimize(signing::sign(secrets, "3f1c8b1e-delivery", 1'790'000'000, kBody));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBody.size() * 2));
}
BENCHMARK(BM_SignBothSchemes1KiB);

// The same with the webhook's Signer kept, as the engine keeps one per cached webhook.
void BM_SignBothSchemesKeptSigner1KiB(benchmark::State& state) {
  std::string_view secrets[] = {kSecret};
  signing::Signer signer(secrets);
  for (auto _ : state) benchmark::DoNotOptimize(signer.sign("3f1c8b1e-delivery", 1'790'000'000, kBody));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBody.size() * 2));
}
BENCHMARK(BM_SignBothSchemesKeptSigner1KiB);

// One scheme with a key context made once and reused.
void BM_HmacReusedKey1KiB(benchmark::State& state) {
  signing::Hmac mac(kSecret);
  for (auto _ : state) benchmark::DoNotOptimize(mac.digest({"1790000000", ".", kBody}));
}
BENCHMARK(BM_HmacReusedKey1KiB);

// One scheme with OpenSSL's one-shot HMAC().
void BM_HmacOneShot1KiB(benchmark::State& state) {
  std::string message = "1790000000." + kBody;
  for (auto _ : state) benchmark::DoNotOptimize(signing::hmac_sha256(kSecret, message));
}
BENCHMARK(BM_HmacOneShot1KiB);

// RocksDB's checksum of a 1 KiB log or blob record: hookd's CRC-32C as chosen for this CPU
// (storage/crc32c.hpp), and its portable fallback (a byte at a time, for CPUs without the crc32
// instruction; RocksDB's own software CRC-32C, which this replaces, does about 1 GB/s here).
void BM_Crc32c1KiB(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(storage::crc32c_extend(0, kBody.data(), kBody.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBody.size()));
}
BENCHMARK(BM_Crc32c1KiB);

void BM_Crc32cPortable1KiB(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(storage::crc32c_extend_portable(0, kBody.data(), kBody.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBody.size()));
}
BENCHMARK(BM_Crc32cPortable1KiB);

std::string event_request() {
  boost::json::object data{{"amount", "100.00"}, {"currency", "SEK"}, {"pad", std::string(960, 'x')}};
  return boost::json::serialize(boost::json::object{{"id", "evt_1"}, {"type", "Payout.created"}, {"data", data}});
}

// What ingress does with a published event: parse the request, serialize its data for storage.
void BM_ParseAndWriteEventJson(benchmark::State& state) {
  std::string request = event_request();
  for (auto _ : state) {
    boost::json::value v = boost::json::parse(request);
    benchmark::DoNotOptimize(boost::json::serialize(v.at("data")));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * request.size()));
}
BENCHMARK(BM_ParseAndWriteEventJson);

// Insert state.range(0) entries spread over a minute, then advance through all of them.
void BM_TimerWheelInsertAndExpire(benchmark::State& state) {
  auto n = static_cast<std::int64_t>(state.range(0));
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(n));
  for (auto _ : state) {
    engine::TimerWheel<std::int64_t> wheel(0);
    for (std::int64_t i = 0; i < n; ++i) wheel.insert((i * 7919) % 60'000, i);
    out.clear();
    for (std::int64_t t = 0; t <= 60'000; t += 10) wheel.advance(t, out);
    if (static_cast<std::int64_t>(out.size()) != n) state.SkipWithError("entries lost");
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TimerWheelInsertAndExpire)->Arg(1'000)->Arg(100'000);

// A store in a fresh directory that never refuses a write for want of disk space.
struct ScratchStore {
  static storage::Store::Options options(const test::TempDir& dir) {
    storage::Store::Options o;
    o.path = dir.str();
    o.min_free_bytes = 0;
    return o;
  }
  test::TempDir dir;
  storage::Store store{options(dir)};
};

// The write an attempt makes: the delivery's new state with its latest attempt, its due-index
// move, and the attempt before it moved into the attempts family.
void delivery_write(benchmark::State& state, bool sync) {
  ScratchStore scratch;
  storage::Store& store = scratch.store;
  storage::Delivery d;
  d.id = signing::uuid4();
  d.integration_id = "integration";
  d.seq = 1, d.event_seq = 1, d.webhook_seq = 1, d.next_attempt_ms = 1'000;
  storage::Attempt attempt{1, 1'000, 12, 500, "", "internal error"};
  for (auto _ : state) {
    storage::Delivery next = d;
    next.attempts = d.attempts + 1;
    next.state = storage::DeliveryState::Retrying;
    next.next_attempt_ms = d.next_attempt_ms + 10'000;
    next.last_attempt = attempt;
    next.last_attempt->number = next.attempts;
    storage::Batch batch = store.batch();
    if (d.last_attempt) batch.put_attempt(d.id, *d.last_attempt);
    batch.put_delivery(next, d);
    auto status = sync ? store.write(batch) : store.write_unsynced(batch);
    if (!status.is_ok()) state.SkipWithError(status.message().c_str());
    d = next;
  }
}
void BM_DeliveryStateWriteUnsynced(benchmark::State& state) { delivery_write(state, false); }
void BM_DeliveryStateWriteSynced(benchmark::State& state) { delivery_write(state, true); }
BENCHMARK(BM_DeliveryStateWriteUnsynced);
BENCHMARK(BM_DeliveryStateWriteSynced);

// The group committer's work in `fanout10`, per delivery, without the disk's sync or the other
// threads' noise: each round writes one group of ten events with ten deliveries each (event,
// id index, delivery records, their indexes and each event's fresh entry), then the results of
// the first attempts of the deliveries created eight rounds earlier, in shuffled order as
// attempts end (record with its attempt), and the removal of their fresh entries.
// items_per_second counts deliveries: its inverse is the CPU per delivery.
void BM_FanoutRoundWrites(benchmark::State& state) {
  ScratchStore scratch;
  storage::Store& store = scratch.store;
  std::mt19937 random(1);
  std::deque<std::vector<storage::Delivery>> in_flight;
  std::int64_t now = 1'790'000'000'000;
  std::uint64_t event_seq = 0, delivery_seq = 0;
  for (auto _ : state) {
    std::vector<storage::Batch> group;
    std::vector<storage::Delivery> created;
    for (int e = 0; e < 10; ++e) {
      storage::Batch batch = store.batch();
      storage::Event event{"integration-0001", ++event_seq, signing::uuid4(), "Payout.created", kBody, now};
      batch.put_event(event);
      std::size_t first = created.size();
      for (std::uint64_t webhook = 1; webhook <= 10; ++webhook) {
        storage::Delivery d;
        d.id = signing::uuid7(now);
        d.integration_id = event.integration_id;
        d.seq = ++delivery_seq, d.event_seq = event.seq, d.webhook_seq = webhook;
        d.next_attempt_ms = d.created_at_ms = d.updated_at_ms = now;
        created.push_back(std::move(d));
      }
      batch.put_new_deliveries(std::span(created).subspan(first), storage::NewDue::Fresh);
      group.push_back(std::move(batch));
    }
    if (!store.write_all(group, false).is_ok()) state.SkipWithError("write failed");
    in_flight.push_back(std::move(created));
    ++now;
    if (in_flight.size() <= 8) continue;
    std::vector<storage::Delivery> ended = std::move(in_flight.front());
    in_flight.pop_front();
    std::shuffle(ended.begin(), ended.end(), random);
    std::vector<storage::Batch> results;
    results.push_back(store.batch());
    for (const auto& d : ended) {
      storage::Delivery done = d;
      done.attempts = 1;
      done.state = storage::DeliveryState::Succeeded;
      done.updated_at_ms = now;
      done.last_attempt = storage::Attempt{1, now, 3, 200, "", ""};  // the latest attempt: in the record
      results.back().put_delivery(done, d, storage::NewDue::Fresh);
      if (d.webhook_seq == 1) results.back().delete_fresh(d.seq);  // its event's first delivery
    }
    if (!store.write_all(results, false).is_ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_FanoutRoundWrites);

// The engine's look ahead into the due index (every 30 s and at start, and whenever room frees
// up while a backlog waits beyond its memory) over a memtable that the writes of `state.range(0)`
// deliveries filled as a backlog beyond the engine's memory does (`fanout1000`): each entry put,
// then removed by its delivery's result. (New deliveries the engine holds write no due entry
// since step 56.) The price of the due family's memtable to its only reader (bench/RESULTS.md: an
// appending one was tried and cost three times as much).
void BM_DueScanAfterWrites(benchmark::State& state) {
  ScratchStore scratch;
  storage::Store& store = scratch.store;
  std::int64_t now = 1'790'000'000'000;
  const auto n = static_cast<std::uint64_t>(state.range(0));
  for (std::uint64_t i = 0; i < n; i += 100) {
    storage::Batch batch = store.batch();
    std::vector<storage::Delivery> created(100);
    for (std::uint64_t k = 0; k < 100; ++k) {
      auto& d = created[k];
      d.id = signing::uuid7(now);
      d.integration_id = "integration-0001";
      d.seq = i + k + 1, d.event_seq = (i + k) / 10 + 1, d.webhook_seq = k % 10 + 1;
      d.next_attempt_ms = d.created_at_ms = d.updated_at_ms = now;
    }
    batch.put_new_deliveries(created);
    for (const auto& d : created) {
      storage::Delivery done = d;
      done.attempts = 1;
      done.state = storage::DeliveryState::Succeeded;
      batch.put_delivery(done, d);
    }
    if (!store.write_unsynced(batch).is_ok()) state.SkipWithError("write failed");
    ++now;
  }
  for (auto _ : state) benchmark::DoNotOptimize(store.scan_due({}, now + 60'000, 100'000));
}
BENCHMARK(BM_DueScanAfterWrites)->Arg(20'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// Routing a request among routes shaped like hookd's API.
void BM_RouteRequest(benchmark::State& state) {
  api::Router router;
  auto ok = [](api::Context&) { return api::Response{http::status::ok, 11}; };
  for (const char* pattern : {"/healthz", "/readyz", "/metrics", "/v2/webhooks/", "/v2/webhooks/:id/",
                              "/v2/webhooks/:id/deliveries/", "/v2/events/", "/v2/events/batch/", "/v2/events/:id/",
                              "/v2/deliveries/:id/retry/"}) {
    router.add(http::verb::get, pattern, ok);
    router.add(http::verb::post, pattern, ok);
  }
  api::Request request{http::verb::get, "/v2/webhooks/3f1c8b1e-5d2a-4e8f-9a7b-1c2d3e4f5a6b/deliveries/?page=2", 11};
  for (auto _ : state) {
    auto target = boost::urls::parse_origin_form(request.target());
    api::Context ctx{request, *target, {}, "http://localhost", {}, nullptr, {}, {}};
    benchmark::DoNotOptimize(router.route(ctx));
  }
}
BENCHMARK(BM_RouteRequest);

}  // namespace
}  // namespace hookd

BENCHMARK_MAIN();

// hookd_load: measures hookd end to end against this machine's ceiling. See bench/README.md.
//
// One run: start a receiver; post the scenario's deliveries straight to it, signed, without hookd
// (the ceiling, "direct"); start a hookd on a fresh data directory (or use a running one), register
// the webhooks, publish the events, wait for every delivery; print one JSON line. Exit status 1 on
// any missing delivery, bad signature or publish answered with a server error.
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "bench/load/publisher.hpp"
#include "bench/load/receiver.hpp"
#include "bench/load/stats.hpp"
#include "daemon/settings.hpp"
#include "engine/delivery_client.hpp"
#include "signing/crypto.hpp"
#include "signing/signature.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/tls_certs.hpp"

namespace hookd::bench {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Config {
  std::string scenario = "custom";
  std::size_t webhooks = 1;
  bool spread = false;            // webhooks spread over the event catalog (else all on one type)
  std::size_t events = 20'000;
  std::size_t connections = 64;
  std::size_t batch = 100;
  double rate = 0;
  bool https = false;
  std::size_t failing_webhooks = 0;
  double fail_rate = 0;
  std::size_t delay_ms = 0;
  std::size_t body_bytes = 1024;
  std::string mode = "both";      // both, hookd, direct
  bool retries = false;           // the scheduled-retries scenario
  std::size_t stall_seconds = 60; // give up when no delivery arrives for this long
  std::size_t warmup = 0;         // events published and delivered before the measured round
  std::vector<std::string> hookd_settings;  // --set key=value: passed on to the hookd the tool starts
  std::string ack_log;            // --ack-log FILE: every acknowledgement of the measured round
  std::string hookd_log;          // --hookd-log FILE: the log of the hookd the tool started, at its end
  // A running hookd instead of a fresh one.
  std::uint16_t api_port = 0;
  std::string key, integration;
  pid_t pid = 0;
};

// Presets: the scenarios of bench/README.md. Flags after --scenario adjust them.
void apply_scenario(Config& c, const std::string& name) {
  c.scenario = name;
  if (name == "one") {
    c.webhooks = 1, c.events = 50'000;
  } else if (name == "fanout10") {
    c.webhooks = 10, c.events = 10'000;
  } else if (name == "fanout1000") {
    c.webhooks = 1000, c.spread = true, c.events = 2'000;
  } else if (name == "https") {
    c.webhooks = 1, c.events = 50'000, c.https = true;
  } else if (name == "failing") {
    c.webhooks = 10, c.events = 10'000, c.failing_webhooks = 1, c.fail_rate = 0.2;
  } else if (name == "slow") {
    c.webhooks = 10, c.events = 1'000, c.delay_ms = 200;
  } else if (name == "ingress") {
    c.webhooks = 0, c.events = 100'000, c.batch = 1, c.mode = "hookd";
  } else if (name == "ingress-batch") {
    c.webhooks = 0, c.events = 500'000, c.batch = 100, c.mode = "hookd";
  } else if (name == "latency") {
    c.webhooks = 1, c.events = 50'000, c.batch = 1, c.rate = 10'000, c.connections = 256;
  } else if (name == "latency-steady") {
    // `latency` past hookd's start, with the settings meant for such a load (RESULTS.md, steps 58
    // and 60).
    apply_scenario(c, "latency");
    c.scenario = name, c.warmup = 20'000;
    c.hookd_settings.insert(c.hookd_settings.end(), {"storage.commit_delay_us=2000", "storage.background_priority=idle"});
  } else if (name == "retries") {
    c.webhooks = 10, c.events = 100'000, c.failing_webhooks = 10, c.fail_rate = 1, c.retries = true, c.mode = "hookd";
  } else {
    throw std::invalid_argument("unknown scenario " + name);
  }
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&] { return std::stod(value()); };
    if (flag == "--scenario") apply_scenario(c, value());
    else if (flag == "--webhooks") c.webhooks = static_cast<std::size_t>(number());
    else if (flag == "--spread") c.spread = true;
    else if (flag == "--events") c.events = static_cast<std::size_t>(number());
    else if (flag == "--connections") c.connections = static_cast<std::size_t>(number());
    else if (flag == "--batch") c.batch = static_cast<std::size_t>(number());
    else if (flag == "--rate") c.rate = number();
    else if (flag == "--https") c.https = true;
    else if (flag == "--failing-webhooks") c.failing_webhooks = static_cast<std::size_t>(number());
    else if (flag == "--fail-rate") c.fail_rate = number();
    else if (flag == "--delay-ms") c.delay_ms = static_cast<std::size_t>(number());
    else if (flag == "--body-bytes") c.body_bytes = static_cast<std::size_t>(number());
    else if (flag == "--mode") c.mode = value();
    else if (flag == "--stall-seconds") c.stall_seconds = static_cast<std::size_t>(number());
    else if (flag == "--warmup") c.warmup = static_cast<std::size_t>(number());
    else if (flag == "--set") c.hookd_settings.push_back(value());
    else if (flag == "--ack-log") c.ack_log = value();
    else if (flag == "--hookd-log") c.hookd_log = value();
    else if (flag == "--api-port") c.api_port = static_cast<std::uint16_t>(number());
    else if (flag == "--key") c.key = value();
    else if (flag == "--integration") c.integration = value();
    else if (flag == "--pid") c.pid = static_cast<pid_t>(number());
    else throw std::invalid_argument("unknown flag " + flag + " (see bench/README.md)");
  }
  if (c.mode != "both" && c.mode != "hookd" && c.mode != "direct") throw std::invalid_argument("--mode: both, hookd or direct");
  if (!c.ack_log.empty() && c.mode == "direct") throw std::invalid_argument("--ack-log: hookd's acknowledgements, not with --mode direct");
  if (c.batch == 0 || c.connections == 0) throw std::invalid_argument("--batch and --connections must be at least 1");
  if (c.warmup > 0 && c.retries) throw std::invalid_argument("--warmup: not with the retries scenario");
  if (!c.hookd_settings.empty() && c.api_port != 0)
    throw std::invalid_argument("--set (and latency-steady's settings): only for the hookd the tool starts");
  for (const auto& setting : c.hookd_settings)
    if (setting.find('=') == std::string::npos) throw std::invalid_argument("--set: key=value, not " + setting);
  return c;
}

// Which webhooks get which events: webhook w subscribes to type_of_webhook(w).
struct Plan {
  std::vector<std::string> catalog = default_event_types();
  const Config& config;
  std::string type_of_event(std::size_t n) const { return config.spread ? catalog[n % catalog.size()] : catalog[0]; }
  std::string type_of_webhook(std::size_t w) const { return config.spread ? catalog[w % catalog.size()] : catalog[0]; }
  bool subscribed(std::size_t w, std::size_t n) const {
    return !config.spread || w % catalog.size() == n % catalog.size();
  }
  std::vector<std::uint32_t> expected() const {
    std::vector<std::uint32_t> out(config.events, 0);
    for (std::size_t n = 0; n < config.events; ++n)
      for (std::size_t w = 0; w < config.webhooks; ++w) out[n] += subscribed(w, n);
    return out;
  }
};

// In `retries`, how long each delivery waits after its failed first attempt.
constexpr std::chrono::seconds kRetryWait{240};

// Waits until nothing is missing, or nothing arrived for `stall`.
void wait_for_deliveries(const Receiver& receiver, std::chrono::seconds stall) {
  std::uint64_t seen = 0;
  auto progress = std::chrono::steady_clock::now();
  while (receiver.missing() > 0) {
    std::this_thread::sleep_for(20ms);  // polling another process's progress: there is no event to await
    std::uint64_t now = receiver.tally().requests;
    if (now != seen) seen = now, progress = std::chrono::steady_clock::now();
    if (std::chrono::steady_clock::now() - progress > stall) return;
  }
}

// Posts every delivery of the plan straight to the receiver, signed as hookd signs, over the
// same client hookd uses with as many in flight as hookd allows. Returns deliveries per second.
double run_direct(const Config& c, const Plan& plan, Receiver& receiver, const std::vector<std::string>& secrets,
                  const std::string& ca_file) {
  receiver.expect(secrets, plan.expected());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> work;  // (event, webhook)
  for (std::size_t n = 0; n < c.events; ++n)
    for (std::size_t w = 0; w < c.webhooks; ++w)
      if (plan.subscribed(w, n)) work.emplace_back(static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(w));
  net::io_context io{1};
  engine::ClientOptions options;
  options.allow_private_targets = true;
  options.ca_file = ca_file;
  engine::DeliveryClient client(io.get_executor(), options);
  std::size_t next = 0;
  std::string base = receiver.base_url();
  std::vector<signing::Signer> signers;  // one per webhook, kept, as hookd keeps them
  signers.reserve(secrets.size());
  for (const auto& secret : secrets) signers.emplace_back(std::array<std::string_view, 1>{secret});
  auto worker = [&]() -> net::awaitable<void> {
    for (std::size_t i = next++; i < work.size(); i = next++) {
      auto [n, w] = work[i];
      std::string id = "direct-" + std::to_string(n) + "-" + std::to_string(w);
      auto body = std::make_shared<const std::string>(event_data(n, now_ns(), c.body_bytes));
      auto ts = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      auto sig = signers[w].sign(id, ts, *body);
      engine::OutgoingRequest request{base + "/hook/" + std::to_string(w), body,
                                      {{"Gigapay-Signature", std::move(sig.gigapay_signature)},
                                       {"Webhook-Id", id},
                                       {"Webhook-Timestamp", std::to_string(ts)},
                                       {"Webhook-Signature", std::move(sig.webhook_signature)},
                                       {"Webhook-Event", plan.type_of_webhook(w)}}};
      for (int attempt = 0; attempt < 100; ++attempt) {  // a failing receiver: again, as a retry would
        auto result = co_await client.post(request);
        if (result.error == engine::ErrorKind::None && result.status / 100 == 2) break;
      }
    }
  };
  std::size_t in_flight = std::min<std::size_t>({16 * c.webhooks, 1024, work.size()});
  std::int64_t start = now_ns();
  for (std::size_t i = 0; i < in_flight; ++i) net::co_spawn(io, worker(), net::detached);
  io.run();
  double seconds = static_cast<double>(now_ns() - start) / 1e9;
  return static_cast<double>(receiver.tally().unique) / seconds;
}

// A hookd of ours, on a fresh data directory next to the build.
struct OwnHookd {
  test::TempDir dir;
  std::unique_ptr<test::DaemonProcess> process;
  std::uint16_t port = 0;
  std::string key, integration;
};

std::unique_ptr<OwnHookd> start_hookd(const Config& c, const std::string& ca_file) {
  auto h = std::make_unique<OwnHookd>();
  std::map<std::string, std::string> env = {
      {"HOOKD_DELIVERY_ALLOW_PRIVATE_TARGETS", "true"},
      {"HOOKD_RETRY_BASE_DELAY_MS", "100"},
      {"HOOKD_RETRY_FACTOR", "2"},
  };
  if (!ca_file.empty()) env["HOOKD_DELIVERY_CA_FILE"] = ca_file;
  if (c.retries) env["HOOKD_RETRY_SCHEDULE_MS"] = std::to_string(std::chrono::milliseconds(kRetryWait).count());
  std::vector<std::string> args{"--listen", "127.0.0.1:0", "--data-dir", h->dir.str() + "/data"};
  for (const auto& setting : c.hookd_settings) args.insert(args.end(), {"--set", setting});
  h->process = std::make_unique<test::DaemonProcess>(args, env);
  int port = h->process->wait_ready();
  if (port == 0) throw std::runtime_error("hookd did not start: " + h->process->err());
  h->port = static_cast<std::uint16_t>(port);
  h->integration = test::banner_value(h->process->out(), "  Integration-ID: ");
  h->key = test::banner_value(h->process->out(), "  Authorization: Token ");
  return h;
}

// A sample of hookd's /metrics; -1 if it has none by that name.
double hookd_metric(std::uint16_t port, const std::string& name) {
  test::HttpClient http(port);
  return test::metric_sample(http.request(http::verb::get, "/metrics").body, name);
}

// Steal fractions further apart than this make the direct ceiling and hookd's round unlike.
constexpr double kComparableSteal = 0.05;

int run(const Config& c) {
  test::TempDir scratch;
  std::optional<test::TlsFiles> tls;
  ReceiverOptions receiver_options;
  if (c.https) {
    tls = test::make_tls_files(scratch.str());
    receiver_options.tls = test::CertificateFiles{tls->server_cert, tls->server_key};
  }
  receiver_options.failing_webhooks = c.failing_webhooks;
  receiver_options.fail_rate = c.fail_rate;
  receiver_options.delay = std::chrono::milliseconds(c.delay_ms);
  Receiver receiver(receiver_options);
  std::string ca_file = tls ? tls->ca_cert : "";
  Plan plan{.config = c};
  std::uint64_t expected_total = 0;
  for (auto e : plan.expected()) expected_total += e;

  JsonLine out;
  out.add("scenario", c.scenario).add("webhooks", std::uint64_t{c.webhooks}).add("events", std::uint64_t{c.events});
  out.add("deliveries", expected_total).add("connections", std::uint64_t{c.connections}).add("batch", std::uint64_t{c.batch});
  out.add("rate", c.rate, 0).add("https", c.https).add("body_bytes", std::uint64_t{c.body_bytes});
  out.add("fail_rate", c.fail_rate).add("failing_webhooks", std::uint64_t{c.failing_webhooks});
  out.add("delay_ms", std::uint64_t{c.delay_ms});
  if (!c.hookd_settings.empty()) {
    std::string settings;
    for (const auto& setting : c.hookd_settings) settings += (settings.empty() ? "" : " ") + setting;
    out.add("hookd_settings", settings);
  }
  bool ok = true;

  std::optional<double> direct;
  if (c.mode != "hookd" && expected_total > 0) {
    std::vector<std::string> secrets;
    for (std::size_t w = 0; w < c.webhooks; ++w) secrets.push_back(signing::random_alnum(32));
    MachineTime machine_before = machine_time();
    double cpu_before = process_usage(::getpid()).cpu_seconds;
    direct = run_direct(c, plan, receiver, secrets, ca_file);
    out.add("direct_delivery_rate", *direct, 0);
    // What the same signing and HTTP cost without hookd: the direct client and the receiver.
    out.add("direct_cpu_us_per_delivery",
            (process_usage(::getpid()).cpu_seconds - cpu_before) * 1e6 / static_cast<double>(expected_total), 1);
    out.add("direct_machine_steal_fraction", machine_shares(machine_before, machine_time()).steal, 3);
    auto t = receiver.tally();
    if (receiver.missing() > 0 || t.bad_signatures > 0) ok = false;
  }

  if (c.mode != "direct") {
    std::unique_ptr<OwnHookd> own;
    std::uint16_t port = c.api_port;
    std::string key = c.key, integration = c.integration;
    pid_t pid = c.pid;
    if (port == 0) {
      own = start_hookd(c, ca_file);
      port = own->port, key = own->key, integration = own->integration, pid = own->process->pid();
    }
    test::ApiClient api(port, key, integration);
    std::vector<std::string> secrets;
    for (std::size_t w = 0; w < c.webhooks; ++w) {
      auto res = api.post("/v2/webhooks/", {{"url", receiver.base_url() + "/hook/" + std::to_string(w)},
                                            {"events", json::array{json::value(plan.type_of_webhook(w))}}});
      if (res.status != 201) throw std::runtime_error("cannot create a webhook: " + res.body);
      secrets.emplace_back(res.json().at("secret_key").as_string());
    }
    PublishOptions p;
    p.port = port, p.key = key, p.integration = integration, p.connections = c.connections;
    p.batch = c.batch, p.rate = c.rate, p.body_bytes = c.body_bytes;
    p.type_of = [&](std::size_t n) { return plan.type_of_event(n); };
    if (c.warmup > 0) {
      // The same work on the same webhooks, delivered in full before anything is measured: hookd
      // then runs with its memory touched, its connections open and its memtables in use.
      Config warm_config = c;
      warm_config.events = c.warmup;
      Plan warm{.config = warm_config};
      receiver.expect(secrets, warm.expected());
      p.events = c.warmup;
      p.run_id = "warmup-" + signing::random_alnum(8);
      PublishResult warmed = publish(p);
      if (!warmed.error.empty()) throw std::runtime_error("warm-up: " + warmed.error);
      wait_for_deliveries(receiver, std::chrono::seconds(c.stall_seconds));
      if (receiver.missing() > 0) throw std::runtime_error("warm-up: deliveries missing");
      out.add("warmup_events", std::uint64_t{c.warmup});
    }
    receiver.expect(secrets, plan.expected());
    // The measured round's CPU: hookd's by thread, the tool's own (publisher and receiver), and
    // how much of the machine's was in use or taken by the hypervisor. Rates swing with this
    // machine's neighbours; CPU per unit of work much less, which makes it the figure to compare
    // builds by.
    ProcessUsage before = pid ? process_usage(pid) : ProcessUsage{};
    auto threads_before = pid ? thread_cpu_seconds(pid) : std::map<std::string, double>{};
    ProcessUsage tool_before = process_usage(::getpid());
    MachineTime machine_before = machine_time();
    double syncs_before = hookd_metric(port, "hookd_rocksdb_syncs_total");

    p.events = c.events;
    p.run_id = "bench-" + signing::random_alnum(8);
    std::int64_t publish_start = now_ns();
    PublishResult published = publish(p);
    if (!published.error.empty()) {
      out.add("publish_error", published.error);
      ok = false;
    }
    if (!c.ack_log.empty()) write_ack_log(c.ack_log, published);  // before the percentiles sort the latencies
    out.add("ingress_events_per_s", static_cast<double>(published.acknowledged) / published.seconds, 0);
    out.add("ack_p50_ms", percentile_ms(published.ack_latency_ns, 50));
    out.add("ack_p99_ms", percentile_ms(published.ack_latency_ns, 99));
    out.add("resent_requests", published.resent);
    out.add("server_errors", published.server_errors);
    if (published.server_errors > 0) ok = false;
    // How often hookd synced its log while it took the round's events, and whether its commit
    // delay was in use at the end (docs/operator-guide.md, Sizing).
    out.add("hookd_syncs", hookd_metric(port, "hookd_rocksdb_syncs_total") - syncs_before, 0);
    out.add("hookd_commit_delay_active", hookd_metric(port, "hookd_commit_delay_active"), 0);

    if (c.retries && expected_total > 0) {
      // Every first attempt fails; then the deliveries wait for their retry. Measure hookd at rest.
      test::wait_until([&] { return receiver.tally().failed_on_purpose >= expected_total; }, std::chrono::seconds(600));
      out.add("first_attempts_failed", receiver.tally().failed_on_purpose);
      ProcessUsage a = process_usage(pid);
      std::this_thread::sleep_for(10s);  // a measurement window, not a wait for a condition
      ProcessUsage b = process_usage(pid);
      out.add("waiting_rss_mib", static_cast<double>(b.rss_kib) / 1024);
      out.add("waiting_cpu_fraction", (b.cpu_seconds - a.cpu_seconds) / 10.0, 4);
      receiver.heal();
    }
    if (expected_total > 0) {
      // In `retries`, nothing arrives until the retries fall due.
      wait_for_deliveries(receiver, std::chrono::seconds(c.stall_seconds) + (c.retries ? kRetryWait : 0s));
      Tally t = receiver.tally();
      auto latencies = receiver.take_latencies();
      std::int64_t from = c.retries ? t.first_ns : publish_start;
      double seconds = static_cast<double>(t.last_ns - from) / 1e9;
      out.add("delivery_rate", static_cast<double>(t.unique) / seconds, 0);
      if (c.fail_rate > 0 && c.failing_webhooks < c.webhooks)
        out.add("healthy_delivery_rate",
                static_cast<double>(t.unique_healthy) / (static_cast<double>(t.last_healthy_ns - from) / 1e9), 0);
      out.add("e2e_p50_ms", percentile_ms(latencies, 50));
      out.add("e2e_p99_ms", percentile_ms(latencies, 99));
      out.add("e2e_max_ms", percentile_ms(latencies, 100));
      out.add("duplicates", t.duplicates);
      out.add("bad_signatures", t.bad_signatures);
      out.add("missing", receiver.missing());
      if (direct) out.add("ceiling_fraction", out.number("delivery_rate") / *direct, 3);
      if (receiver.missing() > 0 || t.bad_signatures > 0) ok = false;
    }
    // Per delivery where there are deliveries (their events' ingress included), else per event.
    bool per_delivery = expected_total > 0;
    double units = static_cast<double>(per_delivery ? receiver.tally().unique : published.acknowledged);
    std::string per_unit = per_delivery ? "_us_per_delivery" : "_us_per_event";
    if (pid) {
      ProcessUsage after = process_usage(pid);
      double cpu = after.cpu_seconds - before.cpu_seconds;
      out.add("hookd_peak_rss_mib", static_cast<double>(after.peak_rss_kib) / 1024);
      // Resident at the round's start and end: over a long round, memory that only grows is a leak.
      out.add("hookd_rss_start_mib", static_cast<double>(before.rss_kib) / 1024);
      out.add("hookd_rss_end_mib", static_cast<double>(after.rss_kib) / 1024);
      out.add("hookd_cpu_s", cpu);
      auto threads = thread_cpu_seconds(pid);
      for (auto& [name, seconds] : threads) seconds -= threads_before[name];
      out.add("hookd_thread_cpu_s", threads);
      if (units > 0) out.add("hookd_cpu" + per_unit, cpu * 1e6 / units, 1);
    }
    double tool_cpu = process_usage(::getpid()).cpu_seconds - tool_before.cpu_seconds;
    out.add("tool_cpu_s", tool_cpu);
    if (units > 0) out.add("tool_cpu" + per_unit, tool_cpu * 1e6 / units, 1);
    MachineShares machine = machine_shares(machine_before, machine_time());
    out.add("machine_busy_fraction", machine.busy, 3);
    out.add("machine_steal_fraction", machine.steal, 3);
    if (double direct_steal = out.number("direct_machine_steal_fraction");
        direct && std::abs(machine.steal - direct_steal) > kComparableSteal)
      std::cerr << "hookd_load: the hypervisor took " << std::lround(direct_steal * 100)
                << "% of the CPU in the direct run and " << std::lround(machine.steal * 100)
                << "% in hookd's round: ceiling_fraction compares unlike conditions\n";
    if (own) {
      if (!c.hookd_log.empty()) std::ofstream(c.hookd_log) << own->process->err();
      own->process->signal(SIGTERM);
      if (own->process->wait() != 0) ok = false;
    }
  }
  out.add("ok", ok);
  std::cout << out.str() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace hookd::bench

int main(int argc, char** argv) {
  hookd::bench::Config config;
  try {
    config = hookd::bench::parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hookd_load: " << e.what() << "\n";
    return 2;
  }
  try {
    return hookd::bench::run(config);
  } catch (const std::exception& e) {  // the run failed: hookd did not start, a warm-up was lost, ...
    std::cerr << "hookd_load: " << e.what() << "\n";
    return 1;
  }
}

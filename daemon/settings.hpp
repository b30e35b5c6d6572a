// hookd's settings (SPEC §7): defaults, overridden by a TOML file, overridden by HOOKD_* environment
// variables, overridden by flags (--set section.key=value, --listen, --data-dir). Only the daemon's
// wiring reads them; every component takes its own options struct.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hookd {

// A setting that cannot be used. what() names the setting and says what is wrong.
struct SettingsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> default_event_types();

struct Settings {
  std::string data_dir = "./data";

  struct Api {
    std::string listen = "127.0.0.1:8080";
    std::string tls_cert;
    std::string tls_key;
    std::string public_base_url;  // empty: from each request's Host header
    std::uint64_t max_body_bytes = 1 << 20;
    std::uint64_t max_header_bytes = 16 << 10;
    std::uint64_t max_connections = 4096;
    std::uint64_t read_timeout_ms = 30'000;
    std::uint64_t idle_timeout_ms = 60'000;
    std::uint64_t io_threads = 1;  // threads serving the API's and ingress's connections
  } api;

  struct Ingress {
    std::string listen;  // empty: ingress is served by the API listener
  } ingress;

  struct Delivery {
    std::uint64_t timeout_ms = 10'000;
    std::uint64_t connect_timeout_ms = 5'000;
    std::uint64_t max_in_flight = 1024;
    std::uint64_t max_in_flight_per_webhook = 16;
    bool allow_private_targets = false;
    std::string ca_file;
  } delivery;

  struct Retry {
    std::uint64_t max_attempts = 10;
    std::uint64_t base_delay_ms = 10'000;
    double factor = 3;
    std::uint64_t max_delay_ms = 86'400'000;
    std::vector<std::uint64_t> schedule_ms;  // empty: use the formula
  } retry;

  struct Events {
    std::vector<std::string> types = default_event_types();
  } events;

  struct Storage {
    std::uint64_t min_free_bytes = 256u << 20;  // writes answer 503 while less is free on the data disk
    std::uint64_t commit_delay_us = 2000;       // 0: none; kept only where it costs no rate (storage/commit_delay_probe.hpp)
    // RocksDB's flushes and compactions: "idle" under SCHED_IDLE but while writes stall, "normal",
    // or "auto": idle where the process may raise them back during a stall (storage/background_priority.hpp).
    std::string background_priority = "auto";
  } storage;

  struct Retention {
    std::uint64_t days = 30;                   // 0: events and deliveries are kept for good
    std::uint64_t interval_ms = 3'600'000;     // how often expired records are looked for
  } retention;

  struct Log {
    std::string level = "info";    // trace, debug, info, warn, error, critical, off
    std::string format = "plain";  // plain or json
  } log;

  std::uint64_t shutdown_timeout_ms = 10'000;  // how long SIGTERM waits for requests in flight
};

struct SettingsSources {
  std::optional<std::string> config_file = std::nullopt;                     // TOML
  std::map<std::string, std::string> environment = {};                       // HOOKD_* variables
  std::vector<std::pair<std::string, std::string>> overrides = {};           // flags, in order, as key=value
};

// The settings from `sources`, checked. Throws SettingsError naming the first bad setting.
Settings load_settings(const SettingsSources& sources);

// The HOOKD_* variables of this process.
std::map<std::string, std::string> hookd_environment();

// Every setting key, for documentation and --help.
std::vector<std::string> setting_keys();

}  // namespace hookd

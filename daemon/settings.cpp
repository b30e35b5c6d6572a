#include "daemon/settings.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <toml++/toml.h>

extern char** environ;

namespace hookd {
namespace {

using Setter = std::function<void(Settings&, const std::string&)>;

std::uint64_t to_uint(const std::string& v) {
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) throw std::invalid_argument("expected a whole number >= 0");
  return out;
}

double to_double(const std::string& v) {
  std::size_t used = 0;
  double out = std::stod(v, &used);
  if (used != v.size()) throw std::invalid_argument("expected a number");
  return out;
}

bool to_bool(const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw std::invalid_argument("expected true or false");
}

// "a, b,c" -> {"a", "b", "c"}: lists from the environment and flags are comma-separated.
std::vector<std::string> to_list(const std::string& v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t end = std::min(v.find(',', start), v.size());
    std::string item = v.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

std::string one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return v;
  std::string all;
  for (const char* a : allowed) all += std::string(all.empty() ? "" : ", ") + a;
  throw std::invalid_argument("expected one of " + all);
}

// HOST:PORT with an IP literal or "localhost"; IPv6 in brackets.
std::string listen_address(const std::string& v) {
  if (v.empty()) return v;
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("expected HOST:PORT");
  std::uint64_t port = to_uint(v.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("port out of range");
  return v;
}


template <class Section, class T>
Setter field(Section Settings::*section, T Section::*member, std::function<T(const std::string&)> parse) {
  return [section, member, parse](Settings& s, const std::string& v) { (s.*section).*member = parse(v); };
}

const std::map<std::string, Setter>& setters() {
  using S = Settings;
  static const std::map<std::string, Setter> table = {
      {"data_dir", [](S& s, const std::string& v) {
         if (v.empty()) throw std::invalid_argument("must not be empty");
         s.data_dir = v;
       }},
      {"shutdown_timeout_ms", [](S& s, const std::string& v) { s.shutdown_timeout_ms = to_uint(v); }},
      {"api.listen", field<S::Api, std::string>(&S::api, &S::Api::listen, [](const std::string& v) {
         if (v.empty()) throw std::invalid_argument("must not be empty");
         return listen_address(v);
       })},
      {"api.tls_cert", field<S::Api, std::string>(&S::api, &S::Api::tls_cert, [](const std::string& v) { return v; })},
      {"api.tls_key", field<S::Api, std::string>(&S::api, &S::Api::tls_key, [](const std::string& v) { return v; })},
      {"api.public_base_url", field<S::Api, std::string>(&S::api, &S::Api::public_base_url, [](const std::string& v) {
         std::string out = v;
         while (!out.empty() && out.back() == '/') out.pop_back();
         if (!out.empty() && out.rfind("http://", 0) != 0 && out.rfind("https://", 0) != 0)
           throw std::invalid_argument("expected an http:// or https:// URL");
         return out;
       })},
      {"api.max_body_bytes", field<S::Api, std::uint64_t>(&S::api, &S::Api::max_body_bytes, to_uint)},
      {"api.max_header_bytes", field<S::Api, std::uint64_t>(&S::api, &S::Api::max_header_bytes, to_uint)},
      {"api.max_connections", field<S::Api, std::uint64_t>(&S::api, &S::Api::max_connections, to_uint)},
      {"api.read_timeout_ms", field<S::Api, std::uint64_t>(&S::api, &S::Api::read_timeout_ms, to_uint)},
      {"api.idle_timeout_ms", field<S::Api, std::uint64_t>(&S::api, &S::Api::idle_timeout_ms, to_uint)},
      {"api.io_threads", field<S::Api, std::uint64_t>(&S::api, &S::Api::io_threads, to_uint)},
      {"ingress.listen", field<S::Ingress, std::string>(&S::ingress, &S::Ingress::listen, listen_address)},
      {"delivery.timeout_ms", field<S::Delivery, std::uint64_t>(&S::delivery, &S::Delivery::timeout_ms, to_uint)},
      {"delivery.connect_timeout_ms",
       field<S::Delivery, std::uint64_t>(&S::delivery, &S::Delivery::connect_timeout_ms, to_uint)},
      {"delivery.max_in_flight", field<S::Delivery, std::uint64_t>(&S::delivery, &S::Delivery::max_in_flight, to_uint)},
      {"delivery.max_in_flight_per_webhook",
       field<S::Delivery, std::uint64_t>(&S::delivery, &S::Delivery::max_in_flight_per_webhook, to_uint)},
      {"delivery.allow_private_targets",
       field<S::Delivery, bool>(&S::delivery, &S::Delivery::allow_private_targets, to_bool)},
      {"delivery.ca_file", field<S::Delivery, std::string>(&S::delivery, &S::Delivery::ca_file, [](const std::string& v) { return v; })},
      {"retry.max_attempts", field<S::Retry, std::uint64_t>(&S::retry, &S::Retry::max_attempts, to_uint)},
      {"retry.base_delay_ms", field<S::Retry, std::uint64_t>(&S::retry, &S::Retry::base_delay_ms, to_uint)},
      {"retry.factor", field<S::Retry, double>(&S::retry, &S::Retry::factor, to_double)},
      {"retry.max_delay_ms", field<S::Retry, std::uint64_t>(&S::retry, &S::Retry::max_delay_ms, to_uint)},
      {"retry.schedule_ms", field<S::Retry, std::vector<std::uint64_t>>(&S::retry, &S::Retry::schedule_ms,
                                                                         [](const std::string& v) {
                                                                           std::vector<std::uint64_t> out;
                                                                           for (const auto& item : to_list(v))
                                                                             out.push_back(to_uint(item));
                                                                           return out;
                                                                         })},
      {"events.types", field<S::Events, std::vector<std::string>>(&S::events, &S::Events::types, to_list)},
      {"storage.min_free_bytes", field<S::Storage, std::uint64_t>(&S::storage, &S::Storage::min_free_bytes, to_uint)},
      {"storage.commit_delay_us", field<S::Storage, std::uint64_t>(&S::storage, &S::Storage::commit_delay_us, to_uint)},
      {"storage.background_priority",
       field<S::Storage, std::string>(&S::storage, &S::Storage::background_priority,
                                      [](const std::string& v) { return one_of(v, {"auto", "normal", "idle"}); })},
      {"retention.days", field<S::Retention, std::uint64_t>(&S::retention, &S::Retention::days, to_uint)},
      {"retention.interval_ms", field<S::Retention, std::uint64_t>(&S::retention, &S::Retention::interval_ms, to_uint)},
      {"log.level", field<S::Log, std::string>(&S::log, &S::Log::level, [](const std::string& v) {
         return one_of(v, {"trace", "debug", "info", "warn", "error", "critical", "off"});
       })},
      {"log.format", field<S::Log, std::string>(&S::log, &S::Log::format,
                                                [](const std::string& v) { return one_of(v, {"plain", "json"}); })},
  };
  return table;
}

void apply(Settings& s, const std::string& key, const std::string& value, const std::string& source) {
  auto it = setters().find(key);
  if (it == setters().end()) throw SettingsError("unknown setting " + key + " (" + source + ")");
  try {
    it->second(s, value);
  } catch (const std::exception& e) {
    throw SettingsError("bad value \"" + value + "\" for setting " + key + " (" + source + "): " + e.what());
  }
}

// A TOML leaf as the same text an environment variable would carry.
std::string toml_text(const toml::node& node, const std::string& key) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  if (node.is_integer()) {
    auto v = *node.value<std::int64_t>();
    if (v < 0) throw SettingsError("bad value for setting " + key + ": must not be negative");
    return std::to_string(v);
  }
  if (node.is_floating_point()) return std::to_string(*node.value<double>());
  if (auto* array = node.as_array()) {
    std::string out;
    for (const auto& item : *array) out += (out.empty() ? "" : ",") + toml_text(item, key);
    return out;
  }
  throw SettingsError("bad value for setting " + key + ": unsupported type");
}

void apply_toml(Settings& s, const toml::table& table, const std::string& prefix, const std::string& file) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (auto* sub = node.as_table())
      apply_toml(s, *sub, key, file);
    else
      apply(s, key, toml_text(node, key), file);
  }
}

std::string env_name(const std::string& key) {
  std::string out = "HOOKD_";
  for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

void check(const Settings& s) {
  if (s.api.tls_cert.empty() != s.api.tls_key.empty())
    throw SettingsError("settings api.tls_cert and api.tls_key go together: set both or neither");
  if (s.api.max_body_bytes == 0) throw SettingsError("setting api.max_body_bytes must be at least 1");
  if (s.api.max_header_bytes < 1024) throw SettingsError("setting api.max_header_bytes must be at least 1024");
  if (s.api.max_connections == 0) throw SettingsError("setting api.max_connections must be at least 1");
  if (s.api.io_threads == 0 || s.api.io_threads > 64)
    throw SettingsError("setting api.io_threads must be from 1 to 64");
  if (s.retry.max_attempts == 0) throw SettingsError("setting retry.max_attempts must be at least 1");
  if (s.retry.factor < 1) throw SettingsError("setting retry.factor must be at least 1");
  if (s.events.types.empty()) throw SettingsError("setting events.types must name at least one event type");
  if (s.retention.days > 36'500) throw SettingsError("setting retention.days must be at most 36500 (0 keeps everything)");
  if (s.retention.interval_ms == 0) throw SettingsError("setting retention.interval_ms must be at least 1");
  if (s.storage.min_free_bytes < (128u << 20))
    throw SettingsError("setting storage.min_free_bytes must be at least 134217728 (128 MiB): RocksDB needs room to flush");
  // Batches held with a synced one wait as long: the engine's records must still be fsynced within
  // their 20 ms (storage/group_commit.hpp).
  if (s.storage.commit_delay_us > 20'000)
    throw SettingsError("setting storage.commit_delay_us must be at most 20000 (20 ms)");
}

}  // namespace

std::vector<std::string> default_event_types() {
  return {"Employee.created", "Employee.notified", "Employee.claimed", "Employee.verified", "Payout.created",
          "Payout.notified",  "Payout.accepted",   "Invoice.created",  "Invoice.paid",      "Payrun.created"};
}

Settings load_settings(const SettingsSources& sources) {
  Settings s;
  if (sources.config_file) {
    toml::table table;
    try {
      table = toml::parse_file(*sources.config_file);
    } catch (const toml::parse_error& e) {
      throw SettingsError("cannot read config file " + *sources.config_file + ": " + std::string(e.description()));
    }
    apply_toml(s, table, "", *sources.config_file);
  }
  for (const auto& [key, setter] : setters()) {
    auto it = sources.environment.find(env_name(key));
    if (it != sources.environment.end()) apply(s, key, it->second, it->first);
  }
  for (const auto& [key, value] : sources.overrides) apply(s, key, value, "flag");
  check(s);
  return s;
}

std::map<std::string, std::string> hookd_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (entry.rfind("HOOKD_", 0) == 0 && eq != std::string::npos) out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::vector<std::string> setting_keys() {
  std::vector<std::string> out;
  for (const auto& [key, setter] : setters()) out.push_back(key);
  return out;
}

}  // namespace hookd

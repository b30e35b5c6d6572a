#include "daemon/settings.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace hookd {
namespace {

std::string write_config(const test::TempDir& dir, const std::string& text) {
  std::string path = dir.str() + "/hookd.toml";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const SettingsSources& sources) {
  try {
    load_settings(sources);
  } catch (const SettingsError& e) {
    return e.what();
  }
  return "";
}

TEST(Settings, DefaultsAreTheSpecs) {
  Settings s = load_settings({});
  EXPECT_EQ(s.data_dir, "./data");
  EXPECT_EQ(s.api.listen, "127.0.0.1:8080");
  EXPECT_EQ(s.api.max_body_bytes, 1u << 20);
  EXPECT_EQ(s.ingress.listen, "");
  EXPECT_EQ(s.delivery.timeout_ms, 10000u);
  EXPECT_EQ(s.delivery.connect_timeout_ms, 5000u);
  EXPECT_FALSE(s.delivery.allow_private_targets);
  EXPECT_EQ(s.retry.max_attempts, 10u);
  EXPECT_EQ(s.retry.base_delay_ms, 10000u);
  EXPECT_EQ(s.retry.factor, 3.0);
  EXPECT_EQ(s.retry.max_delay_ms, 86400000u);
  EXPECT_TRUE(s.retry.schedule_ms.empty());
  EXPECT_EQ(s.events.types.size(), 10u);
  EXPECT_EQ(s.retention.days, 30u);
  EXPECT_EQ(s.log.level, "info");
  EXPECT_EQ(s.log.format, "plain");
}

TEST(Settings, FileThenEnvironmentThenFlags) {
  test::TempDir dir;
  SettingsSources sources;
  sources.config_file = write_config(dir, R"(
data_dir = "/var/lib/hookd"
[api]
listen = "0.0.0.0:9000"
max_body_bytes = 2048
[retry]
schedule_ms = [100, 200, 400]
factor = 2.5
[events]
types = ["A.b", "C.d"]
[delivery]
allow_private_targets = true
[storage]
commit_delay_us = 1000
background_priority = "idle"
)");
  Settings from_file = load_settings(sources);
  EXPECT_EQ(from_file.data_dir, "/var/lib/hookd");
  EXPECT_EQ(from_file.api.listen, "0.0.0.0:9000");
  EXPECT_EQ(from_file.api.max_body_bytes, 2048u);
  EXPECT_EQ(from_file.retry.schedule_ms, (std::vector<std::uint64_t>{100, 200, 400}));
  EXPECT_EQ(from_file.retry.factor, 2.5);
  EXPECT_EQ(from_file.events.types, (std::vector<std::string>{"A.b", "C.d"}));
  EXPECT_TRUE(from_file.delivery.allow_private_targets);
  EXPECT_EQ(from_file.storage.commit_delay_us, 1000u);
  EXPECT_EQ(from_file.storage.background_priority, "idle");

  sources.environment = {{"HOOKD_API_LISTEN", "127.0.0.1:9001"}, {"HOOKD_DATA_DIR", "/env"},
                         {"HOOKD_EVENTS_TYPES", "X.y, Z.w"}};
  Settings with_env = load_settings(sources);
  EXPECT_EQ(with_env.api.listen, "127.0.0.1:9001");
  EXPECT_EQ(with_env.data_dir, "/env");
  EXPECT_EQ(with_env.events.types, (std::vector<std::string>{"X.y", "Z.w"}));
  EXPECT_EQ(with_env.api.max_body_bytes, 2048u);  // still from the file

  sources.overrides = {{"api.listen", "127.0.0.1:9002"}, {"log.format", "json"}};
  Settings with_flags = load_settings(sources);
  EXPECT_EQ(with_flags.api.listen, "127.0.0.1:9002");
  EXPECT_EQ(with_flags.log.format, "json");
  EXPECT_EQ(with_flags.data_dir, "/env");
}

TEST(Settings, BadSettingsNameTheKey) {
  test::TempDir dir;
  EXPECT_NE(error_of({.overrides = {{"api.max_body_bytes", "lots"}}}).find("api.max_body_bytes"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"log.level", "loud"}}}).find("log.level"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"api.listen", "nowhere"}}}).find("api.listen"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"no.such", "1"}}}).find("unknown setting no.such"), std::string::npos);
  EXPECT_NE(error_of({.environment = {{"HOOKD_RETRY_MAX_ATTEMPTS", "-1"}}}).find("HOOKD_RETRY_MAX_ATTEMPTS"),
            std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"api.tls_cert", "/c.pem"}}}).find("api.tls_key"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"retry.max_attempts", "0"}}}).find("retry.max_attempts"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"api.io_threads", "0"}}}).find("api.io_threads"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"retention.days", "36501"}}}).find("retention.days"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"retention.interval_ms", "0"}}}).find("retention.interval_ms"), std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"storage.commit_delay_us", "20001"}}}).find("storage.commit_delay_us"),
            std::string::npos);
  EXPECT_NE(error_of({.overrides = {{"storage.background_priority", "low"}}}).find("storage.background_priority"),
            std::string::npos);
  EXPECT_NE(error_of({.config_file = write_config(dir, "[api]\nmax_body_bytes = -5\n")}).find("api.max_body_bytes"),
            std::string::npos);
  EXPECT_NE(error_of({.config_file = write_config(dir, "[api\n")}).find("hookd.toml"), std::string::npos);
  EXPECT_NE(error_of({.config_file = write_config(dir, "[apii]\nlisten = \"x\"\n")}).find("apii.listen"),
            std::string::npos);
}

TEST(Settings, EveryKeyOfTheSpecExists) {
  auto keys = setting_keys();
  for (const char* k : {"data_dir", "api.listen", "api.tls_cert", "api.tls_key", "api.public_base_url",
                        "api.max_body_bytes", "ingress.listen", "delivery.timeout_ms", "delivery.connect_timeout_ms",
                        "delivery.max_in_flight", "delivery.max_in_flight_per_webhook",
                        "delivery.allow_private_targets", "delivery.ca_file", "retry.max_attempts",
                        "retry.base_delay_ms", "retry.factor", "retry.max_delay_ms", "retry.schedule_ms",
                        "events.types", "retention.days", "log.level", "log.format"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

}  // namespace
}  // namespace hookd

namespace hookd {
namespace {

TEST(Settings, TheExampleConfigLoadsAndStatesTheDefaults) {
  Settings example = load_settings({.config_file = std::string(HOOKD_SOURCE_DIR) + "/deploy/hookd.example.toml"});
  Settings defaults = load_settings({});
  EXPECT_EQ(example.data_dir, defaults.data_dir);
  EXPECT_EQ(example.api.listen, defaults.api.listen);
  EXPECT_EQ(example.api.max_body_bytes, defaults.api.max_body_bytes);
  EXPECT_EQ(example.api.read_timeout_ms, defaults.api.read_timeout_ms);
  EXPECT_EQ(example.delivery.max_in_flight, defaults.delivery.max_in_flight);
  EXPECT_EQ(example.retry.max_delay_ms, defaults.retry.max_delay_ms);
  EXPECT_EQ(example.retry.factor, defaults.retry.factor);
  EXPECT_EQ(example.events.types, defaults.events.types);
  EXPECT_EQ(example.log.format, defaults.log.format);
  EXPECT_EQ(example.retention.days, defaults.retention.days);
  EXPECT_EQ(example.retention.interval_ms, defaults.retention.interval_ms);
  EXPECT_EQ(example.storage.commit_delay_us, defaults.storage.commit_delay_us);
  EXPECT_EQ(example.storage.background_priority, defaults.storage.background_priority);
}

}  // namespace
}  // namespace hookd

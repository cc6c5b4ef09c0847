#pragma once
// Typed configuration with defaults and validation. A YAML file (--config) is read first,
// then command-line flags override it. Control plane: may allocate freely.
// Thread-safety: immutable after load; share by const reference.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace kamwatch::config {

struct KafkaConfig {
  std::string brokers = "embedded";  // HOST:PORT[,..] or "embedded" (in-process mock cluster)
  std::vector<std::string> topics = {"kamwatch.events"};
  std::string group = "kamwatch";
  std::string dead_letter_topic = "kamwatch.deadletter";
  std::string alerts_topic = "kamwatch.alerts";  // every alert transition as JSON
  std::size_t batch_max_events = 10000;
  TimeMs batch_max_wait = 100;  // ms to wait for a batch to fill
  // Passed through to librdkafka as they are (TLS, SASL, tuning). Secrets are never logged.
  std::map<std::string, std::string> properties;
};

struct StateConfig {
  std::string data_dir = "kamwatch-data";
  std::size_t cache_accounts = 100000;
  std::size_t block_cache_bytes = 256ull * 1024 * 1024;
  bool sync_writes = false;
  TimeMs late_grace = 7 * kDayMs;
  TimeMs retention_hourly = 3 * kDayMs;
  TimeMs retention_daily = 800 * kDayMs;
};

struct IngestConfig {
  std::size_t max_message_bytes = 1024 * 1024;
  std::size_t max_string_bytes = 1024;
};

struct RulesConfig {
  std::string dir = "rules";
  bool dir_explicit = false;               // set by the file or --rules: then it must exist
  TimeMs evaluation_interval = kMinuteMs;  // timer sweep over all accounts
  TimeMs portfolio_refresh = kHourMs;      // key accounts, CLV, P(alive) recomputed
};

struct Config {
  KafkaConfig kafka;
  StateConfig state;
  IngestConfig ingest;
  RulesConfig rules;
  std::string http_listen = "127.0.0.1:9470";
  std::vector<std::string> alertmanagers;
  std::string log_level = "info";
};

// Reads a YAML config file. Errors name the file, line and column: "kamwatch.yaml:4:3: ...".
// Unknown keys are errors (a typo must not silently fall back to a default).
[[nodiscard]] Result<Config> load_file(const std::string& path);
// The same from text (tests); name is used in error messages.
[[nodiscard]] Result<Config> load_string(const std::string& yaml, const std::string& name);
// Checks cross-field constraints (non-empty topics, positive sizes, ...).
[[nodiscard]] Result<void> validate(const Config& config);

// The documented YAML text of every option with its default (for docs and --help).
[[nodiscard]] std::string reference_yaml();

}  // namespace kamwatch::config

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
  // Catching up, larger batches cost less per event: an account's events in a batch are
  // applied back to back and stored as one delta, and its rules are evaluated once. With that,
  // 200,000 ran 5-6% faster, with 7-9% less CPU per event, than 50,000 did before, at 100,000
  // accounts (bench/README.md, "Grouped by account"); live traffic cuts batches by
  // batch_max_wait long before that.
  std::size_t batch_max_events = 200000;
  TimeMs batch_max_wait = 100;  // ms to wait for a batch to fill
  // Dead letters waiting for delivery above which consumption pauses (the dead-letter outbox
  // never skips a record); it resumes once the backlog is down to half of this.
  std::size_t dead_letter_max_pending = 100000;
  // Passed through to librdkafka as they are (TLS, SASL, tuning). Secrets are never logged.
  std::map<std::string, std::string> properties;
};

// Several instances in one consumer group, each owning the accounts of its input partitions.
struct ClusterConfig {
  // Compacted topic on which instances share what each input partition contributes to the
  // portfolio-wide figures (key accounts, portfolio rates, BG/NBD), so those cover the whole
  // portfolio. Empty = single-instance mode: the figures cover the accounts in this store.
  std::string summary_topic;
  std::string changelog_topic;  // empty = one instance, state only local (docs/scaling.md)
  std::string instance_id;      // group.instance.id (static membership); also names the
                                // changelog producer; default: a random id kept in the state
};

struct StateConfig {
  std::string data_dir = "kamwatch-data";
  std::size_t cache_accounts = 100000;
  std::size_t cache_bytes = 4ull << 30;  // decoded states in memory (estimated)
  std::size_t block_cache_bytes = 256ull * 1024 * 1024;
  bool sync_writes = false;
  // Writes are refused (disk_full) when they would leave less free space than this.
  std::size_t min_free_bytes = 256ull * 1024 * 1024;
  TimeMs late_grace = 7 * kDayMs;
  TimeMs retention_hourly = 3 * kDayMs;
  TimeMs retention_daily = 800 * kDayMs;
};

// The most threads ingest.threads may ask for.
inline constexpr std::size_t kMaxIngestThreads = 64;

struct IngestConfig {
  std::size_t max_message_bytes = 1024 * 1024;
  std::size_t max_string_bytes = 1024;
  // A batch whose processing killed the daemon this many times is processed event by event
  // and the event that kills it is dead-lettered as poison.
  std::size_t max_batch_attempts = 3;
  // Threads that decode, apply and evaluate each batch: the messages and the accounts (by a
  // hash of their id) are split between them; the batch is still committed as one write.
  std::size_t threads = 2;
};

struct RulesConfig {
  std::string dir = "rules";
  bool dir_explicit = false;               // set by the file or --rules: then it must exist
  TimeMs evaluation_interval = kMinuteMs;  // timer sweep over all accounts
  TimeMs portfolio_refresh = kHourMs;      // key accounts, CLV, P(alive) recomputed
};

struct HttpConfig {
  std::string listen = "127.0.0.1:9470";
  // Bearer token for POST /-/reload (file holding it; required off loopback).
  std::string token_file;
  std::string tls_cert_file;  // both set: HTTPS
  std::string tls_key_file;
  // How receivers reach this instance (generatorURL of alerts); default http://<listen>.
  std::string external_url;
};

struct WebhookConfig {
  std::string name;  // sink name in metrics and logs: webhook:<name>
  std::string url;
  std::string secret_file;  // HMAC-SHA256 key; empty = unsigned
  TimeMs timeout = 5000;
};

struct AlertingConfig {
  std::vector<std::string> alertmanagers;  // base URLs; every alert goes to each
  TimeMs resend_interval = kMinuteMs;      // firing alerts are re-sent to Alertmanager this often
  TimeMs timeout = 10000;                  // one Alertmanager request
  std::vector<WebhookConfig> webhooks;
};

struct MetricsConfig {
  std::size_t key_account_series_cap = 500;  // per-account health series, key accounts only
};

struct Config {
  KafkaConfig kafka;
  ClusterConfig cluster;
  StateConfig state;
  IngestConfig ingest;
  RulesConfig rules;
  HttpConfig http;
  AlertingConfig alerting;
  MetricsConfig metrics;
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

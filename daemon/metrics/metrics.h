#pragma once
// kamwatch's Prometheus metrics: one prometheus-cpp registry holding every family, the text
// exposition for /metrics, process figures (CPU, memory, fds, start time) read from /proc on
// each scrape, and hooks that refresh gauges read from elsewhere (RocksDB, the outbox, the
// portfolio) right before a scrape. Names follow Prometheus conventions: base units, _total
// for counters, no unbounded labels. The list is in docs/metrics.md.
// Thread-safety: every metric is thread-safe; add hooks before serving, serialize from any
// thread.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kamwatch::metrics {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

class Metrics {
 public:
  // A family as declared (name, help, type): prometheus-cpp leaves families without series out
  // of the exposition; serialize() puts their HELP and TYPE lines back so every name is there.
  struct Declared {
    std::string name, help, type;
  };

 private:
  // First: the families below are built from these in the constructor's initialiser list.
  std::vector<Declared> declared_;
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  Metrics(const std::string& version, const std::string& revision);

  // Called before each scrape, in order (refresh gauges from their sources).
  void add_scrape_hook(std::function<void()> hook);
  // The text exposition format (version 0.0.4) of every metric.
  [[nodiscard]] std::string serialize();
  [[nodiscard]] prometheus::Registry& registry() { return *registry_; }

  // Sets the gauges of `family` to exactly `values` (label set -> value): series absent from
  // values are removed, so gauges of vanished label sets (a resolved alert's rule, a key
  // account that left the set) do not linger.
  void set_gauges(Family<Gauge>& family, const std::map<prometheus::Labels, double>& values);

  // ---- Ingest ----
  Family<Counter>& events_consumed;  // {topic, type}
  Counter& events_applied;
  Family<Counter>& events_rejected;  // {reason}
  Counter& events_dead_lettered;
  Counter& events_duplicates;
  Counter& events_late;
  Counter& commit_failures;
  Histogram& batch_duration;  // seconds
  Histogram& batch_messages;
  Histogram& event_delay;       // seconds from Kafka append time to commit
  Family<Gauge>& consumer_lag;  // {topic, partition}
  Gauge& consumer_paused;       // 1 while the dead-letter backlog holds consumption
  Gauge& ready;
  // ---- Rules ----
  Counter& rule_evaluations;
  Histogram& rule_evaluation_duration;  // seconds, per batch or sweep slice
  Gauge& rules_loaded;
  Family<Gauge>& rules_info;  // {hash}
  Gauge& rules_last_reload_success;
  Gauge& rules_last_reload_success_timestamp;
  Family<Counter>& rules_reloads;  // {result}
  // ---- Alerts and sinks ----
  Family<Gauge>& alerts_firing;        // {alertname, severity, signal}
  Family<Counter>& alert_transitions;  // {alertname, severity, status}
  Family<Counter>& sink_deliveries;    // {sink}
  Family<Counter>& sink_failures;      // {sink}
  Family<Counter>& sink_retries;       // {sink}
  Family<Gauge>& outbox_records;       // {sink}
  Family<Gauge>& kam_alerts_firing;    // {kam, signal}
  Family<Gauge>& competitor_pressure;  // {category}
  // ---- State ----
  Gauge& rocksdb_live_sst_bytes;
  Gauge& rocksdb_memtable_bytes;
  Gauge& rocksdb_pending_compaction_bytes;
  Gauge& rocksdb_running_compactions;
  Gauge& rocksdb_write_stopped;
  Counter& rocksdb_write_stall_seconds;
  Counter& rocksdb_block_cache_hits;
  Counter& rocksdb_block_cache_misses;
  Gauge& rocksdb_block_cache_bytes;
  Gauge& rocksdb_block_cache_pinned_bytes;
  Gauge& rocksdb_table_readers_bytes;
  Gauge& filesystem_avail_bytes;
  Gauge& filesystem_size_bytes;
  Gauge& account_cache_accounts;
  Gauge& account_cache_bytes;
  Counter& account_cache_hits;
  Counter& account_cache_misses;
  // ---- Portfolio (business) ----
  Family<Gauge>& accounts;  // {band, tier}
  Gauge& key_accounts;
  Gauge& portfolio_revenue;
  Gauge& portfolio_top_share;
  Gauge& portfolio_key_revenue_share;
  Gauge& portfolio_gini;
  Gauge& portfolio_retention;
  Gauge& portfolio_churn;
  Gauge& portfolio_refresh_timestamp;
  Gauge& portfolio_partials;                  // cluster mode: partitions the figures cover
  Gauge& portfolio_oldest_partial_timestamp;  // cluster mode: as_of of the least fresh one
  Family<Gauge>& key_account_health;          // {account, kam}

  // Raises a cumulative counter to `total` (for totals kept elsewhere, e.g. RocksDB tickers).
  static void advance_to(Counter& counter, double total);

 private:
  std::mutex hooks_mu_;
  // set_gauges' bookkeeping: prometheus-cpp families cannot list their series.
  std::mutex series_mu_;
  std::map<const Family<Gauge>*, std::map<prometheus::Labels, Gauge*>> series_;
  std::vector<std::function<void()>> hooks_;
  // Process figures.
  Counter& process_cpu_;
  Gauge& process_rss_;
  Gauge& process_vsize_;
  Gauge& process_open_fds_;
  Gauge& process_max_fds_;
  Family<Gauge>& heap_bytes_;  // {state}; glibc only
  void refresh_process();
};

}  // namespace kamwatch::metrics

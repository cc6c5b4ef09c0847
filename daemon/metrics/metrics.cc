#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/memory.h"

namespace kamwatch::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Registry;

// Every family is recorded as declared (see Metrics::Declared).
using Declared = std::vector<Metrics::Declared>;

Family<Counter>& counters(Registry& r, Declared& d, const char* name, const char* help) {
  d.push_back({name, help, "counter"});
  return BuildCounter().Name(name).Help(help).Register(r);
}
Family<Gauge>& gauges(Registry& r, Declared& d, const char* name, const char* help) {
  d.push_back({name, help, "gauge"});
  return BuildGauge().Name(name).Help(help).Register(r);
}
Counter& counter(Registry& r, Declared& d, const char* name, const char* help) {
  return counters(r, d, name, help).Add({});
}
Gauge& gauge(Registry& r, Declared& d, const char* name, const char* help) {
  return gauges(r, d, name, help).Add({});
}
Histogram& histogram(Registry& r, Declared& d, const char* name, const char* help,
                     Histogram::BucketBoundaries buckets) {
  d.push_back({name, help, "histogram"});
  return BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(buckets));
}

const Histogram::BucketBoundaries kSeconds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const Histogram::BucketBoundaries kDelaySeconds = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                   5,    10,   30,  60,   300, 900, 3600};
const Histogram::BucketBoundaries kMessages = {1,    10,   100,   500,   1000,
                                               2500, 5000, 10000, 50000, 200000};

double process_start_seconds() {
  // Field 22 of /proc/self/stat: start time in clock ticks after boot.
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = content.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  uptime_file >> uptime;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - uptime + std::stod(field.empty() ? "0" : field) / ticks;
}

}  // namespace

Metrics::Metrics(const std::string& version, const std::string& revision)
    : registry_(std::make_shared<Registry>()),
      events_consumed(counters(*registry_, declared_, "kamwatch_events_consumed_total",
                               "Messages read from the input topics, by topic and event type "
                               "(type \"unknown\" when the message could not be decoded).")),
      events_applied(counter(*registry_, declared_, "kamwatch_events_applied_total",
                             "Events applied to account state (valid, new, not late).")),
      events_rejected(counters(*registry_, declared_, "kamwatch_events_rejected_total",
                               "Messages rejected by validation, by reason code.")),
      events_dead_lettered(
          counter(*registry_, declared_, "kamwatch_events_dead_lettered_total",
                  "Messages written to the dead-letter topic (rejected or late).")),
      events_duplicates(counter(*registry_, declared_, "kamwatch_events_duplicates_total",
                                "Events skipped because their source and id were applied before.")),
      events_late(counter(*registry_, declared_, "kamwatch_events_late_total",
                          "Events older than the late grace, dead-lettered as late.")),
      commit_failures(counter(*registry_, declared_, "kamwatch_commit_failures_total",
                              "Batches whose state commit failed (rewound and retried).")),
      batch_duration(histogram(*registry_, declared_, "kamwatch_batch_duration_seconds",
                               "Time from the start of a batch's processing to its commit.",
                               kSeconds)),
      batch_messages(histogram(*registry_, declared_, "kamwatch_batch_messages",
                               "Messages per processed batch.", kMessages)),
      event_delay(histogram(*registry_, declared_, "kamwatch_event_delay_seconds",
                            "Time from a message's Kafka timestamp to its commit in kamwatch.",
                            kDelaySeconds)),
      consumer_lag(gauges(*registry_, declared_, "kamwatch_consumer_lag_messages",
                          "Messages behind the end of each assigned partition.")),
      consumer_paused(gauge(*registry_, declared_, "kamwatch_consumer_paused",
                            "1 while consumption is paused because the dead-letter outbox holds "
                            "more than kafka.dead_letter_max_pending records.")),
      ready(gauge(*registry_, declared_, "kamwatch_ready",
                  "1 when caught up and state writes succeed (as /readyz), else 0.")),
      rule_evaluations(counter(*registry_, declared_, "kamwatch_rule_evaluations_total",
                               "Rule evaluations (one rule over one account).")),
      rule_evaluation_duration(
          histogram(*registry_, declared_, "kamwatch_rule_evaluation_duration_seconds",
                    "Time spent evaluating rules per batch or sweep slice.", kSeconds)),
      rules_loaded(gauge(*registry_, declared_, "kamwatch_rules_loaded", "Alert rules in force.")),
      rules_info(gauges(*registry_, declared_, "kamwatch_rules_info",
                        "The content hash of the rule set in force (value 1).")),
      rules_last_reload_success(gauge(*registry_, declared_, "kamwatch_rules_last_reload_success",
                                      "1 when the last rule load or reload succeeded.")),
      rules_last_reload_success_timestamp(
          gauge(*registry_, declared_, "kamwatch_rules_last_reload_success_timestamp_seconds",
                "When the rules were last loaded successfully (Unix time).")),
      rules_reloads(counters(*registry_, declared_, "kamwatch_rules_reloads_total",
                             "Rule reloads by result (success, failure).")),
      alerts_firing(gauges(*registry_, declared_, "kamwatch_alerts_firing",
                           "Firing alerts by rule, severity and signal.")),
      alert_transitions(counters(*registry_, declared_, "kamwatch_alert_transitions_total",
                                 "Alert transitions by rule, severity and status.")),
      sink_deliveries(counters(*registry_, declared_, "kamwatch_sink_deliveries_total",
                               "Records delivered per sink (outbox records acknowledged).")),
      sink_failures(counters(*registry_, declared_, "kamwatch_sink_failures_total",
                             "Failed delivery attempts per sink.")),
      sink_retries(counters(*registry_, declared_, "kamwatch_sink_retries_total",
                            "Delivery retries per sink (attempts after a failure).")),
      outbox_records(gauges(*registry_, declared_, "kamwatch_outbox_records",
                            "Records waiting in the outbox per sink.")),
      kam_alerts_firing(gauges(*registry_, declared_, "kamwatch_kam_alerts_firing",
                               "Firing alerts per key account manager and signal.")),
      competitor_pressure(gauges(*registry_, declared_, "kamwatch_competitor_pressure_accounts",
                                 "Accounts with a firing competitor alert, per category.")),
      rocksdb_live_sst_bytes(gauge(*registry_, declared_, "kamwatch_rocksdb_live_sst_bytes",
                                   "Size of the live SST files of the state store.")),
      rocksdb_memtable_bytes(gauge(*registry_, declared_, "kamwatch_rocksdb_memtable_bytes",
                                   "Size of the state store's memtables.")),
      rocksdb_pending_compaction_bytes(gauge(*registry_, declared_,
                                             "kamwatch_rocksdb_pending_compaction_bytes",
                                             "Estimated bytes compaction still has to rewrite.")),
      rocksdb_running_compactions(gauge(*registry_, declared_,
                                        "kamwatch_rocksdb_running_compactions",
                                        "Compactions running now.")),
      rocksdb_write_stopped(gauge(*registry_, declared_, "kamwatch_rocksdb_write_stopped",
                                  "1 while RocksDB stops writes (compaction debt).")),
      rocksdb_write_stall_seconds(counter(*registry_, declared_,
                                          "kamwatch_rocksdb_write_stall_seconds_total",
                                          "Time writes were stalled by RocksDB.")),
      rocksdb_block_cache_hits(counter(
          *registry_, declared_, "kamwatch_rocksdb_block_cache_hits_total", "Block cache hits.")),
      rocksdb_block_cache_misses(counter(*registry_, declared_,
                                         "kamwatch_rocksdb_block_cache_misses_total",
                                         "Block cache misses.")),
      rocksdb_block_cache_bytes(gauge(*registry_, declared_, "kamwatch_rocksdb_block_cache_bytes",
                                      "Bytes in the RocksDB block cache, memtables charged to it "
                                      "included (normally at most state.block_cache_bytes).")),
      rocksdb_block_cache_pinned_bytes(
          gauge(*registry_, declared_, "kamwatch_rocksdb_block_cache_pinned_bytes",
                "Of the block cache's bytes, those held by readers (cannot be evicted).")),
      rocksdb_table_readers_bytes(
          gauge(*registry_, declared_, "kamwatch_rocksdb_table_readers_bytes",
                "Memory of open SST file readers outside the block cache (estimate).")),
      filesystem_avail_bytes(gauge(*registry_, declared_, "kamwatch_state_filesystem_avail_bytes",
                                   "Free bytes on the state directory's filesystem.")),
      filesystem_size_bytes(gauge(*registry_, declared_, "kamwatch_state_filesystem_size_bytes",
                                  "Size of the state directory's filesystem.")),
      account_cache_accounts(gauge(*registry_, declared_, "kamwatch_account_cache_accounts",
                                   "Decoded account states held in memory (state.cache_accounts "
                                   "bounds it).")),
      account_cache_bytes(gauge(*registry_, declared_, "kamwatch_account_cache_bytes",
                                "Estimated memory of the cached account states "
                                "(state.cache_bytes bounds it).")),
      account_cache_hits(counter(*registry_, declared_, "kamwatch_account_cache_hits_total",
                                 "Account lookups (one per account and batch) served from "
                                 "the account cache.")),
      account_cache_misses(counter(*registry_, declared_, "kamwatch_account_cache_misses_total",
                                   "Account lookups (one per account and batch) read and "
                                   "decoded from RocksDB.")),
      accounts(gauges(*registry_, declared_, "kamwatch_accounts",
                      "Accounts by health band and tier (at the last evaluation sweep).")),
      key_accounts(gauge(*registry_, declared_, "kamwatch_key_accounts",
                         "Key accounts: the top accounts making 80% of trailing revenue.")),
      portfolio_revenue(gauge(*registry_, declared_, "kamwatch_portfolio_revenue",
                              "Trailing twelve-month revenue of all accounts (order currency).")),
      portfolio_top_share(gauge(*registry_, declared_, "kamwatch_portfolio_top_share_ratio",
                                "Share of trailing revenue from the top 20% of accounts.")),
      portfolio_key_revenue_share(gauge(*registry_, declared_,
                                        "kamwatch_portfolio_key_revenue_share_ratio",
                                        "Share of trailing revenue from the key accounts.")),
      portfolio_gini(gauge(*registry_, declared_, "kamwatch_portfolio_gini_ratio",
                           "Gini coefficient of trailing revenue across accounts.")),
      portfolio_retention(gauge(*registry_, declared_, "kamwatch_portfolio_retention_ratio",
                                "Accounts active in the previous year that are active this year.")),
      portfolio_churn(gauge(*registry_, declared_, "kamwatch_portfolio_churn_ratio",
                            "1 - retention: previous year's active accounts now inactive.")),
      portfolio_refresh_timestamp(gauge(*registry_, declared_,
                                        "kamwatch_portfolio_refresh_timestamp_seconds",
                                        "When the portfolio figures were last computed.")),
      portfolio_partials(gauge(*registry_, declared_, "kamwatch_portfolio_partials",
                               "Cluster mode: input partitions whose summaries the portfolio "
                               "figures were computed from (0 in single-instance mode).")),
      portfolio_oldest_partial_timestamp(
          gauge(*registry_, declared_, "kamwatch_portfolio_oldest_partial_timestamp_seconds",
                "Cluster mode: when the least fresh partition summary was computed.")),
      key_account_health(gauges(*registry_, declared_, "kamwatch_key_account_health_score",
                                "Health score (0-100) of key accounts, lowest first up to "
                                "metrics.key_account_series_cap.")),
      process_cpu_(counter(*registry_, declared_, "process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.")),
      process_rss_(
          gauge(*registry_, declared_, "process_resident_memory_bytes", "Resident memory size.")),
      process_vsize_(
          gauge(*registry_, declared_, "process_virtual_memory_bytes", "Virtual memory size.")),
      process_open_fds_(gauge(*registry_, declared_, "process_open_fds", "Open file descriptors.")),
      process_max_fds_(
          gauge(*registry_, declared_, "process_max_fds", "Maximum open file descriptors.")),
      heap_bytes_(gauges(*registry_, declared_, "kamwatch_heap_bytes",
                         "The C library heap (glibc malloc): state=\"in_use\" is allocated, "
                         "state=\"free\" is freed and kept by the allocator (resident unless "
                         "its pages were given back).")) {
  gauges(*registry_, declared_, "kamwatch_build_info",
         "kamwatch's version and source revision (value 1).")
      .Add({{"version", version}, {"revision", revision}})
      .Set(1);
  gauge(*registry_, declared_, "process_start_time_seconds",
        "Start time of the process (Unix time).")
      .Set(process_start_seconds());
}

void Metrics::add_scrape_hook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mu_);
  hooks_.push_back(std::move(hook));
}

void Metrics::refresh_process() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    advance_to(process_cpu_, cpu);
  }
  std::ifstream statm("/proc/self/statm");
  double pages_virtual = 0, pages_resident = 0;
  if (statm >> pages_virtual >> pages_resident) {
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    process_vsize_.Set(pages_virtual * page);
    process_rss_.Set(pages_resident * page);
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  process_open_fds_.Set(fds);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) process_max_fds_.Set(static_cast<double>(rl.rlim_cur));
  if (const std::optional<memory::HeapFigures> heap = memory::heap_figures()) {
    heap_bytes_.Add({{"state", "in_use"}}).Set(static_cast<double>(heap->in_use));
    heap_bytes_.Add({{"state", "free"}}).Set(static_cast<double>(heap->free));
  }
}

std::string Metrics::serialize() {
  refresh_process();
  {
    std::lock_guard lock(hooks_mu_);
    for (const auto& hook : hooks_) hook();
  }
  std::string text = prometheus::TextSerializer().Serialize(registry_->Collect());
  for (const Metrics::Declared& d : declared_) {
    if (text.find("# TYPE " + d.name + " ") != std::string::npos) continue;
    text += "# HELP " + d.name + " " + d.help + "\n# TYPE " + d.name + " " + d.type + "\n";
  }
  return text;
}

void Metrics::set_gauges(Family<Gauge>& family,
                         const std::map<prometheus::Labels, double>& values) {
  std::lock_guard lock(series_mu_);
  auto& mine = series_[&family];
  for (auto it = mine.begin(); it != mine.end();) {
    if (!values.count(it->first)) {
      family.Remove(it->second);
      it = mine.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [labels, v] : values) {
    auto [it, added] = mine.try_emplace(labels, nullptr);
    if (added) it->second = &family.Add(labels);
    it->second->Set(v);
  }
}

void Metrics::advance_to(Counter& counter, double total) {
  const double now = counter.Value();
  if (total > now) counter.Increment(total - now);
}

}  // namespace kamwatch::metrics

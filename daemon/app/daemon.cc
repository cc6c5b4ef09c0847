#include "app/daemon.h"

#include <sys/statvfs.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "app/api.h"
#include "app/ownership.h"
#include "app/pipeline.h"
#include "app/poison_guard.h"
#include "app/portfolio_attributes.h"
#include "app/portfolio_refresher.h"
#include "app/registries.h"
#include "core/clock.h"
#include "core/log.h"
#include "delivery/alertmanager.h"
#include "delivery/forwarder.h"
#include "delivery/kafka_sink.h"
#include "delivery/webhook.h"
#include "http/server.h"
#include "ingest/kafka.h"
#include "metrics/metrics.h"
#include "rules/rules.h"
#include "scoring/portfolio.h"
#include "state/rocksdb_store.h"
#include "version.h"

namespace kamwatch::app {
namespace {

std::atomic<bool> g_reload{false};
extern "C" void on_sighup(int) { g_reload.store(true); }

// Loads the rule directory. nullptr with no error: no rules configured (default dir absent).
Result<std::shared_ptr<const rules::RuleSet>> load_rule_dir(const config::RulesConfig& rc) {
  if (!std::filesystem::exists(rc.dir)) {
    if (rc.dir_explicit)
      return Error{"rules_missing", "rules directory '" + rc.dir + "' does not exist"};
    log::warn("no rules directory; running without rules", {{"dir", rc.dir}});
    return std::shared_ptr<const rules::RuleSet>();
  }
  auto loaded = rules::load_rules({rc.dir});
  if (!loaded.errors.empty()) {
    for (const auto& d : loaded.errors) log::error("rule error", {{"error", d.to_string()}});
    return Error{"rules_invalid", std::to_string(loaded.errors.size()) + " error(s) in " + rc.dir +
                                      " (first: " + loaded.errors.front().to_string() + ")"};
  }
  if (loaded.rules->alerts().empty())
    log::warn("no alert rules in the rules directory", {{"dir", rc.dir}});
  log::info("rules loaded", {{"dir", rc.dir},
                             {"files", static_cast<std::int64_t>(loaded.rules->files().size())},
                             {"alerts", static_cast<std::int64_t>(loaded.rules->alerts().size())},
                             {"hash", loaded.rules->hash()}});
  return loaded.rules;
}

// A cheap fingerprint of the rule files (names, sizes, modification times): a change triggers
// a reload, as SIGHUP does.
std::string rule_files_signature(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> parts;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const auto time = e.last_write_time(ec).time_since_epoch().count();
    parts.push_back(e.path().filename().string() + ":" + std::to_string(e.file_size(ec)) + ":" +
                    std::to_string(time));
  }
  std::sort(parts.begin(), parts.end());
  std::string sig;
  for (const auto& p : parts) sig += p + "\n";
  return sig;
}

}  // namespace

namespace {

std::string read_secret(const std::string& path, const char* what, Error& error) {
  std::ifstream in(path);
  if (!in) {
    error = Error{"config_invalid", std::string(what) + ": cannot read '" + path + "'"};
    return {};
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (text.empty())
    error = Error{"config_invalid", std::string(what) + ": '" + path + "' is empty"};
  return text;
}

// systemd's notify protocol (Type=notify): READY=1 once ready, RELOADING=1 around reloads,
// WATCHDOG=1 while the loop turns. No-ops when not started by systemd.
void notify_systemd(const char* state) { sd_notify(0, state); }

// Labels of the alert-derived gauges, from the firing-alert index.
void refresh_alert_gauges(metrics::Metrics& m, const ActiveAlerts& alerts) {
  std::map<prometheus::Labels, double> by_rule, by_kam, by_category;
  auto label = [](const ActiveAlerts::Firing& t, const char* k) { return std::string(t.label(k)); };
  std::map<std::string, std::set<std::string>> competitor_accounts;
  alerts.for_each([&](const ActiveAlerts::Firing& t) {
    by_rule[{{"alertname", label(t, "alertname")},
             {"severity", label(t, "severity")},
             {"signal", label(t, "signal")}}] += 1;
    if (const std::string kam = label(t, "kam"); !kam.empty())
      by_kam[{{"kam", kam}, {"signal", label(t, "signal")}}] += 1;
    if (label(t, "signal") == "competitor") {
      const std::string category = t.group.empty() ? label(t, "category") : std::string(t.group);
      competitor_accounts[category.empty() ? "all" : category].emplace(t.account);
    }
  });
  for (const auto& [category, accounts] : competitor_accounts)
    by_category[{{"category", category}}] = static_cast<double>(accounts.size());
  m.set_gauges(m.alerts_firing, by_rule);
  m.set_gauges(m.kam_alerts_firing, by_kam);
  m.set_gauges(m.competitor_pressure, by_category);
}

void refresh_portfolio_gauges(metrics::Metrics& m, const AccountDirectory& directory,
                              const PortfolioSnapshot* portfolio, std::size_t cap) {
  // The worst key accounts first: the cap keeps series bounded and keeps the ones that matter.
  const auto worse = [](const AccountSummary& a, const AccountSummary& b) {
    return a.score != b.score ? a.score < b.score : a.id < b.id;
  };
  std::map<std::pair<std::string, std::string>, double> counts;  // (band, tier)
  std::vector<AccountSummary> key;  // a heap by `worse` of at most cap: its front goes first
  directory.for_each([&](const AccountSummary& s) {
    counts[{s.band, s.tier}] += 1;
    if (!s.key_account || std::isnan(s.score) || cap == 0) return;
    if (key.size() < cap) {
      key.push_back(s);
      std::push_heap(key.begin(), key.end(), worse);
    } else if (worse(s, key.front())) {
      std::pop_heap(key.begin(), key.end(), worse);
      key.back() = s;
      std::push_heap(key.begin(), key.end(), worse);
    }
  });
  std::map<prometheus::Labels, double> bands;
  for (const auto& [band_tier, n] : counts)
    bands[{{"band", band_tier.first}, {"tier", band_tier.second}}] = n;
  m.set_gauges(m.accounts, bands);
  std::sort(key.begin(), key.end(), worse);
  std::map<prometheus::Labels, double> health;
  for (const auto& s : key) health[{{"account", s.id}, {"kam", s.kam}}] = s.score;
  m.set_gauges(m.key_account_health, health);
  if (!portfolio) return;
  const scoring::PortfolioSummary& p = portfolio->summary;
  m.key_accounts.Set(static_cast<double>(p.key_accounts));
  m.portfolio_revenue.Set(p.total_revenue);
  m.portfolio_top_share.Set(p.top_share);
  m.portfolio_key_revenue_share.Set(p.key_revenue_share);
  m.portfolio_gini.Set(p.gini);
  if (p.retention) {
    m.portfolio_retention.Set(p.retention->retention);
    m.portfolio_churn.Set(p.retention->churn);
  }
  m.portfolio_refresh_timestamp.Set(static_cast<double>(p.as_of) / 1000.0);
}

}  // namespace

namespace {

// Several instances: the input topics must be co-partitioned (an account's events all on the
// same partition number), and the changelog gets one partition per input partition.
// Returns the input partition count.
Result<int> prepare_cluster(const config::Config& config, const ingest::KafkaOptions& kafka) {
  int partitions = -1;
  for (const std::string& topic : config.kafka.topics) {
    auto n = ingest::partition_count(kafka, topic);
    if (!n.ok()) return n.error();
    if (partitions >= 0 && *n != partitions)
      return Error{"config_invalid",
                   "with cluster.changelog_topic the input topics must have the same number of "
                   "partitions (co-partitioned by account): " +
                       config.kafka.topics.front() + " has " + std::to_string(partitions) + ", " +
                       topic + " has " + std::to_string(*n)};
    partitions = *n;
  }
  if (config.cluster.changelog_topic.empty()) return partitions;
  if (auto r = ingest::ensure_topic(kafka, config.cluster.changelog_topic, partitions,
                                    {{"cleanup.policy", "compact"},
                                     {"max.message.bytes", "16777216"},
                                     {"min.compaction.lag.ms", "0"},
                                     {"segment.bytes", "67108864"}});
      !r.ok())
    return r.error();
  return partitions;
}

// The changelog producer's transactional id: stable across restarts of this instance (its
// state directory), different for every instance.
std::string transactional_id(const config::Config& config) {
  std::string id = config.cluster.instance_id;
  if (id.empty()) {
    const std::string path = config.state.data_dir + "/instance-id";
    std::ifstream in(path);
    std::getline(in, id);
    if (id.empty()) {
      std::random_device rd;
      char buf[17];
      std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
      id = buf;
      std::ofstream(path) << id << "\n";
    }
  }
  return "kamwatch-" + config.kafka.group + "-" + id;
}

}  // namespace

Result<void> run_daemon(const config::Config& config, const std::atomic<bool>& stop,
                        const DaemonHooks& hooks) {
  SystemClock clock;
  log::info("kamwatch starting", {{"data_dir", config.state.data_dir},
                                  {"brokers", config.kafka.brokers},
                                  {"group", config.kafka.group},
                                  {"http", config.http.listen}});
  for (const auto& [k, v] : config.kafka.properties)
    log::info("kafka property", {{"name", k}, {"value", ingest::loggable_property(k, v)}});
  metrics::Metrics metrics(kVersion, kRevision);

  // Step 1: state, and the firing alerts it holds.
  state::StoreOptions store_options;
  store_options.path = config.state.data_dir;
  store_options.block_cache_bytes = config.state.block_cache_bytes;
  store_options.sync_writes = config.state.sync_writes;
  store_options.min_free_bytes = config.state.min_free_bytes;
  auto store = state::RocksDbStore::open(store_options);
  if (!store.ok()) return store.error();
  state::RocksDbStore& st = **store;
  ActiveAlerts active(st);
  if (auto r = active.load(); !r.ok()) return r.error();
  AccountDirectory directory;

  // Step 2: brokers (embedded cluster when asked).
  std::unique_ptr<ingest::EmbeddedCluster> embedded;
  std::string brokers = config.kafka.brokers;
  if (brokers == "embedded") {
    auto cluster = ingest::start_embedded_cluster(1);
    if (!cluster.ok()) return cluster.error();
    embedded = std::move(*cluster);
    brokers = embedded->bootstrap_servers();
    for (const auto& t : config.kafka.topics)
      if (auto r = embedded->create_topic(t, 4); !r.ok()) return r.error();
    for (const auto& t : {config.kafka.dead_letter_topic, config.kafka.alerts_topic})
      if (auto r = embedded->create_topic(t, 1); !r.ok()) return r.error();
    log::info("embedded Kafka cluster started (in-process, not persistent)",
              {{"bootstrap", brokers}});
  }
  ingest::KafkaOptions kafka{brokers, config.kafka.properties};
  const bool clustered = !config.cluster.changelog_topic.empty();
  if (clustered && embedded)
    return Error{"config_invalid",
                 "cluster.changelog_topic needs a real Kafka cluster (kafka.brokers is embedded)"};
  int input_partitions = 0;
  if (clustered || !config.cluster.summary_topic.empty()) {
    auto n = prepare_cluster(config, kafka);
    if (!n.ok()) return n.error();
    input_partitions = *n;
  }
  if (clustered && config.cluster.summary_topic.empty())
    log::warn(
        "cluster.changelog_topic without cluster.summary_topic: key accounts, retention "
        "and CLV figures cover only this instance's accounts");
  // Which partitions this instance owns (several instances); the pipeline, the portfolio
  // refresher and the registries follow it.
  Pipeline* pipeline_ptr = nullptr;
  std::unique_ptr<Ownership> ownership;
  if (clustered)
    ownership = std::make_unique<Ownership>(
        st, kafka, config.cluster.changelog_topic,
        [&pipeline_ptr] {
          if (pipeline_ptr) pipeline_ptr->forget_cached();
        },
        active, directory);

  // Step 3: rules (a bad rule set refuses to start: the operator must see it).
  RuleStatus rule_status;
  auto rule_set = load_rule_dir(config.rules);
  if (!rule_set.ok()) return rule_set.error();
  rule_status.loaded(*rule_set, config.rules.dir, clock.now());
  metrics.rules_reloads.Add({{"result", "success"}});
  metrics.rules_reloads.Add({{"result", "failure"}});
  auto publish_rules = [&](const std::shared_ptr<const rules::RuleSet>& rs, bool ok) {
    metrics.rules_last_reload_success.Set(ok ? 1 : 0);
    metrics.rules_reloads.Add({{"result", ok ? "success" : "failure"}}).Increment();
    if (!ok) return;
    metrics.rules_last_reload_success_timestamp.Set(static_cast<double>(clock.now()) / 1000.0);
    metrics.rules_loaded.Set(rs ? static_cast<double>(rs->alerts().size()) : 0);
    metrics.set_gauges(metrics.rules_info, {{{{"hash", rs ? rs->hash() : ""}}, 1}});
  };
  publish_rules(*rule_set, true);
  // Nothing to evaluate at startup: skip evaluation entirely. (On a reload an empty set is
  // installed, so the sweep resolves alerts of the rules that were removed.)
  if (*rule_set && (*rule_set)->alerts().empty()) *rule_set = nullptr;

  // Step 4: delivery. Every destination has its own outbox and forwarder thread.
  std::vector<std::unique_ptr<delivery::OutboxForwarder>> forwarders;
  std::vector<std::string> alert_sinks{std::string(kAlertSink)};
  auto kafka_sink = [&](std::string_view name, const std::string& topic) -> Result<void> {
    auto producer = ingest::open_kafka_producer(kafka);
    if (!producer.ok()) return producer.error();
    forwarders.push_back(std::make_unique<delivery::OutboxForwarder>(
        st,
        std::make_unique<delivery::KafkaTopicSink>(std::string(name), std::move(*producer), topic),
        &metrics));
    return ok();
  };
  if (auto r = kafka_sink(kDeadLetterSink, config.kafka.dead_letter_topic); !r.ok())
    return r.error();
  if (auto r = kafka_sink(kAlertSink, config.kafka.alerts_topic); !r.ok()) return r.error();
  const std::string external_url =
      config.http.external_url.empty() ? "http://" + config.http.listen : config.http.external_url;
  for (const std::string& url : config.alerting.alertmanagers) {
    delivery::AlertmanagerOptions o{url, config.alerting.timeout, config.alerting.resend_interval,
                                    external_url};
    auto sink = std::make_unique<delivery::AlertmanagerSink>(
        o, [&active](std::string_view after, std::size_t max) { return active.page(after, max); });
    alert_sinks.push_back(sink->name());
    forwarders.push_back(
        std::make_unique<delivery::OutboxForwarder>(st, std::move(sink), &metrics));
  }
  for (const config::WebhookConfig& wc : config.alerting.webhooks) {
    Error error;
    delivery::WebhookOptions o{wc.name, wc.url, {}, wc.timeout};
    if (!wc.secret_file.empty()) {
      o.secret =
          read_secret(wc.secret_file, ("webhook " + wc.name + " secret_file").c_str(), error);
      if (!error.code.empty()) return error;
    }
    auto sink = std::make_unique<delivery::WebhookSink>(std::move(o));
    alert_sinks.push_back(sink->name());
    forwarders.push_back(
        std::make_unique<delivery::OutboxForwarder>(st, std::move(sink), &metrics));
  }
  for (const auto& [sink, n] : st.outbox_depths()) {
    const bool known = sink == kDeadLetterSink ||
                       std::find(alert_sinks.begin(), alert_sinks.end(), sink) != alert_sinks.end();
    if (!known)
      log::warn("outbox records for a sink that is no longer configured are kept, undelivered",
                {{"sink", sink}, {"records", static_cast<std::int64_t>(n)}});
  }
  for (auto& f : forwarders) f->start();
  auto notify_alert_sinks = [&] {
    for (auto& f : forwarders)
      if (f->sink_name() != kDeadLetterSink) f->notify();
  };
  auto notify_dead_letters = [&] {
    for (auto& f : forwarders)
      if (f->sink_name() == kDeadLetterSink) f->notify();
  };
  auto stop_forwarders = [&](TimeMs drain) {
    for (auto& f : forwarders) f->stop(drain);
  };
  PortfolioRefresherOptions portfolio_options;
  portfolio_options.every = config.rules.portfolio_refresh;
  portfolio_options.metrics = &metrics;
  if (!config.cluster.summary_topic.empty()) {
    auto exchange = ingest::open_summary_exchange({kafka, config.cluster.summary_topic});
    if (!exchange.ok()) {
      stop_forwarders(0);
      return exchange.error();
    }
    portfolio_options.exchange = std::move(*exchange);
    // Every instance publishes the partials of the partitions it owns; one instance with a
    // summary topic owns them all.
    portfolio_options.partition_of =
        [&ownership](const model::AccountState& s) -> std::optional<std::int32_t> {
      const std::int32_t p = std::max(s.partition, 0);
      if (ownership && !ownership->owns(p)) return std::nullopt;
      return p;
    };
    portfolio_options.owned_partitions = [&ownership, input_partitions] {
      if (ownership) return ownership->owned();
      std::vector<std::int32_t> all(static_cast<std::size_t>(input_partitions));
      for (int i = 0; i < input_partitions; ++i) all[static_cast<std::size_t>(i)] = i;
      return all;
    };
    portfolio_options.input_partitions = [input_partitions] { return input_partitions; };
  }
  PortfolioRefresher portfolio(st, std::move(portfolio_options));
  portfolio.start();

  // Step 5: pipeline.
  PipelineOptions popts;
  popts.retention = {config.state.retention_hourly, config.state.retention_daily};
  popts.late_grace = config.state.late_grace;
  popts.limits = {config.ingest.max_message_bytes, config.ingest.max_string_bytes};
  popts.cache_accounts = config.state.cache_accounts;
  popts.cache_bytes = config.state.cache_bytes;
  popts.threads = config.ingest.threads;
  popts.alert_sinks = alert_sinks;
  Pipeline pipeline(st, clock, popts);
  pipeline_ptr = &pipeline;
  PoisonGuard guard(st, pipeline, config.ingest.max_batch_attempts);
  pipeline.set_rules(*rule_set);
  std::shared_ptr<const PortfolioSnapshot> attrs;
  pipeline.set_attributes([&attrs](const std::string& id) -> const rules::AccountAttributes& {
    static const rules::AccountAttributes kNone;
    if (!attrs) return kNone;
    const rules::AccountAttributes* found = attrs->attributes.find(id);
    return found ? *found : kNone;
  });
  struct sigaction hup {};
  hup.sa_handler = on_sighup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);

  // Step 6: metrics read at scrape time, and the HTTP server.
  std::atomic<bool> catching_up_flag{true}, write_failed{false}, started{false},
      dead_letter_backlog{false};
  std::atomic<TimeMs> loop_turned{clock.now()};
  auto readiness = [&]() {
    Readiness r;
    r.loop_age = clock.now() - loop_turned.load();
    if (!started.load())
      r.reason = "starting";
    else if (ownership && ownership->restoring())
      r.reason = "restoring";
    else if (write_failed.load())
      r.reason = "state_write_failed";
    else if (dead_letter_backlog.load())
      r.reason = "dead_letter_backlog";
    else if (catching_up_flag.load())
      r.reason = "catching_up";
    else
      r.ready = true;
    return r;
  };
  metrics.add_scrape_hook([&] {
    const auto f = st.figures();
    metrics.rocksdb_live_sst_bytes.Set(static_cast<double>(f.live_sst_bytes));
    metrics.rocksdb_memtable_bytes.Set(static_cast<double>(f.memtable_bytes));
    metrics.rocksdb_pending_compaction_bytes.Set(static_cast<double>(f.pending_compaction_bytes));
    metrics.rocksdb_running_compactions.Set(static_cast<double>(f.running_compactions));
    metrics.rocksdb_write_stopped.Set(f.write_stopped ? 1 : 0);
    metrics::Metrics::advance_to(metrics.rocksdb_write_stall_seconds,
                                 static_cast<double>(f.write_stall_micros) / 1e6);
    metrics::Metrics::advance_to(metrics.rocksdb_block_cache_hits,
                                 static_cast<double>(f.block_cache_hits));
    metrics::Metrics::advance_to(metrics.rocksdb_block_cache_misses,
                                 static_cast<double>(f.block_cache_misses));
    metrics.rocksdb_block_cache_bytes.Set(static_cast<double>(f.block_cache_bytes));
    metrics.rocksdb_block_cache_pinned_bytes.Set(static_cast<double>(f.block_cache_pinned_bytes));
    metrics.rocksdb_table_readers_bytes.Set(static_cast<double>(f.table_readers_bytes));
    struct statvfs fs {};
    if (statvfs(config.state.data_dir.c_str(), &fs) == 0) {
      metrics.filesystem_avail_bytes.Set(static_cast<double>(fs.f_bavail) *
                                         static_cast<double>(fs.f_frsize));
      metrics.filesystem_size_bytes.Set(static_cast<double>(fs.f_blocks) *
                                        static_cast<double>(fs.f_frsize));
    }
    std::map<prometheus::Labels, double> depths;
    depths[{{"sink", std::string(kDeadLetterSink)}}] = 0;
    for (const auto& s : alert_sinks) depths[{{"sink", s}}] = 0;
    for (const auto& [sink, n] : st.outbox_depths())
      depths[{{"sink", sink}}] = static_cast<double>(n);
    metrics.set_gauges(metrics.outbox_records, depths);
    metrics.ready.Set(readiness().ready ? 1 : 0);
    refresh_alert_gauges(metrics, active);
    refresh_portfolio_gauges(metrics, directory, portfolio.snapshot().get(),
                             config.metrics.key_account_series_cap);
  });
  ReloadChannel reload_channel;
  std::string token;
  if (!config.http.token_file.empty()) {
    Error error;
    token = read_secret(config.http.token_file, "http.token_file", error);
    if (!error.code.empty()) return error;
  }
  ApiContext api;
  api.store = &st;
  api.alerts = &active;
  api.directory = &directory;
  api.rules = &rule_status;
  api.reload = &reload_channel;
  api.metrics = &metrics;
  api.readiness = readiness;
  api.attributes = [&portfolio](const std::string& id) {
    auto snap = portfolio.snapshot();
    if (!snap) return rules::AccountAttributes{};
    const rules::AccountAttributes* found = snap->attributes.find(id);
    return found ? *found : rules::AccountAttributes{};
  };
  api.retention = popts.retention;
  api.now = [&clock] { return clock.now(); };
  http::ServerOptions sopts;
  sopts.listen = config.http.listen;
  sopts.bearer_token = token;
  sopts.tls_cert_file = config.http.tls_cert_file;
  sopts.tls_key_file = config.http.tls_key_file;
  auto server = http::Server::start(sopts, make_api_router(std::move(api)));
  if (!server.ok()) {
    stop_forwarders(0);
    return server.error();
  }
  if (!(*server)->loopback() && token.empty())
    log::warn("HTTP API bound off loopback without http.token_file: POST /-/reload is refused",
              {{"listen", config.http.listen}});
  log::info("HTTP server listening", {{"listen", config.http.listen},
                                      {"port", static_cast<std::int64_t>((*server)->port())},
                                      {"tls", !config.http.tls_cert_file.empty()}});

  // Step 7: consumer.
  ingest::ConsumerOptions copts;
  copts.kafka = kafka;
  copts.topics = config.kafka.topics;
  copts.group = config.kafka.group;
  copts.batch_max = config.kafka.batch_max_events;
  copts.batch_wait = config.kafka.batch_max_wait;
  copts.offset_lookup = [&st](std::string_view topic,
                              std::int32_t partition) -> std::optional<std::int64_t> {
    auto o = st.get_offset(topic, partition);
    if (!o.ok()) {
      log::error("cannot read stored offset", {{"topic", topic}, {"error", o.error().message}});
      return std::nullopt;
    }
    return *o;
  };
  std::unique_ptr<ingest::ChangelogWriter> changelog;
  auto cleanup = [&] {
    (*server)->stop();
    stop_forwarders(0);
  };
  if (clustered) {
    copts.instance_id = config.cluster.instance_id;
    copts.on_assigned = [&](const std::vector<ingest::TopicPartition>& tps) {
      return ownership->assigned(tps);
    };
    copts.on_revoked = [&](const std::vector<ingest::TopicPartition>& tps, bool lost) {
      ownership->revoked(tps, lost);
    };
  }
  auto source = ingest::open_kafka_source(copts);
  if (!source.ok()) {
    cleanup();
    return source.error();
  }
  if (clustered) {
    // Before the first poll: initialising the transactions also aborts one this instance's
    // previous run left open, which would otherwise hold back the restores.
    auto writer = ingest::open_changelog_writer(kafka, config.cluster.changelog_topic,
                                                transactional_id(config), **source);
    if (!writer.ok()) {
      cleanup();
      return writer.error();
    }
    changelog = std::move(*writer);
    pipeline.set_changelog(changelog.get(),
                           [&](std::int32_t partition) { return ownership->owns(partition); });
  }
  log::info("kamwatch consuming",
            {{"topics", static_cast<std::int64_t>(config.kafka.topics.size())}});
  started.store(true);
  if (hooks.on_ready) {
    const auto colon = config.http.listen.rfind(':');
    std::string host = config.http.listen.substr(0, colon);
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    hooks.on_ready(brokers, (config.http.tls_cert_file.empty() ? "http://" : "https://") + host +
                                ":" + std::to_string((*server)->port()));
  }

  // Step 8: the loop.
  ingest::MessageBatch batch;
  std::uint64_t applied_total = 0, dead_total = 0, dup_total = 0, batches = 0;
  auto last_report = std::chrono::steady_clock::now();
  std::uint64_t applied_at_report = 0;
  TimeMs backoff = 0;
  Result<void> outcome = ok();
  // The first sweep runs as soon as the consumer has caught up.
  auto last_sweep = std::chrono::steady_clock::now() -
                    std::chrono::milliseconds(config.rules.evaluation_interval);
  // A full batch means a backlog: sweeps wait until the consumer has caught up, so quiet-account
  // rules do not fire on accounts whose recent events are still in the backlog.
  bool catching_up = true;
  bool notified_ready = false;
  auto last_watch = std::chrono::steady_clock::now();
  auto last_lag = std::chrono::steady_clock::now();
  auto last_watchdog = std::chrono::steady_clock::now();
  // Per assigned partition: the next offset to process (from committed batches, else as
  // stored), and the backlog found at assignment: the partition's end when first known.
  struct Progress {
    std::int64_t next = 0;
    std::int64_t backlog_end = -1;  // -1 until the end is known
    bool backlog_done = false;
  };
  std::map<std::pair<std::string, std::int32_t>, Progress> progress;
  auto progress_of = [&](const ingest::TopicPartition& tp) -> Progress& {
    auto [it, fresh] = progress.try_emplace({tp.topic, tp.partition});
    if (fresh) {
      auto stored = st.get_offset(tp.topic, tp.partition);
      if (stored.ok() && stored->has_value()) it->second.next = **stored;
    }
    return it->second;
  };
  // Still catching up: nothing is assigned, or a partition has not processed the backlog it had
  // when assigned (its end unknown until a fetch answers), or has fallen more than a full batch
  // behind since. (Before, an empty first poll counted as caught up: ready, and a timer sweep,
  // before the backlog's events were applied.)
  auto behind = [&] {
    const auto assigned = (*source)->assignment();
    // Partitions that moved away start over should they come back.
    std::erase_if(progress, [&](const auto& kv) {
      return std::none_of(assigned.begin(), assigned.end(), [&](const ingest::TopicPartition& tp) {
        return tp.partition == kv.first.second && tp.topic == kv.first.first;
      });
    });
    bool late = assigned.empty();
    for (const ingest::TopicPartition& tp : assigned) {
      Progress& p = progress_of(tp);
      // What poll returned counts (it is processed in this turn), and so do the transaction
      // markers after it, which no message carries: the consumer's position steps over them.
      if (const auto polled = (*source)->position(tp)) p.next = std::max(p.next, *polled);
      const auto end = (*source)->high_watermark(tp);
      if (!p.backlog_done) {
        if (end && p.backlog_end < 0) p.backlog_end = *end;
        p.backlog_done = p.backlog_end >= 0 && p.next >= p.backlog_end;
        late = late || !p.backlog_done;
      } else if (end && *end - p.next > static_cast<std::int64_t>(config.kafka.batch_max_events)) {
        late = true;
      }
    }
    return late;
  };
  std::string watched = rule_files_signature(config.rules.dir);
  bool sweeping = false;
  auto committed = [&](const BatchStats& stats) {
    // The forwarders first: an alert waits for nothing else once it is committed.
    if (!stats.transitions.empty()) notify_alert_sinks();
    active.apply(stats.transitions);
    for (const auto& t : stats.transitions) {
      auto sev = t.labels.find("severity");
      metrics.alert_transitions
          .Add({{"alertname", t.alert},
                {"severity", sev == t.labels.end() ? "" : sev->second},
                {"status", std::string(t.status_text())}})
          .Increment();
    }
    metrics.rule_evaluations.Increment(static_cast<double>(stats.rule_evaluations));
    if (stats.rule_seconds > 0) metrics.rule_evaluation_duration.Observe(stats.rule_seconds);
    if (!stats.transitions.empty() && hooks.on_transitions) hooks.on_transitions(stats.transitions);
  };
  // What follows a batch's commit (or its failure): the forwarders' wake-up, metrics, positions.
  // Its stats arrive once the batch is committed, which with overlapped commits is during the
  // next batch's processing (Pipeline::process, Commit::kOverlap) or pipeline.finish().
  auto batch_done = [&](Result<BatchStats> stats) {
    if (!stats.ok()) {
      metrics.commit_failures.Increment();
      write_failed.store(true);
      backoff = std::clamp<TimeMs>(backoff * 2, 100, 10000);
      log::error("batch not committed; rewinding and retrying",
                 {{"error", stats.error().to_string()}, {"retry_in_ms", backoff}});
      batch.clear();
      if (auto r = (*source)->rewind(pipeline.stored_positions((*source)->assignment())); !r.ok())
        log::error("rewind failed", {{"error", r.error().message}});
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      return;
    }
    write_failed.store(false);
    backoff = 0;
    ++batches;
    applied_total += stats->applied;
    dead_total += stats->dead_lettered;
    dup_total += stats->duplicates;
    const TimeMs commit_time = clock.now();
    committed(*stats);  // wakes the alert forwarders: before the metrics
    metrics.batch_duration.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - stats->started).count());
    metrics.batch_messages.Observe(static_cast<double>(stats->messages));
    for (const TimeMs produced : stats->produced)
      metrics.event_delay.Observe(static_cast<double>(std::max<TimeMs>(0, commit_time - produced)) /
                                  1000.0);
    for (const auto& [k, n] : stats->consumed)
      metrics.events_consumed.Add({{"topic", k.first}, {"type", k.second}})
          .Increment(static_cast<double>(n));
    for (const auto& [reason, n] : stats->rejected)
      metrics.events_rejected.Add({{"reason", reason}}).Increment(static_cast<double>(n));
    metrics.events_applied.Increment(static_cast<double>(stats->applied));
    metrics.events_dead_lettered.Increment(static_cast<double>(stats->dead_lettered));
    metrics.events_duplicates.Increment(static_cast<double>(stats->duplicates));
    metrics.events_late.Increment(static_cast<double>(stats->late));
    if (stats->dead_lettered > 0) notify_dead_letters();
    for (const auto& p : stats->positions) progress_of({p.topic, p.partition}).next = p.offset;
    (*source)->report_progress(stats->positions);
    if (hooks.on_batch) hooks.on_batch(applied_total);
  };
  while (!stop.load()) {
    const auto now = std::chrono::steady_clock::now();
    loop_turned.store(clock.now());
    if (now - last_watchdog >= std::chrono::seconds(5)) {
      last_watchdog = now;
      notify_systemd("WATCHDOG=1");
    }
    if (now - last_watch >= std::chrono::seconds(2)) {
      last_watch = now;
      std::string sig = rule_files_signature(config.rules.dir);
      if (sig != watched) {
        watched = std::move(sig);
        log::info("rule files changed; reloading", {{"dir", config.rules.dir}});
        g_reload.store(true);
      }
    }
    const bool api_reload = reload_channel.pending();
    if (g_reload.exchange(false) || api_reload) {
      notify_systemd("RELOADING=1");
      // Validate everything first; on any error the running rules stay in force.
      auto reloaded = load_rule_dir(config.rules);
      if (reloaded.ok()) {
        rule_status.loaded(*reloaded, config.rules.dir, clock.now());
        publish_rules(*reloaded, true);
        if (*reloaded) {
          pipeline.set_rules(*reloaded);
          log::info("rules reloaded", {{"hash", (*reloaded)->hash()}});
        }
        reload_channel.complete({true, *reloaded ? (*reloaded)->hash() : ""});
      } else {
        rule_status.failed(reloaded.error().message, clock.now());
        publish_rules(nullptr, false);
        log::error("rule reload failed; the previous rules stay in force",
                   {{"error", reloaded.error().message}});
        reload_channel.complete({false, reloaded.error().message});
      }
      notify_systemd("READY=1");
    }
    attrs = portfolio.snapshot();
    if (!sweeping &&
        now - last_sweep >= std::chrono::milliseconds(config.rules.evaluation_interval)) {
      sweeping = true;
      last_sweep = now;
    }
    if (sweeping && !catching_up && pipeline.committing())
      batch_done(pipeline.finish());  // a sweep reads the stored states
    if (sweeping && !catching_up) {
      const auto t0 = std::chrono::steady_clock::now();
      // Slices of at most ~5 ms, so events arriving meanwhile wait little (issue 6: p99
      // produce-to-alert); the loop does not block in poll while a sweep is under way.
      auto sw = pipeline.sweep(2000, std::chrono::milliseconds(5));
      if (!sw.ok()) {
        log::error("timer evaluation failed", {{"error", sw.error().to_string()}});
        metrics.commit_failures.Increment();
        write_failed.store(true);
        sweeping = false;
      } else {
        sw->batch.rule_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        directory.update(std::move(sw->summaries));
        committed(sw->batch);
        sweeping = !sw->done;
      }
    }
    {
      // The dead-letter outbox never skips a record: while the dead-letter topic cannot take
      // them, consumption pauses above the bound and resumes at half of it.
      auto depths = st.outbox_depths();
      const std::uint64_t pending = depths[std::string(kDeadLetterSink)];
      const std::uint64_t bound = config.kafka.dead_letter_max_pending;
      if (!dead_letter_backlog.load() ? pending > bound : pending <= bound / 2) {
        dead_letter_backlog.store(!dead_letter_backlog.load());
        (*source)->set_paused(dead_letter_backlog.load());
        metrics.consumer_paused.Set(dead_letter_backlog.load() ? 1 : 0);
        if (dead_letter_backlog.load())
          log::error("consumption paused: dead letters are not being delivered",
                     {{"pending", pending}, {"max_pending", bound}});
        else
          log::info("consumption resumed: the dead-letter backlog drained", {{"pending", pending}});
      }
    }
    if (auto r = (*source)->poll(batch, !(sweeping && !catching_up) && !pipeline.committing());
        !r.ok()) {
      outcome = r.error();
      break;
    }
    {
      const bool was_catching_up = catching_up;
      catching_up = batch.messages.size() >= config.kafka.batch_max_events || behind();
      catching_up_flag.store(catching_up);
      // A backlog was just consumed: evaluate everything now rather than at the next interval.
      if (was_catching_up && !catching_up && !sweeping) {
        sweeping = true;
        last_sweep = std::chrono::steady_clock::now();
      }
    }
    if (!batch.messages.empty()) {
      // While catching up, each batch's commit overlaps the next batch (Commit::kOverlap; not
      // with a changelog); at the head of the stream every batch is committed before its alerts
      // go out.
      auto stats = guard.process(batch, catching_up ? Commit::kOverlap : Commit::kWait);
      const bool failed = !stats.ok();
      if (failed || stats->messages > 0) batch_done(std::move(stats));
      if (failed) continue;
    } else if (pipeline.committing()) {
      batch_done(pipeline.finish());  // nothing more to read for now: complete the last commit
    }
    {
      const Pipeline::CacheFigures cache = pipeline.cache_figures();
      metrics.account_cache_accounts.Set(static_cast<double>(cache.accounts));
      metrics.account_cache_bytes.Set(static_cast<double>(cache.bytes));
      metrics::Metrics::advance_to(metrics.account_cache_hits, static_cast<double>(cache.hits));
      metrics::Metrics::advance_to(metrics.account_cache_misses, static_cast<double>(cache.misses));
    }
    if (!notified_ready && readiness().ready) {
      notified_ready = true;
      notify_systemd("READY=1");
      log::info("kamwatch ready (caught up)", {{"applied_total", applied_total}});
    }
    if (now - last_lag >= std::chrono::seconds(5)) {
      last_lag = now;
      std::map<prometheus::Labels, double> lag;
      for (const auto& tp : (*source)->assignment()) {
        auto high = (*source)->high_watermark(tp);
        if (!high) continue;
        lag[{{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}}] =
            static_cast<double>(std::max<std::int64_t>(0, *high - progress_of(tp).next));
      }
      metrics.set_gauges(metrics.consumer_lag, lag);
    }
    if (now - last_report >= std::chrono::seconds(10)) {
      const double secs = std::chrono::duration<double>(now - last_report).count();
      log::info("progress", {{"applied_total", applied_total},
                             {"dead_lettered_total", dead_total},
                             {"duplicates_total", dup_total},
                             {"batches", batches},
                             {"events_per_second",
                              static_cast<double>(applied_total - applied_at_report) / secs}});
      last_report = now;
      applied_at_report = applied_total;
    }
  }

  // Teardown: complete the last commit, leave the group, deliver what is pending, close the store.
  if (pipeline.committing()) batch_done(pipeline.finish());
  notify_systemd("STOPPING=1");
  log::info("kamwatch stopping", {{"applied_total", applied_total}});
  batch.clear();
  (*source)->close();
  (*server)->stop();
  stop_forwarders(5000);
  portfolio.stop();
  source->reset();
  log::info("kamwatch stopped", {{"applied_total", applied_total},
                                 {"dead_lettered_total", dead_total},
                                 {"duplicates_total", dup_total}});
  return outcome;
}

}  // namespace kamwatch::app

#include "app/daemon.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "app/outbox_forwarder.h"
#include "app/pipeline.h"
#include "app/portfolio_attributes.h"
#include "core/clock.h"
#include "core/log.h"
#include "ingest/kafka.h"
#include "rules/rules.h"
#include "scoring/portfolio.h"
#include "state/rocksdb_store.h"

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

// Portfolio attributes (key accounts, CLV, P(alive)) recomputed in the background over all
// accounts in the store; the pipeline thread reads the latest snapshot.
class PortfolioRefresher {
 public:
  PortfolioRefresher(state::StateStore& store, TimeMs every) : store_(store), every_(every) {}
  ~PortfolioRefresher() { stop(); }
  void start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        refresh();
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(every_), [this] { return stop_.load(); });
      }
    });
  }
  void stop() {
    stop_.store(true);
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::shared_ptr<const std::map<std::string, rules::AccountAttributes>> snapshot() const {
    std::lock_guard lock(mu_);
    return snapshot_;
  }

 private:
  void refresh() {
    std::vector<model::AccountState> states;
    auto r = store_.for_each_account([&](const model::AccountState& s) {
      states.push_back(s);
      return !stop_.load();
    });
    if (!r.ok()) return;
    std::vector<const model::AccountState*> ptrs;
    for (const auto& s : states) ptrs.push_back(&s);
    auto p = scoring::score_portfolio(ptrs, SystemClock().now());
    if (!p.ok()) return;
    auto map = std::make_shared<std::map<std::string, rules::AccountAttributes>>();
    for (const auto& f : p->accounts) (*map)[f.account] = attributes_of(f);
    std::lock_guard lock(mu_);
    snapshot_ = std::move(map);
  }

  state::StateStore& store_;
  TimeMs every_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::shared_ptr<const std::map<std::string, rules::AccountAttributes>> snapshot_;
};

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

Result<void> run_daemon(const config::Config& config, const std::atomic<bool>& stop,
                        const DaemonHooks& hooks) {
  SystemClock clock;
  log::info("kamwatch starting", {{"data_dir", config.state.data_dir},
                                  {"brokers", config.kafka.brokers},
                                  {"group", config.kafka.group}});
  for (const auto& [k, v] : config.kafka.properties)
    log::info("kafka property", {{"name", k}, {"value", ingest::loggable_property(k, v)}});

  // Step 1: state.
  state::StoreOptions store_options;
  store_options.path = config.state.data_dir;
  store_options.block_cache_bytes = config.state.block_cache_bytes;
  store_options.sync_writes = config.state.sync_writes;
  auto store = state::RocksDbStore::open(store_options);
  if (!store.ok()) return store.error();
  state::StateStore& st = **store;

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

  // Step 3: rules (a bad rule set refuses to start: the operator must see it).
  auto rule_set = load_rule_dir(config.rules);
  if (!rule_set.ok()) return rule_set.error();
  // Nothing to evaluate at startup: skip evaluation and sweeps entirely. (On a reload an empty
  // set is installed, so the sweep resolves alerts of the rules that were removed.)
  if (*rule_set && (*rule_set)->alerts().empty()) *rule_set = nullptr;

  // Step 3b: dead-letter and alert delivery.
  auto producer = ingest::open_kafka_producer(kafka);
  if (!producer.ok()) return producer.error();
  OutboxForwarder dlq(st, std::move(*producer), std::string(kDeadLetterSink),
                      config.kafka.dead_letter_topic);
  dlq.start();
  auto alert_producer = ingest::open_kafka_producer(kafka);
  if (!alert_producer.ok()) return alert_producer.error();
  OutboxForwarder alerts(st, std::move(*alert_producer), std::string(kAlertSink),
                         config.kafka.alerts_topic);
  alerts.start();
  PortfolioRefresher portfolio(st, config.rules.portfolio_refresh);
  if (*rule_set) portfolio.start();

  // Step 4: pipeline and consumer.
  PipelineOptions popts;
  popts.retention = {config.state.retention_hourly, config.state.retention_daily};
  popts.late_grace = config.state.late_grace;
  popts.limits = {config.ingest.max_message_bytes, config.ingest.max_string_bytes};
  popts.cache_accounts = config.state.cache_accounts;
  Pipeline pipeline(st, clock, popts);
  pipeline.set_rules(*rule_set);
  std::shared_ptr<const std::map<std::string, rules::AccountAttributes>> attrs;
  pipeline.set_attributes([&attrs](const std::string& id) -> const rules::AccountAttributes& {
    static const rules::AccountAttributes kNone;
    if (!attrs) return kNone;
    auto it = attrs->find(id);
    return it == attrs->end() ? kNone : it->second;
  });
  struct sigaction hup {};
  hup.sa_handler = on_sighup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);

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
  auto source = ingest::open_kafka_source(copts);
  if (!source.ok()) {
    dlq.stop(0);
    alerts.stop(0);
    return source.error();
  }
  log::info("kamwatch ready", {{"topics", static_cast<std::int64_t>(config.kafka.topics.size())}});
  if (hooks.on_ready) hooks.on_ready(brokers);

  // Step 5: the loop.
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
  auto last_watch = std::chrono::steady_clock::now();
  std::string watched = rule_files_signature(config.rules.dir);
  bool sweeping = false;
  while (!stop.load()) {
    if (const auto now = std::chrono::steady_clock::now();
        now - last_watch >= std::chrono::seconds(2)) {
      last_watch = now;
      std::string sig = rule_files_signature(config.rules.dir);
      if (sig != watched) {
        watched = std::move(sig);
        log::info("rule files changed; reloading", {{"dir", config.rules.dir}});
        g_reload.store(true);
      }
    }
    if (g_reload.exchange(false)) {
      // Validate everything first; on any error the running rules stay in force.
      auto reloaded = load_rule_dir(config.rules);
      if (reloaded.ok() && *reloaded) {
        if (!pipeline.rules()) portfolio.start();
        pipeline.set_rules(*reloaded);
        log::info("rules reloaded", {{"hash", (*reloaded)->hash()}});
      } else if (!reloaded.ok()) {
        log::error("rule reload failed; the previous rules stay in force",
                   {{"error", reloaded.error().message}});
      }
    }
    attrs = portfolio.snapshot();
    if (pipeline.rules()) {
      const auto now = std::chrono::steady_clock::now();
      if (!sweeping &&
          now - last_sweep >= std::chrono::milliseconds(config.rules.evaluation_interval)) {
        sweeping = true;
        last_sweep = now;
      }
      if (sweeping && !catching_up) {
        auto sw = pipeline.sweep(2000);
        if (!sw.ok()) {
          log::error("timer evaluation failed", {{"error", sw.error().to_string()}});
          sweeping = false;
        } else {
          if (!sw->batch.transitions.empty()) {
            alerts.notify();
            if (hooks.on_transitions) hooks.on_transitions(sw->batch.transitions);
          }
          sweeping = !sw->done;
        }
      }
    }
    if (auto r = (*source)->poll(batch); !r.ok()) {
      outcome = r.error();
      break;
    }
    {
      const bool was_catching_up = catching_up;
      catching_up =
          batch.messages.size() >= config.kafka.batch_max_events || (*source)->assignment().empty();
      // A backlog was just consumed: evaluate everything now rather than at the next interval.
      if (was_catching_up && !catching_up && pipeline.rules() && !sweeping) {
        sweeping = true;
        last_sweep = std::chrono::steady_clock::now();
      }
    }
    if (!batch.messages.empty()) {
      auto stats = pipeline.process(batch);
      if (!stats.ok()) {
        backoff = std::clamp<TimeMs>(backoff * 2, 100, 10000);
        log::error("batch not committed; rewinding and retrying",
                   {{"error", stats.error().to_string()}, {"retry_in_ms", backoff}});
        batch.clear();
        if (auto r = (*source)->rewind(pipeline.stored_positions((*source)->assignment())); !r.ok())
          log::error("rewind failed", {{"error", r.error().message}});
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        continue;
      }
      backoff = 0;
      ++batches;
      applied_total += stats->applied;
      dead_total += stats->dead_lettered;
      dup_total += stats->duplicates;
      if (stats->dead_lettered > 0) dlq.notify();
      if (!stats->transitions.empty()) {
        alerts.notify();
        if (hooks.on_transitions) hooks.on_transitions(stats->transitions);
      }
      (*source)->report_progress(stats->positions);
      if (hooks.on_batch) hooks.on_batch(applied_total);
    }
    const auto now = std::chrono::steady_clock::now();
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

  // Teardown: leave the group, deliver what is pending, close the store.
  log::info("kamwatch stopping", {{"applied_total", applied_total}});
  batch.clear();
  (*source)->close();
  dlq.stop(5000);
  alerts.stop(5000);
  portfolio.stop();
  source->reset();
  log::info("kamwatch stopped", {{"applied_total", applied_total},
                                 {"dead_lettered_total", dead_total},
                                 {"duplicates_total", dup_total}});
  return outcome;
}

}  // namespace kamwatch::app

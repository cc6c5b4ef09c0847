#include "app/daemon.h"

#include <chrono>
#include <memory>
#include <thread>

#include "app/outbox_forwarder.h"
#include "app/pipeline.h"
#include "core/clock.h"
#include "core/log.h"
#include "ingest/kafka.h"
#include "state/rocksdb_store.h"

namespace kamwatch::app {

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
    if (auto r = embedded->create_topic(config.kafka.dead_letter_topic, 1); !r.ok())
      return r.error();
    log::info("embedded Kafka cluster started (in-process, not persistent)",
              {{"bootstrap", brokers}});
  }
  ingest::KafkaOptions kafka{brokers, config.kafka.properties};

  // Step 3: dead-letter delivery.
  auto producer = ingest::open_kafka_producer(kafka);
  if (!producer.ok()) return producer.error();
  OutboxForwarder dlq(st, std::move(*producer), std::string(kDeadLetterSink),
                      config.kafka.dead_letter_topic);
  dlq.start();

  // Step 4: pipeline and consumer.
  PipelineOptions popts;
  popts.retention = {config.state.retention_hourly, config.state.retention_daily};
  popts.late_grace = config.state.late_grace;
  popts.limits = {config.ingest.max_message_bytes, config.ingest.max_string_bytes};
  popts.cache_accounts = config.state.cache_accounts;
  Pipeline pipeline(st, clock, popts);

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
  while (!stop.load()) {
    if (auto r = (*source)->poll(batch); !r.ok()) {
      outcome = r.error();
      break;
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
  source->reset();
  log::info("kamwatch stopped", {{"applied_total", applied_total},
                                 {"dead_lettered_total", dead_total},
                                 {"duplicates_total", dup_total}});
  return outcome;
}

}  // namespace kamwatch::app

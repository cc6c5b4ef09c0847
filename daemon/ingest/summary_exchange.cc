// The summary exchange on librdkafka: an idempotent zstd producer, the admin API to create the
// compacted topic, and a group-less reader (legacy per-partition consumer, started at the
// beginning of every partition) that keeps the latest value per key.
#include "ingest/summary_exchange.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.h"
#include "ingest/kafka_common.h"

namespace kamwatch::ingest {
namespace {

// Record batch and protocol overhead allowed on top of the largest value.
constexpr std::size_t kRecordOverhead = 64 * 1024;

std::optional<std::int32_t> partition_key(const char* key, std::size_t size) {
  std::int32_t p = -1;
  const auto [end, ec] = std::from_chars(key, key + size, p);
  if (ec != std::errc() || end != key + size || p < 0) return std::nullopt;
  return p;
}

class KafkaSummaryExchange final : public SummaryExchange {
 public:
  explicit KafkaSummaryExchange(SummaryExchangeOptions options) : options_(std::move(options)) {}

  ~KafkaSummaryExchange() override {
    stop_.store(true);
    if (reader_.joinable()) reader_.join();
    if (rkt_) {
      for (std::int32_t p = 0; p < partitions_; ++p) rd_kafka_consume_stop(rkt_, p);
      rd_kafka_topic_destroy(rkt_);
    }
    if (queue_) rd_kafka_queue_destroy(queue_);
    if (rk_) rd_kafka_destroy(rk_);
  }

  Result<void> open() {
    const std::string limit = std::to_string(options_.max_message_bytes + kRecordOverhead);
    // Reader and admin client. No group.id: nothing is committed, nothing joins a group.
    const std::map<std::string, std::string> consumer_defaults = {
        {"client.id", "kamwatch-summary"},  {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},    {"enable.auto.offset.store", "false"},
        {"fetch.message.max.bytes", limit},
    };
    auto conf =
        detail::make_conf(options_.kafka.brokers, consumer_defaults, options_.kafka.properties);
    if (!conf.ok()) return conf.error();
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(*conf);
      return Error{"kafka_consumer", std::string("cannot create the summary reader: ") + err};
    }
    // An existing topic is used as it is (an operator may have created it and denied us
    // CreateTopics); otherwise it is created.
    if (partition_count(5000) <= 0) create_topic(limit);
    if (auto r = find_partitions(); !r.ok()) return r;

    KafkaOptions producer = options_.kafka;
    const std::map<std::string, std::string> producer_defaults = {
        {"client.id", "kamwatch-summary"},
        {"compression.type", "zstd"},
        {"message.max.bytes", limit},
        {"message.timeout.ms", std::to_string(options_.timeout)},
    };
    for (const auto& [k, v] : producer_defaults) producer.properties.try_emplace(k, v);
    auto p = open_kafka_producer(producer);
    if (!p.ok()) return p.error();
    producer_ = std::move(*p);

    rkt_ = rd_kafka_topic_new(rk_, options_.topic.c_str(), nullptr);
    queue_ = rd_kafka_queue_new(rk_);
    for (std::int32_t p = 0; p < partitions_; ++p) {
      if (rd_kafka_consume_start_queue(rkt_, p, RD_KAFKA_OFFSET_BEGINNING, queue_) != 0) {
        return Error{"kafka_consumer", "cannot read " + options_.topic + " partition " +
                                           std::to_string(p) + ": " +
                                           rd_kafka_err2str(rd_kafka_last_error())};
      }
    }
    reader_ = std::thread([this] { read_loop(); });
    log::info("summary exchange open",
              {{"topic", options_.topic}, {"partitions", static_cast<std::int64_t>(partitions_)}});
    return ok();
  }

  Result<void> publish(std::int32_t partition, std::string_view value) override {
    if (value.size() > options_.max_message_bytes) {
      return Error{"exchange_too_large", "the summary of partition " + std::to_string(partition) +
                                             " is " + std::to_string(value.size()) +
                                             " bytes; the limit is " +
                                             std::to_string(options_.max_message_bytes)};
    }
    ProduceRecord record{options_.topic, std::to_string(partition), std::string(value), {}};
    const std::vector<bool> done = producer_->deliver({std::move(record)}, options_.timeout);
    if (done.empty() || !done[0]) {
      return Error{"exchange_publish", "the summary of partition " + std::to_string(partition) +
                                           " was not acknowledged by " + options_.topic};
    }
    return ok();
  }

  Result<void> sync(TimeMs timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    std::vector<std::int64_t> high(static_cast<std::size_t>(partitions_), 0);
    for (std::int32_t p = 0; p < partitions_; ++p) {
      std::int64_t low = 0;
      const rd_kafka_resp_err_t e =
          detail::query_watermarks(rk_, options_.topic, p, &low, &high[static_cast<std::size_t>(p)],
                                   static_cast<int>(std::max<TimeMs>(timeout, 1)));
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Error{"exchange_timeout",
                     "cannot read the end of " + options_.topic + ": " + rd_kafka_err2str(e)};
      }
    }
    std::unique_lock lock(mu_);
    const bool caught_up = cv_.wait_until(lock, deadline, [&] {
      for (std::int32_t p = 0; p < partitions_; ++p)
        if (position_[static_cast<std::size_t>(p)] < high[static_cast<std::size_t>(p)])
          return false;
      return true;
    });
    if (!caught_up) {
      return Error{"exchange_timeout", "the summary reader did not reach the end of " +
                                           options_.topic + " in " + std::to_string(timeout) +
                                           " ms"};
    }
    return ok();
  }

  std::map<std::int32_t, std::string> latest() const override {
    std::lock_guard lock(mu_);
    return values_;
  }

 private:
  // The topic's partition count from one metadata request; 0 when it does not exist (or the
  // broker does not answer), with the reason in `problem`.
  std::int32_t partition_count(int timeout_ms, std::string* problem = nullptr) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, options_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    std::int32_t n = 0;
    const rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 0, rkt, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (problem) *problem = rd_kafka_err2str(e);
    } else if (md->topic_cnt == 1 && md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (problem) *problem = rd_kafka_err2str(md->topics[0].err);
    } else if (md->topic_cnt == 1) {
      n = md->topics[0].partition_cnt;
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
  }

  void create_topic(const std::string& limit) {
    char err[512];
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(options_.topic.c_str(), 1, -1, err, sizeof err);
    if (!topic) {
      log::warn("cannot create the summary topic", {{"topic", options_.topic}, {"error", err}});
      return;
    }
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
    rd_kafka_NewTopic_set_config(topic, "max.message.bytes", limit.c_str());
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(options_.timeout), err,
                                              sizeof err);
    rd_kafka_CreateTopics(rk_, &topic, 1, opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(options_.timeout + 5000));
    std::string problem;
    if (!ev) {
      problem = "no answer to CreateTopics";
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = rd_kafka_event_error_string(ev);
    } else if (const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev)) {
      std::size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
      for (std::size_t i = 0; i < n; ++i) {
        const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
          log::info("summary topic created",
                    {{"topic", options_.topic}, {"max_message_bytes", limit}});
        } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          const char* msg = rd_kafka_topic_result_error_string(results[i]);
          problem = msg ? msg : rd_kafka_err2str(e);
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(topic);
    if (!problem.empty()) {
      // It may exist anyway (created by an operator, who denied us CreateTopics): the
      // metadata lookup that follows decides.
      log::warn("cannot create the summary topic; using it if it exists",
                {{"topic", options_.topic}, {"error", problem}});
    }
  }

  // Waits (up to options.timeout) until the topic's metadata shows its partitions: a topic
  // just created takes a moment to propagate.
  Result<void> find_partitions() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout);
    std::string problem = "no metadata";
    while ((partitions_ = partition_count(5000, &problem)) <= 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (partitions_ <= 0) {
      return Error{"exchange_topic", "the summary topic " + options_.topic +
                                         " does not exist and cannot be created: " + problem};
    }
    position_.assign(static_cast<std::size_t>(partitions_), 0);
    return ok();
  }

  void read_loop() {
    while (!stop_.load()) {
      rd_kafka_message_t* m = rd_kafka_consume_queue(queue_, 200);
      if (!m) continue;
      const auto p = static_cast<std::size_t>(m->partition);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::lock_guard lock(mu_);
        if (p < position_.size()) position_[p] = std::max(position_[p], m->offset);
        cv_.notify_all();
      } else if (m->err) {
        log::warn("summary reader error",
                  {{"topic", options_.topic}, {"error", rd_kafka_message_errstr(m)}});
      } else {
        const auto key =
            m->key ? partition_key(static_cast<const char*>(m->key), m->key_len) : std::nullopt;
        std::lock_guard lock(mu_);
        if (!key) {
          log::warn("summary record without a partition key ignored",
                    {{"topic", options_.topic}, {"offset", static_cast<std::int64_t>(m->offset)}});
        } else if (m->payload == nullptr || m->len == 0) {
          values_.erase(*key);
        } else {
          values_[*key].assign(static_cast<const char*>(m->payload), m->len);
        }
        if (p < position_.size()) position_[p] = std::max(position_[p], m->offset + 1);
        cv_.notify_all();
      }
      rd_kafka_message_destroy(m);
    }
  }

  SummaryExchangeOptions options_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::int32_t partitions_ = 0;
  std::unique_ptr<KafkaProducer> producer_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::int64_t> position_;  // next offset to read, per partition of the topic
  std::map<std::int32_t, std::string> values_;
};

}  // namespace

Result<std::unique_ptr<SummaryExchange>> open_summary_exchange(SummaryExchangeOptions options) {
  if (options.topic.empty()) return Error{"kafka_config", "the summary topic must be named"};
  auto exchange = std::make_unique<KafkaSummaryExchange>(std::move(options));
  if (auto r = exchange->open(); !r.ok()) return r.error();
  return std::unique_ptr<SummaryExchange>(std::move(exchange));
}

}  // namespace kamwatch::ingest

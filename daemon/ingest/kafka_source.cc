// Kafka consumer-group EventSource on librdkafka's C API (batch consumption, cooperative-sticky
// rebalancing, offsets supplied by the state store on every assignment).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <utility>

#include "core/log.h"
#include "ingest/kafka.h"
#include "ingest/kafka_common.h"

namespace kamwatch::ingest {
namespace {

void release_message(void* p) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(p)); }

class KafkaSource final : public EventSource {
 public:
  explicit KafkaSource(ConsumerOptions options) : options_(std::move(options)) {}

  ~KafkaSource() override {
    close();
    if (queue_) rd_kafka_queue_destroy(queue_);
    if (rk_) rd_kafka_destroy(rk_);
  }

  Result<void> open() {
    std::map<std::string, std::string> defaults = {
        {"group.id", options_.group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "error"},  // never jump silently; positions come from the store
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.partition.eof", "false"},
        {"client.id", "kamwatch"},
        {"queued.max.messages.kbytes", "65536"},  // prefetch: 64 MiB, ~400k events
        // The broker holds a fetch until it has fetch.min.bytes or for fetch.wait.max.ms. The
        // wait is short, so that an event reaches the pipeline in milliseconds (issue 6: at
        // 20,000 events/s on one broker, 500 ms, the default, gave a p50 produce-to-alert of
        // ~120 ms; 10 ms gave a p99 of 19 - 21 ms, 5 ms 15 - 20 ms, bench/README.md). The
        // minimum is not the default single byte: with it, a steady stream answered every fetch
        // at once with a few messages, thousands of fetches and tiny batches a second, and the
        // broker and kamwatch then took 100% and 50% of a core at 20,000 events/s; with 64 KiB,
        // ~70% and ~35%. A backlog fills 64 KiB at once, so neither limits throughput.
        {"fetch.wait.max.ms", "5"},
        {"fetch.min.bytes", "65536"},
    };
    if (!options_.instance_id.empty()) defaults["group.instance.id"] = options_.instance_id;
    auto conf = detail::make_conf(options_.kafka.brokers, defaults, options_.kafka.properties);
    if (!conf.ok()) return conf.error();
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_rebalance_cb(*conf, &KafkaSource::rebalance_cb);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(*conf);
      return Error{"kafka_consumer", std::string("cannot create consumer: ") + err};
    }
    rd_kafka_poll_set_consumer(rk_);
    queue_ = rd_kafka_queue_get_consumer(rk_);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
    for (const auto& t : options_.topics)
      rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Error{"kafka_consumer", std::string("cannot subscribe: ") + rd_kafka_err2str(e)};
    log::info("kafka consumer subscribed",
              {{"group", options_.group}, {"brokers", options_.kafka.brokers}});
    return ok();
  }

  Result<void> poll(MessageBatch& batch, bool wait) override {
    batch.clear();
    if (closed_) return ok();
    send_progress(false);  // the last positions reported while the input is quiet
    if (failed_) return *failed_;
    revoked_during_poll_ = false;
    // Latency: take whatever is already buffered; only when nothing is, wait (up to batch_wait)
    // for the first message and then take what came with it. rd_kafka_consume_batch_queue waits
    // for a full array or its timeout, so it is only ever called with timeout 0; the blocking
    // wait is rd_kafka_consume_queue, which returns with the first message.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(wait ? options_.batch_wait : 0);
    buf_.resize(std::min<std::size_t>(options_.batch_max, 4096));
    while (batch.messages.size() < options_.batch_max) {
      const std::size_t want = std::min(buf_.size(), options_.batch_max - batch.messages.size());
      const ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, buf_.data(), want);
      if (n < 0) return Error{"kafka_consumer", rd_kafka_err2str(rd_kafka_last_error())};
      for (ssize_t i = 0; i < n; ++i) {
        if (auto r = take(buf_[i], batch); !r.ok()) return r;
      }
      if (n > 0) continue;
      if (!batch.messages.empty() || closed_ || failed_) break;  // nothing more buffered: go
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) break;
      rd_kafka_message_t* first = rd_kafka_consume_queue(queue_, static_cast<int>(left));
      if (!first) continue;  // timed out or woken by an event: the deadline decides
      if (auto r = take(first, batch); !r.ok()) return r;
    }
    if (revoked_during_poll_) drop_revoked(batch);
    if (failed_) {
      batch.clear();
      return *failed_;
    }
    return ok();
  }

  rd_kafka_t* handle() const { return rk_; }

  Result<void> rewind(const std::vector<TopicPartitionOffset>& offsets) override {
    if (offsets.empty()) return ok();
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& o : offsets)
      rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
    rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list, 10000);
    Result<void> result = ok();
    if (error) {
      result = Error{"kafka_seek", rd_kafka_error_string(error)};
      rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return result;
  }

  void report_progress(const std::vector<TopicPartitionOffset>& offsets) override {
    if (closed_) return;
    for (const auto& o : offsets) progress_[{o.topic, o.partition}] = o.offset;
    send_progress(false);
  }

  std::vector<TopicPartition> assignment() const override { return assigned_; }

  void set_paused(bool paused) override {
    if (paused == paused_ || closed_ || !rk_) return;
    paused_ = paused;
    if (assigned_.empty()) return;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
    for (const auto& tp : assigned_)
      rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
    const rd_kafka_resp_err_t e =
        paused ? rd_kafka_pause_partitions(rk_, list) : rd_kafka_resume_partitions(rk_, list);
    if (e) log::error("pause/resume failed", {{"paused", paused}, {"error", rd_kafka_err2str(e)}});
    rd_kafka_topic_partition_list_destroy(list);
  }

  std::optional<std::int64_t> high_watermark(const TopicPartition& tp) const override {
    if (closed_ || !rk_) return std::nullopt;
    std::int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
      return std::nullopt;
    return high;
  }

  std::optional<std::int64_t> position(const TopicPartition& tp) const override {
    if (closed_ || !rk_) return std::nullopt;
    detail::ListPtr list{rd_kafka_topic_partition_list_new(1)};
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
    if (rd_kafka_position(rk_, list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR || p->err || p->offset < 0)
      return std::nullopt;
    return p->offset;
  }

  void close() override {
    if (closed_ || !rk_) return;
    send_progress(true, false);
    closed_ = true;
    rd_kafka_consumer_close(rk_);
    log::info("kafka consumer closed", {{"group", options_.group}});
  }

 private:
  // Commits the reported positions to the group (lag monitoring only: the truth is the store),
  // at most once per kProgressInterval unless forced. One commit per batch was ~500
  // OffsetCommit requests a second at 20,000 events/s: broker CPU that showed up as
  // produce-to-alert latency on a shared machine (issue 6).
  static constexpr std::chrono::milliseconds kProgressInterval{100};
  void send_progress(bool force, bool async = true) {
    if (progress_.empty() || !rk_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - progress_sent_ < kProgressInterval) return;
    progress_sent_ = now;
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(progress_.size()));
    for (const auto& [tp, offset] : progress_)
      rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = offset;
    rd_kafka_commit(rk_, list, async ? 1 : 0);
    rd_kafka_topic_partition_list_destroy(list);
    progress_.clear();
  }

  Result<void> take(rd_kafka_message_t* m, MessageBatch& batch) {
    if (m->err) {
      const rd_kafka_resp_err_t err = m->err;
      const std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
      const std::int32_t partition = m->partition;
      const std::string text = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return ok();
      if (err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        // The stored position is outside the log (deleted by retention). Say so loudly and
        // continue from the earliest message still available.
        log::error(
            "stored offset is out of range; events were lost to retention; resuming at the "
            "earliest available offset",
            {{"topic", topic}, {"partition", partition}, {"error", text}});
        return rewind({{topic, partition, RD_KAFKA_OFFSET_BEGINNING}});
      }
      if (rd_kafka_fatal_error(rk_, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return Error{"kafka_fatal", text};
      log::warn("kafka consumer error",
                {{"topic", topic}, {"partition", partition}, {"error", text}});
      return ok();
    }
    batch.hold(m, release_message);
    RawMessage raw;
    raw.topic = rd_kafka_topic_name(m->rkt);
    raw.partition = m->partition;
    raw.offset = m->offset;
    raw.key = std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
    raw.value = std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    rd_kafka_timestamp_type_t tstype;
    raw.timestamp = rd_kafka_message_timestamp(m, &tstype);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      auto& out = batch.new_headers();
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        out.push_back({name, std::string_view(static_cast<const char*>(val), val ? size : 0)});
      }
      raw.headers = out;
    }
    batch.messages.push_back(raw);
    return ok();
  }

  void drop_revoked(MessageBatch& batch) {
    auto owned = [this](const RawMessage& m) {
      return std::any_of(assigned_.begin(), assigned_.end(), [&](const TopicPartition& tp) {
        return tp.partition == m.partition && tp.topic == m.topic;
      });
    };
    const auto before = batch.messages.size();
    std::erase_if(batch.messages, [&](const RawMessage& m) { return !owned(m); });
    if (before != batch.messages.size())
      log::info("dropped messages of revoked partitions",
                {{"count", static_cast<std::int64_t>(before - batch.messages.size())}});
  }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<KafkaSource*>(opaque)->on_rebalance(rk, err, parts);
  }

  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      std::vector<TopicPartition> fresh;
      for (int i = 0; i < parts->cnt; ++i)
        fresh.push_back({parts->elems[i].topic, parts->elems[i].partition});
      if (options_.on_assigned && !failed_) {
        if (auto r = options_.on_assigned(fresh); !r.ok()) failed_ = r.error();
      }
      for (int i = 0; i < parts->cnt; ++i) {
        auto& p = parts->elems[i];
        const auto stored = options_.offset_lookup(p.topic, p.partition);
        p.offset = stored ? *stored : RD_KAFKA_OFFSET_BEGINNING;
      }
      for (int i = 0; i < parts->cnt; ++i) {
        const auto& p = parts->elems[i];
        assigned_.push_back({p.topic, p.partition});
        log::info("partition assigned", {{"topic", p.topic},
                                         {"partition", p.partition},
                                         {"offset", std::max<std::int64_t>(p.offset, 0)},
                                         {"from_start", p.offset == RD_KAFKA_OFFSET_BEGINNING}});
      }
      rd_kafka_error_t* e = nullptr;
      if (cooperative) {
        e = rd_kafka_incremental_assign(rk, parts);
      } else {
        const rd_kafka_resp_err_t r = rd_kafka_assign(rk, parts);
        if (r) log::error("assign failed", {{"error", rd_kafka_err2str(r)}});
      }
      if (e) {
        log::error("incremental assign failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
      if (paused_) rd_kafka_pause_partitions(rk, parts);  // assigned while paused
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk);
      // Positions of partitions still owned go out now; a lost member's would be refused.
      if (lost)
        progress_.clear();
      else
        send_progress(true);
      if (options_.on_revoked) {
        std::vector<TopicPartition> gone;
        for (int i = 0; i < parts->cnt; ++i)
          gone.push_back({parts->elems[i].topic, parts->elems[i].partition});
        options_.on_revoked(gone, lost);
      }
      for (int i = 0; i < parts->cnt; ++i) {
        const auto& p = parts->elems[i];
        std::erase(assigned_, TopicPartition{p.topic, p.partition});
        log::info(lost ? "partition lost" : "partition revoked",
                  {{"topic", p.topic}, {"partition", p.partition}});
      }
      revoked_during_poll_ = true;
      if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
        if (e) rd_kafka_error_destroy(e);
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    } else {
      log::error("rebalance error", {{"error", rd_kafka_err2str(err)}});
      progress_.clear();
      rd_kafka_assign(rk, nullptr);
      assigned_.clear();
      revoked_during_poll_ = true;
    }
  }

  ConsumerOptions options_;
  std::optional<Error> failed_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<TopicPartition> assigned_;
  bool revoked_during_poll_ = false;
  std::vector<rd_kafka_message_t*> buf_;  // poll's array, kept across polls
  bool closed_ = false;
  bool paused_ = false;
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> progress_;  // not yet committed
  std::chrono::steady_clock::time_point progress_sent_;
};

}  // namespace

namespace detail {
rd_kafka_t* consumer_handle(EventSource& source) {
  auto* kafka = dynamic_cast<KafkaSource*>(&source);
  return kafka ? kafka->handle() : nullptr;
}
}  // namespace detail

Result<std::unique_ptr<EventSource>> open_kafka_source(ConsumerOptions options) {
  if (!options.offset_lookup) return Error{"kafka_consumer", "offset_lookup is required"};
  auto source = std::make_unique<KafkaSource>(std::move(options));
  if (auto r = source->open(); !r.ok()) return r.error();
  return std::unique_ptr<EventSource>(std::move(source));
}

}  // namespace kamwatch::ingest

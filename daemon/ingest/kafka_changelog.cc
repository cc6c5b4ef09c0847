// The state changelog on librdkafka: a transactional writer that commits changelog records and
// consumer positions together (EOS v2), a reader for restores, and topic administration.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <thread>

#include "core/log.h"
#include "ingest/kafka.h"
#include "ingest/kafka_common.h"

namespace kamwatch::ingest {
namespace {

constexpr int kTxnTimeoutMs = 60000;  // librdkafka call timeouts, not the transaction timeout

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

using detail::ListPtr;

bool is_fencing(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR__STATE:
      return true;
    default:
      return false;
  }
}

class TransactionalChangelogWriter final : public ChangelogWriter {
 public:
  TransactionalChangelogWriter(KafkaOptions options, std::string topic, std::string txn_id,
                               rd_kafka_t* consumer)
      : options_(std::move(options)),
        topic_(std::move(topic)),
        txn_id_(std::move(txn_id)),
        consumer_(consumer) {}

  ~TransactionalChangelogWriter() override { destroy(); }

  Result<void> open() {
    const std::map<std::string, std::string> defaults = {
        {"transactional.id", txn_id_},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "1"},
        {"client.id", "kamwatch-changelog"},
        {"compression.type", "zstd"},
        // A transaction left open by a crashed or paused instance blocks restores of its
        // partitions (readers stop at the last stable offset) until the broker aborts it.
        {"transaction.timeout.ms", "10000"},
        {"message.max.bytes", "16777216"},
    };
    // The user's kafka.properties apply to every client; consumer-only ones would be rejected.
    std::map<std::string, std::string> user;
    for (const auto& [k, v] : options_.properties)
      if (k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0)
        user[k] = v;
    auto conf = detail::make_conf(options_.brokers, defaults, user);
    if (!conf.ok()) return conf.error();
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_dr_msg_cb(*conf, &TransactionalChangelogWriter::delivered);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(*conf);
      return Error{"changelog", std::string("cannot create the changelog producer: ") + err};
    }
    // Also aborts a transaction a previous incarnation with this id left open.
    if (ErrorPtr e{rd_kafka_init_transactions(rk_, kTxnTimeoutMs)}) {
      const std::string text = rd_kafka_error_string(e.get());
      destroy();
      return Error{"changelog", "cannot initialise changelog transactions: " + text};
    }
    log::info("changelog producer ready", {{"topic", topic_}, {"transactional_id", txn_id_}});
    return ok();
  }

  Result<std::map<std::int32_t, std::int64_t>> commit(
      const std::vector<ChangelogRecord>& records,
      const std::vector<TopicPartitionOffset>& positions) override {
    if (!rk_) {
      if (auto r = open(); !r.ok()) return r.error();
    }
    auto result = attempt(records, positions);
    if (!result.ok() && rk_ && rd_kafka_fatal_error(rk_, nullptr, 0)) {
      // A fenced producer (its transaction was aborted by the broker's timeout, or another
      // producer took its id) cannot be used again: start over with a new one.
      log::warn("changelog producer failed fatally; recreating it",
                {{"error", result.error().message}});
      destroy();
    }
    return result;
  }

 private:
  Result<std::map<std::int32_t, std::int64_t>> attempt(
      const std::vector<ChangelogRecord>& records,
      const std::vector<TopicPartitionOffset>& positions) {
    if (ErrorPtr e{rd_kafka_begin_transaction(rk_)}) return fail(e.get(), "begin");
    ends_.clear();
    delivery_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (const ChangelogRecord& r : records) {
      void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;
      const std::size_t value_size = r.value ? r.value->size() : 0;
      for (;;) {
        const rd_kafka_resp_err_t e = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(r.partition),
            RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
            RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(rk_, 10);
          continue;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return abort_with(rd_kafka_err2str(e), "produce");
        break;
      }
    }
    if (!positions.empty()) {
      ListPtr list{rd_kafka_topic_partition_list_new(static_cast<int>(positions.size()))};
      for (const auto& p : positions)
        rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset =
            p.offset;
      rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
      ErrorPtr e{rd_kafka_send_offsets_to_transaction(rk_, list.get(), group, kTxnTimeoutMs)};
      rd_kafka_consumer_group_metadata_destroy(group);
      if (e) return fail(e.get(), "send offsets");
    }
    for (int attempt = 0;; ++attempt) {
      ErrorPtr e{rd_kafka_commit_transaction(rk_, kTxnTimeoutMs)};
      if (!e) break;
      if (rd_kafka_error_is_retriable(e.get()) && attempt < 5) continue;
      return fail(e.get(), "commit");
    }
    rd_kafka_poll(rk_, 0);  // delivery reports not yet served
    if (delivery_error_ != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Error{"changelog", std::string("changelog record not delivered: ") +
                                    rd_kafka_err2str(delivery_error_)};
    return ends_;
  }

  Error fail(rd_kafka_error_t* e, const char* step) {
    const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    const std::string text =
        std::string("changelog transaction (") + step + "): " + rd_kafka_error_string(e);
    if (rd_kafka_error_txn_requires_abort(e)) {
      if (ErrorPtr a{rd_kafka_abort_transaction(rk_, kTxnTimeoutMs)})
        log::warn("aborting the changelog transaction failed",
                  {{"error", rd_kafka_error_string(a.get())}});
    }
    return Error{is_fencing(code) || rd_kafka_error_is_fatal(e) ? "changelog_fenced" : "changelog",
                 text};
  }

  Error abort_with(const std::string& text, const char* step) {
    if (ErrorPtr a{rd_kafka_abort_transaction(rk_, kTxnTimeoutMs)})
      log::warn("aborting the changelog transaction failed",
                {{"error", rd_kafka_error_string(a.get())}});
    return Error{"changelog", std::string("changelog transaction (") + step + "): " + text};
  }

  static void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<TransactionalChangelogWriter*>(opaque);
    if (m->err) {
      if (!self->delivery_error_) self->delivery_error_ = m->err;
      return;
    }
    auto& end = self->ends_[m->partition];
    end = std::max(end, m->offset + 1);
  }

  void destroy() {
    if (!rk_) return;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  KafkaOptions options_;
  std::string topic_;
  std::string txn_id_;
  rd_kafka_t* consumer_;
  rd_kafka_t* rk_ = nullptr;
  std::map<std::int32_t, std::int64_t> ends_;
  rd_kafka_resp_err_t delivery_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
};

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

Result<HandlePtr> admin_handle(const KafkaOptions& options) {
  auto conf = detail::make_conf(
      options.brokers, {{"client.id", "kamwatch-admin"}, {"allow.auto.create.topics", "false"}},
      {});
  if (!conf.ok()) return conf.error();
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(*conf);
    return Error{"kafka_admin", std::string("cannot create admin client: ") + err};
  }
  return HandlePtr(rk);
}

Result<int> count_partitions(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Error{"kafka_metadata", "metadata of topic " + topic + ": " + rd_kafka_err2str(e)};
  int n = -1;
  rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md->topic_cnt == 1) {
    terr = md->topics[0].err;
    n = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (terr != RD_KAFKA_RESP_ERR_NO_ERROR || n <= 0)
    return Error{"kafka_metadata",
                 "topic " + topic + " does not exist" +
                     (terr ? std::string(" (") + rd_kafka_err2str(terr) + ")" : "")};
  return n;
}

}  // namespace

Result<std::unique_ptr<ChangelogWriter>> open_changelog_writer(const KafkaOptions& options,
                                                               std::string topic,
                                                               std::string transactional_id,
                                                               EventSource& consumer) {
  rd_kafka_t* handle = detail::consumer_handle(consumer);
  if (!handle) return Error{"changelog", "the changelog needs a Kafka consumer-group source"};
  auto w = std::make_unique<TransactionalChangelogWriter>(options, std::move(topic),
                                                          std::move(transactional_id), handle);
  if (auto r = w->open(); !r.ok()) return r.error();
  return std::unique_ptr<ChangelogWriter>(std::move(w));
}

Result<std::int64_t> read_changelog(const KafkaOptions& options, const std::string& topic,
                                    std::int32_t partition, std::int64_t from,
                                    const ChangelogVisitor& fn) {
  std::map<std::string, std::string> user;
  for (const auto& [k, v] : options.properties)
    if (k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0)
      user[k] = v;
  auto conf = detail::make_conf(options.brokers,
                                {{"group.id", "kamwatch-restore"},
                                 {"client.id", "kamwatch-restore"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "true"},
                                 {"isolation.level", "read_committed"},
                                 {"auto.offset.reset", "earliest"},
                                 {"fetch.max.bytes", "104857600"},
                                 {"max.partition.fetch.bytes", "16777216"}},
                                user);
  if (!conf.ok()) return conf.error();
  char err[512];
  HandlePtr rk{rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err)};
  if (!rk) {
    rd_kafka_conf_destroy(*conf);
    return Error{"changelog", std::string("cannot create the restore consumer: ") + err};
  }
  std::int64_t low = 0, high = 0;
  if (auto e = detail::query_watermarks(rk.get(), topic, partition, &low, &high, 30000);
      e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Error{"changelog", "cannot read the end of changelog " + topic + "/" +
                                  std::to_string(partition) + ": " + rd_kafka_err2str(e)};
  if (from > high) {
    log::warn(
        "changelog checkpoint is past the end of the changelog (was it recreated?); "
        "restoring the whole partition",
        {{"topic", topic}, {"partition", partition}, {"checkpoint", from}, {"end", high}});
    from = low;
  }
  if (from < low) from = low;
  if (from >= high) return from;
  ListPtr list{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = from;
  if (auto e = rd_kafka_assign(rk.get(), list.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Error{"changelog", std::string("cannot read the changelog: ") + rd_kafka_err2str(e)};
  std::int64_t next = from;
  auto quiet_since = std::chrono::steady_clock::now();
  for (;;) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 500);
    if (!m) {
      // Readers stop at the last stable offset: an open transaction of another (crashed or
      // paused) instance holds the end back until the broker aborts it.
      if (std::chrono::steady_clock::now() - quiet_since > std::chrono::minutes(5))
        return Error{"changelog", "restore of " + topic + "/" + std::to_string(partition) +
                                      " made no progress for 5 minutes at offset " +
                                      std::to_string(next)};
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> hold(
        m, rd_kafka_message_destroy);
    quiet_since = std::chrono::steady_clock::now();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      next = std::max(next, m->offset);
      break;
    }
    if (m->err) {
      if (rd_kafka_fatal_error(rk.get(), nullptr, 0))
        return Error{"changelog", rd_kafka_message_errstr(m)};
      log::warn("changelog restore: consumer error", {{"error", rd_kafka_message_errstr(m)}});
      continue;
    }
    const std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
    std::optional<std::string_view> value;
    if (m->payload) value = std::string_view(static_cast<const char*>(m->payload), m->len);
    if (auto r = fn(key, value, m->offset); !r.ok()) return r.error();
    next = m->offset + 1;
  }
  rd_kafka_assign(rk.get(), nullptr);
  rd_kafka_consumer_close(rk.get());
  return next;
}

Result<int> partition_count(const KafkaOptions& options, const std::string& topic) {
  auto rk = admin_handle(options);
  if (!rk.ok()) return rk.error();
  return count_partitions(rk->get(), topic);
}

Result<void> ensure_topic(const KafkaOptions& options, const std::string& topic, int partitions,
                          const std::map<std::string, std::string>& configs) {
  auto rk = admin_handle(options);
  if (!rk.ok()) return rk.error();
  if (auto n = count_partitions(rk->get(), topic); n.ok()) {
    if (*n != partitions)
      return Error{"kafka_topic", "topic " + topic + " has " + std::to_string(*n) +
                                      " partitions; " + std::to_string(partitions) +
                                      " are needed (one per input partition)"};
    return ok();
  }
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, nullptr, 0);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk->get());
  rd_kafka_CreateTopics(rk->get(), &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  Result<void> result = Error{"kafka_topic", "creating topic " + topic + ": no answer"};
  if (ev) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    std::size_t n = 0;
    const rd_kafka_topic_result_t** topics =
        res ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
    if (rd_kafka_event_error(ev)) {
      result =
          Error{"kafka_topic", "creating topic " + topic + ": " + rd_kafka_event_error_string(ev)};
    } else if (n == 1 &&
               (rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
                rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
      result = ok();
      log::info("topic created", {{"topic", topic}, {"partitions", partitions}});
    } else if (n == 1) {
      result = Error{"kafka_topic", "creating topic " + topic + ": " +
                                        rd_kafka_topic_result_error_string(topics[0])};
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return result;
}

}  // namespace kamwatch::ingest

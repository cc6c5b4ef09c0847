// Idempotent librdkafka producer that reports, per record, whether the broker acknowledged it.
#include <librdkafka/rdkafka.h>

#include <chrono>

#include "core/log.h"
#include "ingest/kafka.h"
#include "ingest/kafka_common.h"

namespace kamwatch::ingest {
namespace {

struct Delivery {
  std::vector<bool>* ok;
  std::size_t pending = 0;
  std::string first_error;
};

class KafkaProducerImpl final : public KafkaProducer {
 public:
  ~KafkaProducerImpl() override {
    if (rk_) {
      rd_kafka_flush(rk_, 5000);
      rd_kafka_destroy(rk_);
    }
  }

  Result<void> open(const KafkaOptions& options) {
    const std::map<std::string, std::string> defaults = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        // No lingering: an alert would wait for it, and the forwarder hands over up to 1,000
        // records at once anyway (librdkafka batches what queues while a request is in flight).
        {"linger.ms", "0"},
        {"client.id", "kamwatch"},
        {"message.timeout.ms", "30000"},
    };
    auto conf = detail::make_conf(options.brokers, defaults, options.properties);
    if (!conf.ok()) return conf.error();
    rd_kafka_conf_set_dr_msg_cb(*conf, &KafkaProducerImpl::delivered);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(*conf);
      return Error{"kafka_producer", std::string("cannot create producer: ") + err};
    }
    return ok();
  }

  std::vector<bool> deliver(const std::vector<ProduceRecord>& records, TimeMs timeout) override {
    std::vector<bool> result(records.size(), false);
    Delivery d{&result, 0, {}};
    for (std::size_t i = 0; i < records.size(); ++i) {
      const ProduceRecord& r = records[i];
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
      for (const auto& [k, v] : r.headers)
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      std::pair<Delivery*, std::size_t>* opaque = new std::pair<Delivery*, std::size_t>(&d, i);
      const rd_kafka_resp_err_t e =
          rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(r.topic.c_str()),
                            RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(hdrs);
        delete opaque;
        if (d.first_error.empty()) d.first_error = rd_kafka_err2str(e);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk_, 100);
        continue;
      }
      ++d.pending;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    while (d.pending > 0 && std::chrono::steady_clock::now() < deadline) rd_kafka_poll(rk_, 50);
    if (d.pending > 0) {
      // Wait for the outstanding callbacks so no opaque outlives d; librdkafka times the
      // messages out after message.timeout.ms at the latest.
      rd_kafka_flush(rk_, 60000);
      while (d.pending > 0) rd_kafka_poll(rk_, 100);
    }
    if (!d.first_error.empty()) log::warn("kafka delivery failed", {{"error", d.first_error}});
    return result;
  }

 private:
  static void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* opaque = static_cast<std::pair<Delivery*, std::size_t>*>(m->_private);
    Delivery* d = opaque->first;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (*d->ok)[opaque->second] = true;
    } else if (d->first_error.empty()) {
      d->first_error = rd_kafka_err2str(m->err);
    }
    --d->pending;
    delete opaque;
  }

  rd_kafka_t* rk_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<KafkaProducer>> open_kafka_producer(KafkaOptions options) {
  auto p = std::make_unique<KafkaProducerImpl>();
  if (auto r = p->open(options); !r.ok()) return r.error();
  return std::unique_ptr<KafkaProducer>(std::move(p));
}

}  // namespace kamwatch::ingest

#pragma once
// Outbox records to a Kafka topic (dead letters, the alerts topic), key, value and headers as
// stored. Acknowledged = written to all in-sync replicas (the producer is idempotent).
#include <memory>
#include <string>

#include "delivery/sink.h"
#include "ingest/kafka.h"

namespace kamwatch::delivery {

class KafkaTopicSink final : public Sink {
 public:
  KafkaTopicSink(std::string name, std::unique_ptr<ingest::KafkaProducer> producer,
                 std::string topic, TimeMs timeout = 10000)
      : name_(std::move(name)),
        producer_(std::move(producer)),
        topic_(std::move(topic)),
        timeout_(timeout) {}
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::vector<bool> deliver(
      const std::vector<state::OutboxRecord>& records) override {
    std::vector<ingest::ProduceRecord> out;
    out.reserve(records.size());
    for (const auto& r : records) out.push_back({topic_, r.key, r.value, r.headers});
    return producer_->deliver(out, timeout_);
  }

 private:
  std::string name_;
  std::unique_ptr<ingest::KafkaProducer> producer_;
  std::string topic_;
  TimeMs timeout_;
};

}  // namespace kamwatch::delivery

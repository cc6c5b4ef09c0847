#pragma once
// Kafka adapters on librdkafka: the consumer-group EventSource, a producer for the outbox
// (dead letters), and the embedded in-process cluster used by `--brokers embedded` and demos.
// Only this module includes librdkafka headers.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "ingest/event_source.h"

namespace kamwatch::ingest {

struct KafkaOptions {
  std::string brokers;                            // bootstrap servers
  std::map<std::string, std::string> properties;  // librdkafka pass-through, applied last
};

struct ConsumerOptions {
  KafkaOptions kafka;
  std::vector<std::string> topics;
  std::string group;
  std::size_t batch_max = 10000;
  TimeMs batch_wait = 100;
  OffsetLookup offset_lookup;  // required
};

// Consumer group member (cooperative-sticky). Offsets are taken from offset_lookup on every
// assignment; Kafka's committed offsets are written only for lag monitoring.
[[nodiscard]] Result<std::unique_ptr<EventSource>> open_kafka_source(ConsumerOptions options);

struct ProduceRecord {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A producer that delivers records and reports which were acknowledged (acks=all,
// idempotent). Thread-safety: one caller at a time.
class KafkaProducer {
 public:
  virtual ~KafkaProducer() = default;
  // Produces all records and waits up to timeout for their acknowledgements. Returns for each
  // record whether it was delivered; the first error is logged.
  [[nodiscard]] virtual std::vector<bool> deliver(const std::vector<ProduceRecord>& records,
                                                  TimeMs timeout) = 0;
};

[[nodiscard]] Result<std::unique_ptr<KafkaProducer>> open_kafka_producer(KafkaOptions options);

// librdkafka's in-process mock cluster: a real Kafka protocol endpoint on loopback, no broker
// process. Good for demos and zero-setup runs; keeps only a few MB per partition.
class EmbeddedCluster {
 public:
  virtual ~EmbeddedCluster() = default;
  [[nodiscard]] virtual std::string bootstrap_servers() const = 0;
  [[nodiscard]] virtual Result<void> create_topic(const std::string& topic, int partitions) = 0;
};

[[nodiscard]] Result<std::unique_ptr<EmbeddedCluster>> start_embedded_cluster(int brokers = 1);

// The value of a librdkafka property as it may appear in logs: secrets are masked.
[[nodiscard]] std::string loggable_property(const std::string& name, const std::string& value);

}  // namespace kamwatch::ingest

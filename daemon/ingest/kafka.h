#pragma once
// Kafka adapters on librdkafka: the consumer-group EventSource, a producer for the outbox
// (dead letters), and the embedded in-process cluster used by `--brokers embedded` and demos.
// Only this module includes librdkafka headers.
#include <cstdint>
#include <functional>
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
  // Called inside poll(), on the polling thread, with newly assigned partitions before their
  // start offsets are looked up (state restore happens here), and with partitions revoked or
  // lost. May block; the group session is kept alive meanwhile. An error from on_assigned stops
  // the source: poll() returns it from then on.
  std::function<Result<void>(const std::vector<TopicPartition>&)> on_assigned;
  std::function<void(const std::vector<TopicPartition>&, bool lost)> on_revoked;
  // Static membership: group.instance.id (empty = dynamic member).
  std::string instance_id;
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

// The state changelog (several instances): a compacted topic, keyed by account, with as many
// partitions as the input topics; partition p holds the state of the accounts whose events
// arrive on input partition p.
struct ChangelogRecord {
  std::int32_t partition = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// Writes each batch's changelog records and commits the consumer's input positions to its
// group in one Kafka transaction (exactly-once, KIP-447): a member that lost its partitions (a
// zombie after a long pause) cannot commit, so nothing it wrote becomes visible. Thread-safety:
// one caller at a time.
class ChangelogWriter {
 public:
  virtual ~ChangelogWriter() = default;
  // On success: for each changelog partition written, the offset after this batch's last
  // record. On error nothing of the batch is visible; code "changelog_fenced" when this member
  // no longer owns the partitions (the batch must be discarded), "changelog" otherwise.
  [[nodiscard]] virtual Result<std::map<std::int32_t, std::int64_t>> commit(
      const std::vector<ChangelogRecord>& records,
      const std::vector<TopicPartitionOffset>& positions) = 0;
};

// transactional_id must be stable across restarts of one instance (a restart then aborts the
// transaction its predecessor left open) and differ between instances. consumer must be the
// Kafka EventSource whose positions are committed.
[[nodiscard]] Result<std::unique_ptr<ChangelogWriter>> open_changelog_writer(
    const KafkaOptions& options, std::string topic, std::string transactional_id,
    EventSource& consumer);

// Reads one changelog partition from `from` to its end (committed records only: stops at the
// last stable offset), calling fn per record in order. Returns the offset to continue from.
using ChangelogVisitor = std::function<Result<void>(
    std::string_view key, std::optional<std::string_view> value, std::int64_t offset)>;
[[nodiscard]] Result<std::int64_t> read_changelog(const KafkaOptions& options,
                                                  const std::string& topic, std::int32_t partition,
                                                  std::int64_t from, const ChangelogVisitor& fn);

// The partition count of a topic (error kafka_metadata when it does not exist).
[[nodiscard]] Result<int> partition_count(const KafkaOptions& options, const std::string& topic);

// Creates a topic when missing (replication factor: the broker's default), with the given
// topic configs; an existing topic is checked to have `partitions` partitions.
[[nodiscard]] Result<void> ensure_topic(const KafkaOptions& options, const std::string& topic,
                                        int partitions,
                                        const std::map<std::string, std::string>& configs);

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

#pragma once
// The summary exchange: how kamwatch instances share what each partition contributes to the
// portfolio-wide figures (scoring/portfolio_partial.h). One compacted Kafka topic holds the
// latest value per input partition (record key = the partition number in decimal); every
// instance publishes the values of the partitions it owns and reads the whole topic from the
// beginning, keeping the latest value of every partition. Values are opaque bytes here: the
// encoding belongs to scoring.
// Thread-safety: publish() and sync() from one thread at a time; latest() from any thread.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "ingest/kafka.h"

namespace kamwatch::ingest {

struct SummaryExchangeOptions {
  KafkaOptions kafka;
  std::string topic;
  // Largest value publish() sends. A topic it creates gets this (plus record overhead) as
  // max.message.bytes; the producer compresses with zstd, so the topic's limit applies to the
  // compressed record.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  TimeMs timeout = 30000;  // topic creation and metadata at open; each publish
};

class SummaryExchange {
 public:
  virtual ~SummaryExchange() = default;
  // Publishes `value` as the latest of `partition` and waits for the broker's acknowledgement
  // (at most options.timeout). Errors: "exchange_too_large", "exchange_publish".
  [[nodiscard]] virtual Result<void> publish(std::int32_t partition, std::string_view value) = 0;
  // Waits until the reader has read everything the topic held when sync() was called, so
  // latest() includes every value acknowledged before (by any instance). Error
  // "exchange_timeout" (the values read so far stay available).
  [[nodiscard]] virtual Result<void> sync(TimeMs timeout) = 0;
  // The latest value of every partition read so far (a record with an empty value removes
  // the partition).
  [[nodiscard]] virtual std::map<std::int32_t, std::string> latest() const = 0;
};

// Creates the topic when it does not exist (one partition, cleanup.policy=compact,
// max.message.bytes), opens the producer (acks=all, idempotent, compression zstd) and starts
// the reader (all partitions of the topic from the beginning, in a background thread, no
// consumer group). kafka.properties apply to both (after kamwatch's defaults). Errors:
// "kafka_config", "exchange_topic" (cannot be created and does not exist), "kafka_consumer",
// "kafka_producer".
[[nodiscard]] Result<std::unique_ptr<SummaryExchange>> open_summary_exchange(
    SummaryExchangeOptions options);

}  // namespace kamwatch::ingest

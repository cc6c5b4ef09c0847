#pragma once
// EventSource: where raw event messages come from (Kafka consumer group, or a file).
// Thread-safety: one thread polls a source; callbacks run on that thread inside poll().
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ingest/message.h"

namespace kamwatch::ingest {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

struct TopicPartitionOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;  // next offset to read
};

// Called on assignment for each new partition: the offset to resume at (from the state
// store), or nullopt to start at the beginning of the partition.
using OffsetLookup =
    std::function<std::optional<std::int64_t>(std::string_view topic, std::int32_t partition)>;

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Fills batch (cleared first) with up to the configured number of messages: those already
  // buffered, or when there are none, those that come with the first one to arrive within
  // the configured wait (no wait when wait is false: the caller has other work). An empty
  // batch is normal. Messages of partitions revoked during the poll are never returned.
  [[nodiscard]] virtual Result<void> poll(MessageBatch& batch, bool wait) = 0;
  // Moves the read positions back, after a batch could not be committed.
  [[nodiscard]] virtual Result<void> rewind(const std::vector<TopicPartitionOffset>& offsets) = 0;
  // Reports processed positions to the broker (lag monitoring only; the truth is the store).
  // The Kafka source sends the latest ones at most every 100 ms, and on revocation and close.
  virtual void report_progress(const std::vector<TopicPartitionOffset>& offsets) = 0;
  // The partitions currently owned.
  [[nodiscard]] virtual std::vector<TopicPartition> assignment() const = 0;
  // The cached end offset (high watermark) of an assigned partition, as last seen in fetch
  // responses (no broker round trip); nullopt when unknown. Consumer lag = this - position.
  [[nodiscard]] virtual std::optional<std::int64_t> high_watermark(const TopicPartition&) const {
    return std::nullopt;
  }
  // The offset after the last message poll() returned from an assigned partition, past any
  // transaction markers that follow it (which no message carries); nullopt before the first.
  [[nodiscard]] virtual std::optional<std::int64_t> position(const TopicPartition&) const {
    return std::nullopt;
  }
  // Pauses (true) or resumes (false) fetching from every assigned partition, including ones
  // assigned while paused; poll() keeps serving the group (rebalances, liveness) and returns
  // no messages of paused partitions. Resuming continues after the last message returned.
  virtual void set_paused(bool) {}
  // True when the source has no more messages and never will (files); Kafka never ends.
  [[nodiscard]] virtual bool at_end() const { return false; }
  // Leaves the group cleanly. Idempotent.
  virtual void close() = 0;
};

}  // namespace kamwatch::ingest

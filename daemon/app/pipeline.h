#pragma once
// The per-batch processing step: decode -> validate -> dedup -> late check -> apply to state ->
// one atomic commit of state, seen ids, input offsets and dead letters.
// Thread-safety: one pipeline thread calls process(); nothing else touches the cache.
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "ingest/decoder.h"
#include "ingest/event_source.h"
#include "model/account_state.h"
#include "state/account_cache.h"
#include "state/state_store.h"

namespace kamwatch::app {

struct PipelineOptions {
  model::Retention retention;
  TimeMs late_grace = 7 * kDayMs;
  ingest::DecodeLimits limits;
  std::size_t cache_accounts = 100000;
};

struct BatchStats {
  std::size_t messages = 0;
  std::size_t applied = 0;
  std::size_t duplicates = 0;
  std::size_t dead_lettered = 0;  // includes late
  std::size_t late = 0;
  std::vector<ingest::TopicPartitionOffset> positions;  // next offset per partition, committed
};

// The outbox sink name of dead letters.
inline constexpr std::string_view kDeadLetterSink = "dlq";

class Pipeline {
 public:
  Pipeline(state::StateStore& store, const Clock& clock, PipelineOptions options);

  // Processes a batch and commits it atomically. On error nothing of the batch is stored, the
  // account cache is dropped, and the caller must rewind the source to the stored positions.
  [[nodiscard]] Result<BatchStats> process(const ingest::MessageBatch& batch);

  // Stored positions for the given partitions (for rewinding after a failed commit).
  [[nodiscard]] std::vector<ingest::TopicPartitionOffset> stored_positions(
      const std::vector<ingest::TopicPartition>& partitions);

 private:
  void dead_letter(const ingest::RawMessage& m, ingest::Reason reason, std::string_view message,
                   std::vector<state::OutboxRecord>& out);

  state::StateStore& store_;
  const Clock& clock_;
  PipelineOptions options_;
  state::AccountCache cache_;
  ingest::Decoder decoder_;
  // Reused across batches to avoid reallocation.
  std::vector<model::Event> events_;
  std::vector<std::string> keys_;
};

}  // namespace kamwatch::app

#pragma once
// Crash-loop protection around Pipeline::process (docs/faults.md).
//
// An event that makes processing throw is dead-lettered as processing_error: the batch is
// processed again event by event, and the one that throws is quarantined. An event that kills
// the process (abort, segfault) cannot be caught; instead, before each batch the guard records
// in the store's meta (StateStore::put_meta, one small write) where the batch starts in each
// partition and how often a batch starting there was attempted. A batch attempted more than
// max_attempts times is processed event by event, each event's position recorded before it is
// processed; an event that kills the process twice while processed alone is quarantined to the
// dead-letter topic with reason poison on the next start. With overlapped commits
// (Commit::kOverlap) the next batch is attempted while the previous one is still being
// written; a crash then can lose that commit too, and the batch read again starts before the
// recorded one: the record stays, counts an attempt when a batch reaches its start, and the
// batches before it are committed one by one (kWait). So a poison event costs at most
// max_attempts crashes in a row without progress (a batch that ends before the poison event
// commits progress and restarts the count), then two more while it runs alone; every other
// event is applied exactly once.
// Thread-safety: the pipeline thread only, like Pipeline.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/pipeline.h"
#include "core/result.h"
#include "ingest/message.h"
#include "state/state_store.h"

namespace kamwatch::app {

class PoisonGuard {
 public:
  PoisonGuard(state::StateStore& store, Pipeline& pipeline, std::size_t max_attempts)
      : store_(store), pipeline_(pipeline), max_attempts_(max_attempts) {}

  // Pipeline::process with the protection above. On error the caller rewinds to the stored
  // positions, as after Pipeline::process (events already committed one by one stay so).
  // commit: as Pipeline::process's; a batch processed event by event, or with a quarantined
  // event, waits for its commits (kWait) whatever it says.
  [[nodiscard]] Result<BatchStats> process(const ingest::MessageBatch& batch,
                                           Commit commit = Commit::kWait);

  // Batches processed event by event so far (metrics, tests).
  [[nodiscard]] std::uint64_t isolations() const { return isolations_; }

  // The meta keys (StateStore::get_meta) and their text encodings, for tests and tools.
  static constexpr std::string_view kAttemptsKey = "poison.attempts";
  static constexpr std::string_view kIsolatingKey = "poison.isolating";
  struct Position {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::uint64_t count = 0;  // attempts of a batch starting here / runs of this event alone
  };
  [[nodiscard]] static std::string encode(const std::vector<Position>& positions);
  [[nodiscard]] static std::vector<Position> decode(std::string_view text);

 private:
  Result<BatchStats> isolate(const ingest::MessageBatch& batch,
                             const std::vector<QuarantinedMessage>& quarantine,
                             const std::optional<Position>& isolating);

  state::StateStore& store_;
  Pipeline& pipeline_;
  std::size_t max_attempts_;
  std::uint64_t isolations_ = 0;
};

}  // namespace kamwatch::app

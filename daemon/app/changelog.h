#pragma once
// The state changelog's record layout (several instances; see docs/scaling.md), in one place:
// what the pipeline writes with each batch and what a restore reads back into the store.
//   key = account id                            value = the account's state (state/codec.h)
//   key = "\0seen\0" topic "\0" partition "\0" first offset
//                                               value = a batch's dedup keys of that input
//                                                       partition (varint length + bytes
//                                                       each). Written before the account
//                                                       states held their recent ids; no
//                                                       longer written, still restored.
//   key = "\0pos\0" topic "\0" partition       value = the input position (decimal) the
//                                                       states of this transaction reach
//   key = "\0alert\0" fingerprint                value = the firing transition's JSON;
//                                                       a tombstone when it resolves
// Every record goes to the changelog partition numbered like the input partition of the
// account it belongs to.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ingest/kafka.h"
#include "model/account_state.h"
#include "state/state_store.h"

namespace kamwatch::app {

[[nodiscard]] ingest::ChangelogRecord account_record(const model::AccountState& account);
// Builds a legacy `seen` record (what earlier builds wrote; tests of the restore use it).
[[nodiscard]] ingest::ChangelogRecord seen_record(std::string_view topic, std::int32_t partition,
                                                  std::int64_t first_offset,
                                                  const std::vector<std::string_view>& keys);
[[nodiscard]] ingest::ChangelogRecord position_record(const ingest::TopicPartitionOffset& position);
[[nodiscard]] ingest::ChangelogRecord alert_record(std::int32_t partition,
                                                   const state::ActiveAlertUpdate& update);

// Adds one changelog record to a restore batch. Errors: changelog_corrupt.
[[nodiscard]] Result<void> add_to_restore(std::string_view key,
                                          std::optional<std::string_view> value,
                                          state::RestoreBatch& batch);

struct RestoreStats {
  std::size_t records = 0;
  std::int64_t from = 0;  // changelog offsets read: [from, to)
  std::int64_t to = 0;
};

// Brings the store up to the end of one changelog partition, starting at the store's
// checkpoint for it (0 when it never held the partition). Written in slices, each atomically
// with the checkpoint after it, so an interrupted restore resumes where it stopped.
[[nodiscard]] Result<RestoreStats> restore_partition(state::StateStore& store,
                                                     const ingest::KafkaOptions& kafka,
                                                     const std::string& topic,
                                                     std::int32_t partition);

}  // namespace kamwatch::app

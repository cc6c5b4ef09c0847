#pragma once
// Durable state: per-account state (with its recent event ids), input offsets, legacy seen
// event ids and the outbox, all in one RocksDB database so that one WriteBatch commits them
// atomically.
// Thread-safety: implementations are safe for concurrent reads; commit() from one thread.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "model/account_state.h"

namespace kamwatch::state {

struct PartitionOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;  // the offset of the next message to read
};

// A record waiting for delivery (dead letters now; alerts later). Deleted once delivered.
struct OutboxRecord {
  std::uint64_t seq = 0;  // assigned by the store on commit; ascending
  std::string sink;       // e.g. "dlq"
  std::string key;        // message key
  std::string value;      // message payload
  std::vector<std::pair<std::string, std::string>> headers;
};

// The firing-alert index: one entry per firing alert (keyed by its fingerprint), written with
// the transition that starts it and removed with the one that ends it. Readers (API, metrics,
// Alertmanager re-sends) load it without scanning every account.
struct ActiveAlertUpdate {
  std::string fingerprint;
  std::string record;  // the firing transition (engine::transition_json); empty = remove
};

// How far this store reflects one partition of the state changelog (several instances): every
// changelog record before next_offset is in the store.
struct ChangelogCheckpoint {
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
};

// Everything one processed input batch changes, committed atomically.
// What one commit writes. commit() may reorder the account, delta and seen-id vectors.
struct CommitBatch {
  std::vector<const model::AccountState*> accounts;  // full new state of each changed account
  // Accounts changed only by applying events: instead of the full state, the encoded deltas
  // of those events (state/codec.h, concatenated in apply order), which the store merges into
  // the stored state.
  struct AccountDelta {
    std::string_view id;
    std::string_view deltas;
  };
  std::vector<AccountDelta> account_deltas;
  // Accounts stored whole and already encoded (codec.h) by the caller: like `accounts`, for a
  // caller whose states may change while the commit runs (the pipeline's overlapped commits,
  // app/pipeline.h). An account is in exactly one of accounts, account_deltas and this.
  struct EncodedAccount {
    std::string_view id;
    std::string_view encoded;
  };
  std::vector<EncodedAccount> encoded_accounts;
  // Dedup keys (see dedup_key) to store as seen. The pipeline writes none (the account states
  // hold their recent ids); kept for stores and tests of the legacy `seen` keys.
  std::vector<std::string> seen_ids;
  std::vector<PartitionOffset> offsets;
  std::vector<OutboxRecord> outbox;              // seq is assigned on commit
  std::vector<ActiveAlertUpdate> active_alerts;  // applied in order
  std::vector<ChangelogCheckpoint> changelog;    // the changelog records of this batch
};

// A slice of a changelog partition read back into the store (restore on assignment), written
// atomically with the checkpoint after it.
struct RestoreBatch {
  std::vector<std::pair<std::string, std::string>> accounts;  // id -> encoded state (codec.h)
  std::vector<std::string> seen_ids;
  std::vector<ActiveAlertUpdate> active_alerts;  // applied in order
  std::vector<PartitionOffset> offsets;          // input positions the states correspond to
  ChangelogCheckpoint checkpoint;
};

// The dedup key of an event: source and id, which CloudEvents makes unique together.
std::string dedup_key(std::string_view source, std::string_view id);
// The same into key (its buffer is reused).
void dedup_key_to(std::string& key, std::string_view source, std::string_view id);

class StateStore {
 public:
  virtual ~StateStore() = default;

  [[nodiscard]] virtual Result<std::optional<model::AccountState>> get_account(
      std::string_view id) = 0;
  // For each key: true when it was committed as seen. Keys given in ascending bytewise order
  // are looked up without sorting them again. Applied events are recognised by the account's
  // recent ids (model::RecentIds) now; `seen` keys are what databases written before that hold
  // (and changelogs written before it restore), still consulted while holds_seen_ids().
  [[nodiscard]] virtual Result<std::vector<bool>> seen(
      const std::vector<std::string_view>& keys) = 0;
  [[nodiscard]] virtual bool holds_seen_ids() const = 0;
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> get_offset(std::string_view topic,
                                                                       std::int32_t partition) = 0;
  [[nodiscard]] virtual Result<std::vector<PartitionOffset>> all_offsets() = 0;
  [[nodiscard]] virtual Result<void> commit(CommitBatch& batch) = 0;

  // Changelog (several instances): the stored checkpoint of a partition (nullopt = never
  // restored), and writing a restored slice. restore() checks every account decodes.
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> changelog_checkpoint(
      std::int32_t partition) = 0;
  [[nodiscard]] virtual Result<void> restore(const RestoreBatch& batch) = 0;

  // Outbox: oldest-first records of one sink, and their removal after delivery.
  [[nodiscard]] virtual Result<std::vector<OutboxRecord>> outbox_peek(std::string_view sink,
                                                                      std::size_t max) = 0;
  [[nodiscard]] virtual Result<void> outbox_remove(std::string_view sink,
                                                   const std::vector<std::uint64_t>& seqs) = 0;

  // Records waiting per sink (sinks with none are absent).
  [[nodiscard]] virtual std::map<std::string, std::uint64_t> outbox_depths() = 0;

  // Calls fn with every firing alert's record (ActiveAlertUpdate::record), in fingerprint
  // order, without holding them all.
  [[nodiscard]] virtual Result<void> for_each_active_alert(
      const std::function<void(std::string_view record)>& fn) = 0;
  // The records of these firing alerts (nullopt where the fingerprint is not firing), in the
  // order asked.
  [[nodiscard]] virtual Result<std::vector<std::optional<std::string>>> active_alert_records(
      const std::vector<std::string>& fingerprints) = 0;
  // Every firing alert's record, in fingerprint order (offline tools, tests).
  [[nodiscard]] Result<std::vector<std::string>> active_alerts();

  // Up to max account ids greater than `after` ("" = from the first), in id order: timer
  // sweeps walk all accounts a slice at a time.
  [[nodiscard]] virtual Result<std::vector<std::string>> account_ids_after(std::string_view after,
                                                                           std::size_t max) = 0;

  // Calls fn for every account, in id order (offline tools, tests). Stops when fn returns false.
  [[nodiscard]] virtual Result<void> for_each_account(
      const std::function<bool(const model::AccountState&)>& fn) = 0;
  // Small bookkeeping values outside any batch (e.g. processing attempts, see
  // app/poison_guard.h), keyed by name under a "x." prefix in the meta column family. A store
  // without them keeps nothing (get_meta finds nothing).
  [[nodiscard]] virtual Result<std::optional<std::string>> get_meta(std::string_view) {
    return std::optional<std::string>();
  }
  [[nodiscard]] virtual Result<void> put_meta(std::string_view, std::string_view) { return {}; }
};

}  // namespace kamwatch::state

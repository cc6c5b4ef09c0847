#pragma once
// The per-batch processing step: decode -> validate -> dedup (the account's recent ids) -> late
// check -> apply to state -> one atomic commit of state, input offsets and dead letters.
// Thread-safety: one pipeline thread calls process(); nothing else touches the cache.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/account_view.h"
#include "core/clock.h"
#include "core/result.h"
#include "engine/alert.h"
#include "ingest/decoder.h"
#include "ingest/event_source.h"
#include "ingest/kafka.h"
#include "model/account_state.h"
#include "rules/rules.h"
#include "state/account_cache.h"
#include "state/state_store.h"

namespace kamwatch::app {

struct PipelineOptions {
  model::Retention retention;
  TimeMs late_grace = 7 * kDayMs;
  ingest::DecodeLimits limits;
  std::size_t cache_accounts = 100000;
  std::size_t cache_bytes = static_cast<std::size_t>(-1);
  // Every alert transition is written to each of these outboxes (one per destination).
  std::vector<std::string> alert_sinks = {"alerts"};
};

struct BatchStats {
  std::size_t messages = 0;
  std::size_t rule_evaluations = 0;
  double rule_seconds = 0;                           // time spent evaluating rules
  std::vector<engine::AlertTransition> transitions;  // committed to the "alerts" outbox
  std::size_t applied = 0;
  std::size_t duplicates = 0;
  std::size_t dead_lettered = 0;  // includes late
  std::size_t late = 0;
  std::vector<ingest::TopicPartitionOffset> positions;  // next offset per partition, committed
  // For metrics: messages by (topic, event type; "unknown" when undecodable), rejections by
  // reason code.
  std::map<std::pair<std::string, std::string>, std::uint64_t> consumed;
  std::map<std::string, std::uint64_t> rejected;
};

// A message to dead-letter without decoding or applying it (poison quarantine, see
// app/poison_guard.h).
struct QuarantinedMessage {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  ingest::Reason reason = ingest::Reason::kPoison;
  std::string message;
};

// Error code of process() when applying or evaluating an event threw: nothing was committed.
inline constexpr std::string_view kProcessingError = "processing_error";
// Dead letters of oversize messages keep this much of the value (the original stays in the
// input topic at the origin offset the headers name).
inline constexpr std::size_t kDeadLetterOversizeKeep = 64 * 1024;

// The outbox sink names of dead letters and of the Kafka alerts topic.
inline constexpr std::string_view kDeadLetterSink = "dlq";
inline constexpr std::string_view kAlertSink = "alerts";

// Portfolio-wide attributes of an account (key account, CLV, ...), or defaults.
using AttributesLookup = std::function<const rules::AccountAttributes&(const std::string&)>;

class Pipeline {
 public:
  Pipeline(state::StateStore& store, const Clock& clock, PipelineOptions options);

  // Processes a batch and commits it atomically. On error nothing of the batch is stored, the
  // account cache is dropped, and the caller must rewind the source to the stored positions.
  // Messages named in `quarantine` are dead-lettered with the given reason, unprocessed. An
  // exception while applying or evaluating fails the batch with kProcessingError.
  [[nodiscard]] Result<BatchStats> process(const ingest::MessageBatch& batch,
                                           const std::vector<QuarantinedMessage>& quarantine = {});

  // Replaces the rule set (after a successful reload). Evaluations from now on use it; alert
  // states of rules that disappeared are resolved by the next sweep.
  void set_rules(std::shared_ptr<const rules::RuleSet> rules) { rules_ = std::move(rules); }
  [[nodiscard]] const std::shared_ptr<const rules::RuleSet>& rules() const { return rules_; }
  void set_attributes(AttributesLookup lookup) { attributes_ = std::move(lookup); }

  // Several instances: every commit first writes its changes to the state changelog (with the
  // input positions, in one Kafka transaction); the local store is written only when that
  // succeeded. Sweeps evaluate only accounts of partitions `owned` says this instance owns.
  void set_changelog(ingest::ChangelogWriter* changelog,
                     std::function<bool(std::int32_t partition)> owned) {
    changelog_ = changelog;
    owned_ = std::move(owned);
  }
  // Drops cached account states (after a restore replaced stored ones).
  void forget_cached() { cache_.clear(); }
  // The account cache, for its metrics (read on the pipeline thread).
  [[nodiscard]] const state::AccountCache& cache() const { return cache_; }

  // Timer evaluation: evaluates every rule (when there are rules) for up to max accounts after
  // the sweep cursor, commits their alert states and transitions, and summarises them. Accounts
  // the cache does not hold are read but not cached (AccountCache::peek_or_load). It stops
  // early, after the account that used up budget, so that a slice never holds up the events
  // waiting behind it for long. Returns stats; done is true when the sweep reached the last
  // account (the next call starts over).
  struct SweepStats {
    std::size_t accounts = 0;
    bool done = false;
    BatchStats batch;
    std::vector<AccountSummary> summaries;  // of the accounts swept, after evaluation
  };
  [[nodiscard]] Result<SweepStats> sweep(
      std::size_t max, std::chrono::microseconds budget = std::chrono::microseconds::max());

  // Stored positions for the given partitions (for rewinding after a failed commit).
  [[nodiscard]] std::vector<ingest::TopicPartitionOffset> stored_positions(
      const std::vector<ingest::TopicPartition>& partitions);

 private:
  void dead_letter(const ingest::RawMessage& m, ingest::Reason reason, std::string_view message,
                   std::vector<state::OutboxRecord>& out);
  // Evaluates rules for one account; appends transitions and their outbox records.
  void evaluate(model::AccountState& account, const std::vector<std::string_view>* types,
                TimeMs now, BatchStats& stats, std::vector<state::OutboxRecord>& outbox,
                std::vector<state::ActiveAlertUpdate>& active);
  [[nodiscard]] const rules::AccountAttributes& attributes_of(const std::string& id) const;
  // Writes the changelog records of a commit (no-op without a changelog).
  [[nodiscard]] Result<void> replicate(state::CommitBatch& commit,
                                       const std::vector<ingest::TopicPartitionOffset>& positions);

  state::StateStore& store_;
  const Clock& clock_;
  PipelineOptions options_;
  state::AccountCache cache_;
  ingest::Decoder decoder_;
  // Reused across batches to avoid reallocation.
  std::vector<model::Event> events_;
  std::vector<std::string> keys_;
  // Per changed account of the batch being built (by position): its event types, its encoded
  // deltas, its growth; the positions stored whole; alert states before evaluation; derived
  // targets.
  std::vector<std::vector<std::string_view>> changed_types_;
  std::vector<std::string> deltas_;
  std::vector<std::ptrdiff_t> grown_;  // what applying the batch's events added to its memory
  std::vector<std::size_t> full_;
  std::map<std::string, model::AlertState> alerts_before_;
  std::vector<model::DerivedTarget> targets_;
  std::vector<char> valid_;
  std::vector<std::uint32_t> key_order_;       // indices into keys_, by key
  std::vector<std::string_view> sorted_keys_;  // keys_ in key order
  std::vector<char> duplicate_;                // per key: in the store's legacy `seen` keys
  std::vector<std::uint64_t> id_hashes_;       // per message: model::event_id_hash of a valid event
  std::vector<state::AccountCache::Ref> changed_refs_;
  std::uint64_t batch_number_ = 0;  // of process() calls: in cache entries' tags
  std::shared_ptr<const rules::RuleSet> rules_;
  AttributesLookup attributes_;
  std::string sweep_cursor_;            // the last account id listed for the sweep
  std::vector<std::string> sweep_ids_;  // listed after the previous cursor, not all swept yet
  std::size_t sweep_next_ = 0;          // the next of sweep_ids_ to sweep
  bool sweep_listed_last_ = false;      // sweep_ids_ reach the last account
  ingest::ChangelogWriter* changelog_ = nullptr;
  std::function<bool(std::int32_t)> owned_;
  std::vector<ingest::ChangelogRecord> changelog_records_;  // of the commit being built
};

}  // namespace kamwatch::app

#pragma once
// The per-batch processing step: decode -> validate -> dedup (the account's recent ids) -> late
// check -> apply to state -> evaluate rules -> one atomic commit of state, input offsets and
// dead letters. With PipelineOptions::threads > 1 the batch's decoding is split between that
// many threads, and so are its accounts (by a hash of their id: each thread owns its share of
// the accounts and its own account cache) for applying and evaluating; the commit stays one.
// Each thread applies its events grouped by account (in message order within an account), so
// that an account's events in a batch follow one another with one cache lookup, while its
// state is in the CPU's cache.
// With Commit::kOverlap that commit is written on another thread while the caller goes on with
// the next batch (the daemon does so while catching up); commits stay in batch order.
// Thread-safety: one pipeline thread calls process(), finish() and sweep(); the shards' threads
// run only inside those calls, and an overlapped commit's thread until the next of them.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/account_view.h"
#include "core/clock.h"
#include "core/fork_join.h"
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
  std::size_t cache_accounts = 100000;  // in all (each shard keeps its share)
  std::size_t cache_bytes = static_cast<std::size_t>(-1);
  // Threads that decode, apply and evaluate a batch (ingest.threads); 1 = all on the caller's.
  std::size_t threads = 1;
  // Every alert transition is written to each of these outboxes (one per destination).
  std::vector<std::string> alert_sinks = {"alerts"};
};

struct BatchStats {
  std::size_t messages = 0;
  // When process() began on the batch (the first of several merged ones), and the produce
  // times of its messages that carry one: the daemon's batch duration and event delay metrics,
  // observed once the batch is committed.
  std::chrono::steady_clock::time_point started{};
  std::vector<TimeMs> produced;
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

// Adds one batch's stats to total (a later batch: its positions are further on).
void merge_stats(BatchStats& total, BatchStats&& one);

// When process() returns: once the batch is committed (kWait), or once it is applied and its
// commit has started on another thread (kOverlap), so that the next batch is decoded, applied
// and evaluated while it is written.
enum class Commit : std::uint8_t { kWait, kOverlap };

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
  //
  // Returns the stats of the batches committed during the call, merged in order: with kWait
  // this one (after an earlier one whose commit was still running); with kOverlap the earlier
  // one only, or empty stats (messages 0) when there was none. A batch whose commit started
  // with kOverlap is committed by the next call of process(), finish() or sweep() (one commit
  // runs at a time); if that commit fails, that call fails and nothing of a later batch is
  // stored either. Stats of a commit that completed during a call that then failed come with
  // the next successful call. Overlapping needs no changelog (with one, kOverlap waits).
  [[nodiscard]] Result<BatchStats> process(const ingest::MessageBatch& batch,
                                           const std::vector<QuarantinedMessage>& quarantine = {},
                                           Commit commit = Commit::kWait);
  // Waits for a commit that process(..., kOverlap) started; returns the stats of the batches
  // committed since the last call that returned some (empty stats when none).
  [[nodiscard]] Result<BatchStats> finish();
  // A commit started by process(..., kOverlap) has not been waited for yet.
  [[nodiscard]] bool committing() const { return in_flight_.valid(); }

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
  // Drops cached account states (after a restore replaced stored ones), once a running commit
  // completed.
  void forget_cached();
  // The account caches' figures, summed over the shards (for metrics; on the pipeline thread).
  struct CacheFigures {
    std::size_t accounts = 0;
    std::size_t bytes = 0;  // as of the last trim
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
  };
  [[nodiscard]] CacheFigures cache_figures() const;

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

  // Stored positions for the given partitions (for rewinding after a failed commit), once a
  // running commit completed.
  [[nodiscard]] std::vector<ingest::TopicPartitionOffset> stored_positions(
      const std::vector<ingest::TopicPartition>& partitions);

 private:
  // One thread's share of a batch: the accounts whose id hashes to it (shard_of), with their
  // cache, and a share of the messages to decode. Its outputs are merged once every shard has
  // finished.
  struct Shard {
    Shard(state::StateStore& store, const PipelineOptions& options);
    state::AccountCache cache;
    ingest::Decoder decoder;
    // Decoding (of a contiguous share of the messages): rejections as dead letters, in message
    // order, and the consumed counts by (topic, type).
    std::vector<state::OutboxRecord> rejected_letters;
    std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> consumed;
    // Applying and evaluating (this shard's accounts). Per changed account (by position in
    // changed; the cache entry's tag holds the batch number and that position): its cache
    // entry, event types, encoded deltas, growth; the positions stored whole.
    std::vector<model::AccountState*> changed;
    std::vector<state::AccountCache::Ref> changed_refs;
    std::vector<std::vector<std::string_view>> changed_types;
    // The shard's valid messages by (hash of the account id, message index): applied grouped
    // by account. With each, its partition (read here instead of from the message).
    struct Grouped {
      std::uint64_t hash;
      std::uint32_t message;
      std::int32_t partition;
    };
    std::vector<Grouped> order;
    // Encoded deltas by position, and the encoded states of the accounts stored whole (by
    // position in full): two sets, a batch's commit may still read the other batch's.
    std::vector<std::string> deltas_sets[2];
    std::vector<std::string> encoded_sets[2];
    std::size_t set = 0;  // of this batch
    std::vector<std::string>& deltas() { return deltas_sets[set]; }
    std::vector<std::string>& encoded() { return encoded_sets[set]; }
    std::vector<std::ptrdiff_t> grown;  // what applying the batch's events added to its memory
    std::vector<std::size_t> full;
    std::map<std::string, model::AlertState> alerts_before;
    std::vector<model::DerivedTarget> targets;
    // Late events' dead letters with their message index (merged in message order).
    std::vector<std::pair<std::size_t, state::OutboxRecord>> late_letters;
    BatchStats stats;                         // applied, duplicates, late, transitions, rules
    std::vector<state::OutboxRecord> outbox;  // alert records
    std::vector<state::ActiveAlertUpdate> active;
    std::vector<ingest::ChangelogRecord> changelog;  // alert records, for replicate()
    std::optional<Error> error;
    void reset_outputs();
  };

  // The hash that picks an account's shard (and groups a shard's events by account).
  [[nodiscard]] static std::uint64_t account_hash(std::string_view account);
  [[nodiscard]] std::size_t shard_of_hash(std::uint64_t hash) const;
  [[nodiscard]] std::size_t shard_number(std::string_view account) const;
  [[nodiscard]] Shard& shard_of(std::string_view account) {
    return *shards_[shard_number(account)];
  }
  // Decodes messages [begin, end) into events_ with shard's decoder, into its outputs.
  void decode_share(Shard& shard, const ingest::MessageBatch& batch,
                    const std::vector<QuarantinedMessage>& quarantine, std::size_t begin,
                    std::size_t end, TimeMs received);
  // Applies the valid events of shard's accounts (shard_of_hash == index), grouped by account
  // and in message order within each, then evaluates the rules for the accounts they changed. Sets
  // shard.error (and stops) on failure. received: the batch's arrival, the time of its dead
  // letters.
  void apply_share(Shard& shard, std::size_t index, const ingest::MessageBatch& batch,
                   std::uint64_t batch_mark, bool legacy_seen, bool use_deltas, TimeMs received);
  [[nodiscard]] state::OutboxRecord dead_letter(const ingest::RawMessage& m, ingest::Reason reason,
                                                std::string_view message, TimeMs now) const;
  // Evaluates rules for one account; appends transitions and their outbox and changelog
  // records.
  void evaluate(model::AccountState& account, const std::vector<std::string_view>* types,
                TimeMs now, BatchStats& stats, std::vector<state::OutboxRecord>& outbox,
                std::vector<state::ActiveAlertUpdate>& active,
                std::vector<ingest::ChangelogRecord>& changelog);
  [[nodiscard]] const rules::AccountAttributes& attributes_of(const std::string& id) const;
  // Writes the changelog records of a commit (no-op without a changelog).
  [[nodiscard]] Result<void> replicate(state::CommitBatch& commit,
                                       const std::vector<ingest::TopicPartitionOffset>& positions);
  void clear_caches();
  // Waits for the commit in flight (if any); its stats go to done_. On failure the caches are
  // dropped, and the error is returned and kept in failed_.
  [[nodiscard]] Result<void> wait_in_flight();
  // wait_in_flight(), then the failure in failed_ (taken), if any.
  [[nodiscard]] Result<void> settle();
  // The stats in done_, taken.
  [[nodiscard]] BatchStats take_done();

  state::StateStore& store_;
  const Clock& clock_;
  PipelineOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  core::ForkJoin fork_join_;
  // Reused across batches to avoid reallocation.
  std::vector<model::Event> events_;
  std::vector<std::string> keys_;
  std::vector<char> valid_;                    // per message: events_[i] decoded fine
  std::vector<std::uint32_t> key_order_;       // indices into keys_, by key
  std::vector<std::string_view> sorted_keys_;  // keys_ in key order
  std::vector<char> duplicate_;                // per message: in the store's legacy `seen` keys
  std::vector<std::uint64_t> id_hashes_;       // per message: model::event_id_hash of a valid event
  // Per valid message: account_hash of its account (its shard: shard_of_hash).
  std::vector<std::uint64_t> subject_hashes_;
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
  // The overlapped commit (Commit::kOverlap): its batch (it views the shards' delta and encoded
  // sets, and account ids in cache entries pinned until it completes), the batch's stats and
  // its result. done_: stats of the commits completed and not returned yet.
  state::CommitBatch in_flight_batch_;
  BatchStats in_flight_stats_;
  std::future<Result<void>> in_flight_;
  std::optional<BatchStats> done_;
  // A failed overlapped commit that was waited for outside process() and finish() (sweep,
  // stored_positions, forget_cached): the next process() or finish() returns it, so that the
  // caller rewinds.
  std::optional<Error> failed_;
};

}  // namespace kamwatch::app

#include "app/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <stdexcept>

#include "app/changelog.h"
#include "config/config.h"
#include "core/log.h"
#include "engine/evaluator.h"
#include "state/codec.h"

namespace kamwatch::app {
namespace {

// Test hooks for the fault suite (tests/fault, docs/faults.md), read once: applying the event
// with this id aborts the process (KAMWATCH_FAULT_CRASH_ON_EVENT_ID) or throws
// (KAMWATCH_FAULT_THROW_ON_EVENT_ID). Unset in production: one empty-string check per event.
std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void fault_hooks(const model::Event& e) {
  static const std::string crash = env_or_empty("KAMWATCH_FAULT_CRASH_ON_EVENT_ID");
  static const std::string thrown = env_or_empty("KAMWATCH_FAULT_THROW_ON_EVENT_ID");
  if (!crash.empty() && e.id == crash) {
    log::error("fault hook: aborting on event", {{"id", e.id}});
    std::abort();
  }
  if (!thrown.empty() && e.id == thrown)
    throw std::runtime_error("fault hook: exception on event " + e.id);
}

std::string position(const ingest::RawMessage& m) {
  return std::string(m.topic) + "/" + std::to_string(m.partition) + "@" + std::to_string(m.offset);
}

// Batches smaller than this run their shards one after the other on the calling thread, where
// waking a worker is likely to cost more than it saves (a guess, not measured; at 20,000
// events/s batches hold ~100 - 500 events, and there the latency bench saw no change).
constexpr std::size_t kParallelMessages = 256;

// How many events ahead apply_share fetches the decoded events it applies out of message order.
constexpr std::size_t kPrefetchEvents = 8;

// The configuration refuses more than kMaxIngestThreads; a pipeline built directly is held to it
// too.
std::size_t thread_count(const PipelineOptions& o) {
  return std::clamp<std::size_t>(o.threads, 1, config::kMaxIngestThreads);
}

}  // namespace

void merge_stats(BatchStats& total, BatchStats&& one) {
  if (total.started == std::chrono::steady_clock::time_point{} ||
      (one.started != std::chrono::steady_clock::time_point{} && one.started < total.started))
    total.started = one.started;
  total.produced.insert(total.produced.end(), one.produced.begin(), one.produced.end());
  total.messages += one.messages;
  total.rule_evaluations += one.rule_evaluations;
  total.rule_seconds += one.rule_seconds;
  for (auto& t : one.transitions) total.transitions.push_back(std::move(t));
  total.applied += one.applied;
  total.duplicates += one.duplicates;
  total.dead_lettered += one.dead_lettered;
  total.late += one.late;
  for (auto& p : one.positions) {
    auto it = std::find_if(total.positions.begin(), total.positions.end(), [&](const auto& q) {
      return q.partition == p.partition && q.topic == p.topic;
    });
    if (it == total.positions.end())
      total.positions.push_back(std::move(p));
    else
      it->offset = std::max(it->offset, p.offset);
  }
  for (const auto& [k, n] : one.consumed) total.consumed[k] += n;
  for (const auto& [k, n] : one.rejected) total.rejected[k] += n;
}

Pipeline::Shard::Shard(state::StateStore& store, const PipelineOptions& o)
    : cache(store, std::max<std::size_t>(1, o.cache_accounts / thread_count(o)),
            o.cache_bytes == static_cast<std::size_t>(-1) ? o.cache_bytes
                                                          : o.cache_bytes / thread_count(o)),
      decoder(o.limits) {}

void Pipeline::Shard::reset_outputs() {
  rejected_letters.clear();
  consumed.clear();
  changed.clear();
  changed_refs.clear();
  full.clear();
  late_letters.clear();
  stats = BatchStats{};
  outbox.clear();
  active.clear();
  changelog.clear();
  error.reset();
}

Pipeline::Pipeline(state::StateStore& store, const Clock& clock, PipelineOptions options)
    : store_(store), clock_(clock), options_(options), fork_join_(thread_count(options)) {
  // Applied ids are needed for exactly as long as a copy of their event is not late.
  options_.retention.ids = options_.late_grace;
  for (std::size_t k = 0; k < fork_join_.parts(); ++k)
    shards_.push_back(std::make_unique<Shard>(store, options_));
}

std::uint64_t Pipeline::account_hash(std::string_view account) {
  return std::hash<std::string_view>{}(account);
}

std::size_t Pipeline::shard_of_hash(std::uint64_t hash) const { return hash % shards_.size(); }

std::size_t Pipeline::shard_number(std::string_view account) const {
  return shard_of_hash(account_hash(account));
}

void Pipeline::forget_cached() {
  (void)wait_in_flight();  // a failure is kept for the next process() or finish()
  clear_caches();
}

Result<void> Pipeline::wait_in_flight() {
  if (!in_flight_.valid()) return ok();
  Result<void> r = in_flight_.get();
  in_flight_batch_ = state::CommitBatch{};
  BatchStats stats = std::move(in_flight_stats_);
  in_flight_stats_ = BatchStats{};
  if (!r.ok()) {
    clear_caches();  // cached states hold changes that were not stored
    failed_ = r.error();
    return r.error();
  }
  if (done_)
    merge_stats(*done_, std::move(stats));
  else
    done_ = std::move(stats);
  return ok();
}

Result<void> Pipeline::settle() {
  (void)wait_in_flight();
  if (failed_) {
    Error e = std::move(*failed_);
    failed_.reset();
    return e;
  }
  return ok();
}

BatchStats Pipeline::take_done() {
  BatchStats out = done_ ? std::move(*done_) : BatchStats{};
  done_.reset();
  return out;
}

Result<BatchStats> Pipeline::finish() {
  if (auto r = settle(); !r.ok()) return r.error();
  return take_done();
}

void Pipeline::clear_caches() {
  for (auto& shard : shards_) shard->cache.clear();
}

Pipeline::CacheFigures Pipeline::cache_figures() const {
  CacheFigures f;
  for (const auto& shard : shards_) {
    f.accounts += shard->cache.size();
    f.bytes += shard->cache.bytes();
    f.hits += shard->cache.hits();
    f.misses += shard->cache.misses();
  }
  return f;
}

state::OutboxRecord Pipeline::dead_letter(const ingest::RawMessage& m, ingest::Reason reason,
                                          std::string_view message, TimeMs now) const {
  state::OutboxRecord r;
  r.sink = std::string(kDeadLetterSink);
  r.key = std::string(m.key);
  // An oversize message would be refused by the dead-letter topic too: keep its head.
  const bool cut = reason == ingest::Reason::kOversize && m.value.size() > kDeadLetterOversizeKeep;
  r.value = std::string(cut ? m.value.substr(0, kDeadLetterOversizeKeep) : m.value);
  for (const ingest::Header& h : m.headers) r.headers.emplace_back(h.key, h.value);
  if (cut) {
    r.headers.emplace_back("kamwatch.error.truncated_from", std::to_string(m.value.size()));
  }
  r.headers.emplace_back("kamwatch.error.reason", std::string(ingest::reason_code(reason)));
  r.headers.emplace_back("kamwatch.error.message", std::string(message));
  r.headers.emplace_back("kamwatch.origin.topic", std::string(m.topic));
  r.headers.emplace_back("kamwatch.origin.partition", std::to_string(m.partition));
  r.headers.emplace_back("kamwatch.origin.offset", std::to_string(m.offset));
  r.headers.emplace_back("kamwatch.error.time", format_rfc3339(now));
  log::debug("event dead-lettered", {{"topic", m.topic},
                                     {"partition", m.partition},
                                     {"offset", m.offset},
                                     {"reason", ingest::reason_code(reason)},
                                     {"error", message}});
  return r;
}

const rules::AccountAttributes& Pipeline::attributes_of(const std::string& id) const {
  static const rules::AccountAttributes kNone;
  return attributes_ ? attributes_(id) : kNone;
}

void Pipeline::evaluate(model::AccountState& account, const std::vector<std::string_view>* types,
                        TimeMs now, BatchStats& stats, std::vector<state::OutboxRecord>& outbox,
                        std::vector<state::ActiveAlertUpdate>& active,
                        std::vector<ingest::ChangelogRecord>& changelog) {
  const std::size_t before = stats.transitions.size();
  stats.rule_evaluations +=
      engine::evaluate_account(*rules_, account, attributes_of(account.id), now, options_.retention,
                               types, stats.transitions);
  for (std::size_t i = before; i < stats.transitions.size(); ++i) {
    const engine::AlertTransition& t = stats.transitions[i];
    std::string json = engine::transition_json(t);
    const bool firing = t.status == engine::AlertTransition::Status::kFiring;
    active.push_back({t.fingerprint, firing ? json : std::string()});
    if (changelog_) changelog.push_back(alert_record(account.partition, active.back()));
    for (const std::string& sink : options_.alert_sinks) {
      state::OutboxRecord r;
      r.sink = sink;
      r.key = t.account;
      r.value = json;
      r.headers.emplace_back("kamwatch.alert.status", std::string(t.status_text()));
      r.headers.emplace_back("kamwatch.alert.fingerprint", t.fingerprint);
      outbox.push_back(std::move(r));
    }
    auto summary = t.annotations.find("summary");
    log::info(
        t.status == engine::AlertTransition::Status::kFiring ? "alert firing" : "alert resolved",
        {{"alert", t.alert},
         {"account", t.account},
         {"group", t.group},
         {"severity", t.labels.count("severity") ? t.labels.at("severity") : ""},
         {"summary", summary == t.annotations.end() ? "" : summary->second}});
  }
}

Result<void> Pipeline::replicate(state::CommitBatch& commit,
                                 const std::vector<ingest::TopicPartitionOffset>& positions) {
  if (!changelog_) return ok();
  for (const model::AccountState* a : commit.accounts)
    changelog_records_.push_back(account_record(*a));
  for (const ingest::TopicPartitionOffset& p : positions)
    changelog_records_.push_back(position_record(p));
  auto ends = changelog_->commit(changelog_records_, positions);
  changelog_records_.clear();
  if (!ends.ok()) return ends.error();
  for (const auto& [partition, next] : *ends) commit.changelog.push_back({partition, next});
  return ok();
}

Result<Pipeline::SweepStats> Pipeline::sweep(std::size_t max, std::chrono::microseconds budget) {
  // A sweep reads stored states and commits: after the commit in flight (whose stats wait in
  // done_ for the next process() or finish(), and whose failure for the one after).
  if (auto r = wait_in_flight(); !r.ok()) return r.error();
  SweepStats out;
  changelog_records_.clear();
  const auto started = std::chrono::steady_clock::now();
  // The ids are listed max at a time and swept over as many slices as that takes (listing
  // reads the states' blocks too: listing per slice cost more than the slice's evaluations).
  if (sweep_next_ >= sweep_ids_.size()) {
    auto ids = store_.account_ids_after(sweep_cursor_, max);
    if (!ids.ok()) return ids.error();
    sweep_ids_ = std::move(*ids);
    sweep_next_ = 0;
    sweep_listed_last_ = sweep_ids_.size() < max;
    if (!sweep_ids_.empty()) sweep_cursor_ = sweep_ids_.back();
  }
  const std::size_t first = sweep_next_;  // a failed slice is swept again
  std::size_t swept = 0;
  const TimeMs now = clock_.now();
  std::vector<state::OutboxRecord> outbox;
  std::vector<state::ActiveAlertUpdate> active;
  std::vector<const model::AccountState*> changed;
  // Accounts the cache does not hold are read into these and not cached: a sweep visits every
  // account, and caching them would evict the ones events keep hot. The changed ones stay here
  // until the commit.
  std::deque<model::AccountState> uncached;
  while (sweep_next_ < sweep_ids_.size()) {
    // Out of budget: the rest of the listed ids wait for the next slice.
    // (In microseconds: the default budget, microseconds::max(), overflows in nanoseconds.)
    if (swept > 0 && std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started) >= budget)
      break;
    const std::string& id = sweep_ids_[sweep_next_++];
    ++swept;
    model::AccountState& scratch = uncached.emplace_back();
    auto account = shard_of(id).cache.peek_or_load(id, scratch);
    if (!account.ok()) {
      clear_caches();
      sweep_next_ = first;
      return account.error();
    }
    bool keep = false;
    if (!owned_ || owned_((*account)->partition)) {  // else another instance's account
      if (rules_) {
        const auto alerts_before = (*account)->alerts;
        evaluate(**account, nullptr, now, out.batch, outbox, active, changelog_records_);
        if ((*account)->alerts != alerts_before) {
          changed.push_back(*account);
          keep = true;
        }
      }
      const rules::AccountAttributes& attrs = attributes_of(id);
      out.summaries.push_back(
          summarize(**account, rules_.get(), attrs, now, options_.retention, nullptr));
    }
    if (*account != &scratch || !keep) uncached.pop_back();
  }
  out.accounts = swept;
  out.done = sweep_next_ >= sweep_ids_.size() && sweep_listed_last_;
  if (!changed.empty() || !outbox.empty()) {
    state::CommitBatch commit;
    commit.accounts = std::move(changed);
    commit.outbox = std::move(outbox);
    commit.active_alerts = std::move(active);
    if (auto r = replicate(commit, {}); !r.ok()) {
      clear_caches();
      sweep_next_ = first;
      return r.error();
    }
    if (auto r = store_.commit(commit); !r.ok()) {
      clear_caches();
      sweep_next_ = first;
      return r.error();
    }
  }
  for (auto& shard : shards_) shard->cache.trim();
  if (out.done) {
    sweep_cursor_.clear();
    sweep_ids_.clear();
    sweep_next_ = 0;
  }
  return out;
}

void Pipeline::decode_share(Shard& shard, const ingest::MessageBatch& batch,
                            const std::vector<QuarantinedMessage>& quarantine, std::size_t begin,
                            std::size_t end, TimeMs received) {
  for (std::size_t i = begin; i < end; ++i) {
    const ingest::RawMessage& m = batch.messages[i];
    const auto q = std::find_if(quarantine.begin(), quarantine.end(), [&](const auto& x) {
      return x.offset == m.offset && x.partition == m.partition && x.topic == m.topic;
    });
    if (q != quarantine.end()) {
      shard.rejected_letters.push_back(dead_letter(m, q->reason, q->message, received));
      ++shard.stats.dead_lettered;
      ++shard.stats.rejected[std::string(ingest::reason_code(q->reason))];
      ++shard.consumed[{m.topic, "unknown"}];
      log::warn("event quarantined", {{"topic", m.topic},
                                      {"partition", m.partition},
                                      {"offset", m.offset},
                                      {"reason", ingest::reason_code(q->reason)},
                                      {"error", q->message}});
      continue;
    }
    if (auto rej = shard.decoder.decode(m, events_[i])) {
      shard.rejected_letters.push_back(dead_letter(m, rej->reason, rej->message, received));
      ++shard.stats.dead_lettered;
      ++shard.stats.rejected[std::string(ingest::reason_code(rej->reason))];
      ++shard.consumed[{m.topic, "unknown"}];
      continue;
    }
    ++shard.consumed[{m.topic, events_[i].type}];
    valid_[i] = 1;
    id_hashes_[i] = model::event_id_hash(events_[i].source, events_[i].id);
    subject_hashes_[i] = account_hash(events_[i].subject);
  }
}

void Pipeline::apply_share(Shard& shard, std::size_t index, const ingest::MessageBatch& batch,
                           std::uint64_t batch_mark, bool legacy_seen, bool use_deltas,
                           TimeMs received) {
  const auto tag_of = [&](std::size_t position) { return (batch_mark << 32) | position; };
  BatchStats& stats = shard.stats;
  // The shard's events grouped by account, in message order within each account (the hash of
  // the account id, then the message index): an account's events are applied one after the
  // other, with one cache lookup, while its state is in the CPU's cache. Accounts are
  // independent, so only the order within an account matters. (Two accounts whose ids share a
  // hash interleave: still in message order each, just with more lookups.)
  auto& order = shard.order;
  order.clear();
  for (std::size_t i = 0; i < batch.messages.size(); ++i)
    if (valid_[i] && shard_of_hash(subject_hashes_[i]) == index)
      order.push_back(
          {subject_hashes_[i], static_cast<std::uint32_t>(i), batch.messages[i].partition});
  std::sort(order.begin(), order.end(), [](const Shard::Grouped& a, const Shard::Grouped& b) {
    return a.hash < b.hash || (a.hash == b.hash && a.message < b.message);
  });
  std::string_view current;  // the account of ref
  state::AccountCache::Ref ref;
  for (std::size_t k = 0; k < order.size(); ++k) {
    // Grouped, the events are read out of message order: fetch the next ones' decoded events
    // (three cache lines each) and their fields ahead, while this one is applied.
    if (k + kPrefetchEvents < order.size()) {
      const char* ahead =
          reinterpret_cast<const char*>(&events_[order[k + kPrefetchEvents].message]);
      for (int line = 0; line < 3; ++line) __builtin_prefetch(ahead + 64 * line);
    }
    if (k + kPrefetchEvents / 2 < order.size())
      __builtin_prefetch(events_[order[k + kPrefetchEvents / 2].message].data.data());
    const std::size_t i = order[k].message;
    if (legacy_seen && duplicate_[i]) {
      ++stats.duplicates;
      continue;
    }
    const model::Event& e = events_[i];
    if (e.subject != current || ref == state::AccountCache::Ref{}) {
      auto account = shard.cache.get(e.subject);  // never evicts: earlier refs stay valid
      if (!account.ok()) {
        shard.error = account.error();
        return;
      }
      ref = *account;
      current = e.subject;
    }
    model::AccountState& s = *ref;
    // A re-delivered event: its id is among the account's recent ids (model::RecentIds) as long
    // as it is not late; a later copy is dead-lettered as late below.
    if (s.recent_ids.contains(id_hashes_[i])) {
      ++stats.duplicates;
      continue;
    }
    if (s.applied > 0 && e.time < s.max_time - options_.late_grace) {
      shard.late_letters.emplace_back(
          i, dead_letter(batch.messages[i], ingest::Reason::kLate,
                         "event time " + format_rfc3339(e.time) + " is more than " +
                             format_duration(options_.late_grace) +
                             " before the account's latest event " + format_rfc3339(s.max_time),
                         received));
      ++stats.dead_lettered;
      ++stats.late;
      continue;
    }
    if (ref.tag() >> 32 != batch_mark) {  // the account's first change in this batch
      const std::size_t c = shard.changed.size();
      ref.tag() = tag_of(c);
      shard.changed.push_back(&s);
      shard.changed_refs.push_back(ref);
      if (shard.changed_types.size() <= c) shard.changed_types.resize(c + 1);
      if (shard.deltas().size() <= c) shard.deltas().resize(c + 1);
      if (shard.grown.size() <= c) shard.grown.resize(c + 1);
      shard.changed_types[c].clear();
      shard.deltas()[c].clear();
      shard.grown[c] = 0;
    }
    const std::size_t slot = ref.tag() & 0xffffffffu;
    try {
      fault_hooks(e);
      model::derived_targets(rules_ ? &rules_->series_specs() : nullptr, e, shard.targets);
      shard.grown[slot] += model::apply(s, e, options_.retention, shard.targets, id_hashes_[i]);
      s.partition = order[k].partition;
      if (use_deltas)
        state::encode_account_delta_to(e, id_hashes_[i], s.partition, options_.retention,
                                       shard.targets, shard.deltas()[slot]);
    } catch (const std::exception& ex) {
      shard.error =
          Error{std::string(kProcessingError), "applying event '" + std::string(e.id) + "' at " +
                                                   position(batch.messages[i]) + ": " + ex.what()};
      return;
    }
    auto& types = shard.changed_types[slot];
    if (std::find(types.begin(), types.end(), e.type) == types.end()) types.push_back(e.type);
    ++stats.applied;
  }

  // Rules: each changed account, only the rules reading the types that changed. Judged as of
  // now (when its alerts fire), not as of when the batch arrived.
  if (!rules_) return;
  const TimeMs now = clock_.now();
  const auto t0 = std::chrono::steady_clock::now();
  struct Timer {
    std::chrono::steady_clock::time_point t0;
    double& out;
    ~Timer() { out = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
  } timer{t0, stats.rule_seconds};
  for (std::size_t c = 0; c < shard.changed.size(); ++c) {
    model::AccountState* s = shard.changed[c];
    // An account whose newest event is older than the late grace is being caught up from
    // history: judging stale state against the wall clock would raise false alarms. The
    // timer sweep evaluates it once the consumer has caught up.
    if (s->max_time < now - options_.late_grace) continue;
    try {
      const std::size_t alerts_before = s->alerts.size();
      const std::size_t transitions_before = stats.transitions.size();
      if (use_deltas) shard.alerts_before = s->alerts;
      evaluate(*s, &shard.changed_types[c], now, stats, shard.outbox, shard.active,
               shard.changelog);
      // Alert entries and their labels change with transitions and new pending alerts only:
      // then the cache measures the state again.
      const bool alerts_grew =
          s->alerts.size() != alerts_before || stats.transitions.size() != transitions_before;
      if (alerts_grew) shard.cache.changed(shard.changed_refs[c]);
      // Alert states are not events: an account whose alerts changed is stored whole.
      if (use_deltas && (alerts_grew || s->alerts != shard.alerts_before)) shard.full.push_back(c);
    } catch (const std::exception& ex) {
      shard.error =
          Error{std::string(kProcessingError), "evaluating account '" + s->id + "': " + ex.what()};
      return;
    }
  }
  // The accounts stored whole, encoded here (in parallel, and before the next batch may change
  // them while this one's commit runs).
  std::vector<std::string>& encoded = shard.encoded();
  if (encoded.size() < shard.full.size()) encoded.resize(shard.full.size());
  for (std::size_t f = 0; f < shard.full.size(); ++f) {
    encoded[f].clear();
    state::encode_account_to(*shard.changed[shard.full[f]], encoded[f]);
  }
}

Result<BatchStats> Pipeline::process(const ingest::MessageBatch& batch,
                                     const std::vector<QuarantinedMessage>& quarantine,
                                     Commit commit_mode) {
  if (failed_) return settle().error();  // an earlier commit failed: rewind first
  BatchStats stats;
  stats.started = std::chrono::steady_clock::now();
  stats.messages = batch.messages.size();
  if (batch.messages.empty()) {
    if (commit_mode == Commit::kWait)
      if (auto r = settle(); !r.ok()) return r.error();
    return take_done();
  }

  const std::size_t n = batch.messages.size();
  const TimeMs received = clock_.now();  // the dead letters' time
  if (events_.size() < n) events_.resize(n);
  id_hashes_.resize(n);
  subject_hashes_.resize(n);
  valid_.assign(n, 0);
  changelog_records_.clear();
  for (auto& shard : shards_) shard->reset_outputs();
  const std::size_t parts = shards_.size();
  const bool parallel = n >= kParallelMessages;

  // 1. Decode and validate: each thread a contiguous share of the messages.
  fork_join_.run(
      [&](std::size_t k) {
        decode_share(*shards_[k], batch, quarantine, n * k / parts, n * (k + 1) / parts, received);
      },
      parallel);

  // 2. Only a store that still holds `seen` keys (written before applied ids were kept in the
  // account states) needs them looked up: the batch's keys in key order (RocksDB's MultiGet
  // reads keys given in order without sorting them again). Duplicates within the batch need
  // nothing here: the first occurrence's id is in the account's recent ids by the time the
  // next one is applied.
  const bool legacy_seen = store_.holds_seen_ids();
  duplicate_.assign(n, 0);
  if (legacy_seen) {
    std::size_t key_count = 0;  // keys_ keeps its strings (and their buffers) across batches
    for (std::size_t i = 0; i < n; ++i) {
      if (!valid_[i]) continue;
      if (key_count == keys_.size()) keys_.emplace_back();
      state::dedup_key_to(keys_[key_count++], events_[i].source, events_[i].id);
    }
    keys_.resize(key_count);
    key_order_.resize(key_count);
    for (std::size_t j = 0; j < key_count; ++j) key_order_[j] = static_cast<std::uint32_t>(j);
    std::sort(key_order_.begin(), key_order_.end(), [&](std::uint32_t a, std::uint32_t b) {
      const int c = keys_[a].compare(keys_[b]);
      return c < 0 || (c == 0 && a < b);
    });
    sorted_keys_.clear();
    for (const std::uint32_t j : key_order_) sorted_keys_.push_back(keys_[j]);
    if (key_count > 0) {
      auto seen = store_.seen(sorted_keys_);
      if (!seen.ok()) return seen.error();
      std::vector<char> key_seen(key_count, 0);
      for (std::size_t j = 0; j < key_count; ++j) key_seen[key_order_[j]] = (*seen)[j];
      for (std::size_t i = 0, j = 0; i < n; ++i)
        if (valid_[i]) duplicate_[i] = key_seen[j++];
    }
  }

  // 3. Apply (grouped by account, message order within each) and evaluate the rules: each thread
  // its share of the accounts.
  // 32 bits of batch number, never 0 (a newly read entry's tag is 0), and 32 of position.
  if ((++batch_number_ & 0xffffffffu) == 0) ++batch_number_;
  const std::uint64_t batch_mark = batch_number_ & 0xffffffffu;
  // Each batch the other set of delta and encoded buffers: a commit in flight reads its own.
  for (auto& shard : shards_) shard->set ^= 1;
  // Without a changelog, accounts changed only by events are committed as deltas (the events
  // themselves, merged by the store) instead of their whole state, which is far larger.
  const bool use_deltas = changelog_ == nullptr;
  fork_join_.run(
      [&](std::size_t k) {
        apply_share(*shards_[k], k, batch, batch_mark, legacy_seen, use_deltas, received);
      },
      parallel);
  for (auto& shard : shards_) {
    if (shard->error) {
      // The earlier batch's commit is not affected (its stats wait in done_), unless it failed.
      const Result<void> earlier = settle();
      clear_caches();  // accounts may be half changed
      if (!earlier.ok()) return earlier.error();
      return *shard->error;
    }
  }

  // 4. The shards' outputs, merged: dead letters in message order (rejected before late), then
  // the alert records; next offsets per partition.
  std::vector<state::OutboxRecord> outbox;
  std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> consumed;
  std::vector<std::pair<std::size_t, state::OutboxRecord>> late;
  for (auto& shard : shards_) {
    for (state::OutboxRecord& r : shard->rejected_letters) outbox.push_back(std::move(r));
    for (const auto& [k, count] : shard->consumed) consumed[k] += count;
    for (auto& l : shard->late_letters) late.push_back(std::move(l));
    const BatchStats& s = shard->stats;
    stats.applied += s.applied;
    stats.duplicates += s.duplicates;
    stats.dead_lettered += s.dead_lettered;
    stats.late += s.late;
    stats.rule_evaluations += s.rule_evaluations;
    stats.rule_seconds += s.rule_seconds;
    for (const auto& [reason, count] : s.rejected) stats.rejected[reason] += count;
  }
  for (const auto& [k, count] : consumed)
    stats.consumed[{std::string(k.first), std::string(k.second)}] += count;
  std::sort(late.begin(), late.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [i, r] : late) outbox.push_back(std::move(r));
  std::vector<state::ActiveAlertUpdate> active;
  for (auto& shard : shards_) {
    for (state::OutboxRecord& r : shard->outbox) outbox.push_back(std::move(r));
    for (state::ActiveAlertUpdate& a : shard->active) active.push_back(std::move(a));
    for (engine::AlertTransition& t : shard->stats.transitions)
      stats.transitions.push_back(std::move(t));
    for (ingest::ChangelogRecord& r : shard->changelog) changelog_records_.push_back(std::move(r));
  }
  std::map<std::pair<std::string_view, std::int32_t>, std::int64_t> next;
  for (const ingest::RawMessage& m : batch.messages) {
    auto& o = next[{m.topic, m.partition}];
    o = std::max(o, m.offset + 1);
  }
  stats.produced.reserve(n);
  for (const ingest::RawMessage& m : batch.messages)
    if (m.timestamp > 0) stats.produced.push_back(m.timestamp);
  state::CommitBatch commit;
  for (auto& shard : shards_) {
    if (!use_deltas) {
      commit.accounts.insert(commit.accounts.end(), shard->changed.begin(), shard->changed.end());
      continue;
    }
    // full is in position order (evaluation appends in that order).
    for (std::size_t c = 0, f = 0; c < shard->changed.size(); ++c) {
      if (f < shard->full.size() && shard->full[f] == c) {
        commit.encoded_accounts.push_back({shard->changed[c]->id, shard->encoded()[f]});
        ++f;
      } else {
        commit.account_deltas.push_back({shard->changed[c]->id, shard->deltas()[c]});
      }
    }
  }
  commit.outbox = std::move(outbox);
  commit.active_alerts = std::move(active);
  for (const auto& [tp, offset] : next) {
    commit.offsets.push_back({std::string(tp.first), tp.second, offset});
    stats.positions.push_back({std::string(tp.first), tp.second, offset});
  }

  // 5. The earlier batch's commit must have completed: commits are written in order, one at a
  // time (and if it failed, this batch, applied on top of it, must not be stored either).
  if (auto r = settle(); !r.ok()) return r.error();
  for (auto& shard : shards_)
    for (std::size_t c = 0; c < shard->changed.size(); ++c)
      shard->cache.grew(shard->changed_refs[c], shard->grown[c]);
  // Overlapped: the commit runs on its own thread while the caller goes on with the next batch.
  // It views the shards' delta and encoded sets of this batch (the next one uses the other
  // sets) and the ids of its accounts, whose cache entries trim() keeps until it completed:
  // their stored states are behind, so they must not be read again from the store meanwhile.
  if (commit_mode == Commit::kOverlap && use_deltas) {
    in_flight_batch_ = std::move(commit);
    in_flight_stats_ = std::move(stats);
    in_flight_ = std::async(std::launch::async, [this] { return store_.commit(in_flight_batch_); });
    const auto pinned = [batch_mark](std::uint64_t tag) { return (tag >> 32) == batch_mark; };
    for (auto& shard : shards_) shard->cache.trim(pinned);
    return take_done();
  }
  // With several instances, the changelog transaction first (it fails for a member that lost
  // the partitions: then nothing is written here either); then one atomic local write.
  if (auto r = replicate(commit, stats.positions); !r.ok()) {
    clear_caches();
    return r.error();
  }
  if (auto r = store_.commit(commit); !r.ok()) {
    clear_caches();  // cached states hold changes that were not stored
    return r.error();
  }
  for (auto& shard : shards_) shard->cache.trim();
  BatchStats out = take_done();
  merge_stats(out, std::move(stats));
  return out;
}

std::vector<ingest::TopicPartitionOffset> Pipeline::stored_positions(
    const std::vector<ingest::TopicPartition>& partitions) {
  (void)wait_in_flight();  // a failure is kept for the next process() or finish()
  std::vector<ingest::TopicPartitionOffset> out;
  for (const auto& tp : partitions) {
    auto o = store_.get_offset(tp.topic, tp.partition);
    // -2 is librdkafka's OFFSET_BEGINNING: nothing stored yet.
    out.push_back({tp.topic, tp.partition, o.ok() && o->has_value() ? **o : -2});
  }
  return out;
}

}  // namespace kamwatch::app

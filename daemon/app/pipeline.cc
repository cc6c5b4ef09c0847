#include "app/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <stdexcept>

#include "app/changelog.h"
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

}  // namespace

Pipeline::Pipeline(state::StateStore& store, const Clock& clock, PipelineOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      cache_(store, options.cache_accounts, options.cache_bytes),
      decoder_(options.limits) {
  // Applied ids are needed for exactly as long as a copy of their event is not late.
  options_.retention.ids = options_.late_grace;
}

void Pipeline::dead_letter(const ingest::RawMessage& m, ingest::Reason reason,
                           std::string_view message, std::vector<state::OutboxRecord>& out) {
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
  r.headers.emplace_back("kamwatch.error.time", format_rfc3339(clock_.now()));
  out.push_back(std::move(r));
  log::debug("event dead-lettered", {{"topic", m.topic},
                                     {"partition", m.partition},
                                     {"offset", m.offset},
                                     {"reason", ingest::reason_code(reason)},
                                     {"error", message}});
}

const rules::AccountAttributes& Pipeline::attributes_of(const std::string& id) const {
  static const rules::AccountAttributes kNone;
  return attributes_ ? attributes_(id) : kNone;
}

void Pipeline::evaluate(model::AccountState& account, const std::vector<std::string_view>* types,
                        TimeMs now, BatchStats& stats, std::vector<state::OutboxRecord>& outbox,
                        std::vector<state::ActiveAlertUpdate>& active) {
  const std::size_t before = stats.transitions.size();
  stats.rule_evaluations +=
      engine::evaluate_account(*rules_, account, attributes_of(account.id), now, options_.retention,
                               types, stats.transitions);
  for (std::size_t i = before; i < stats.transitions.size(); ++i) {
    const engine::AlertTransition& t = stats.transitions[i];
    std::string json = engine::transition_json(t);
    const bool firing = t.status == engine::AlertTransition::Status::kFiring;
    active.push_back({t.fingerprint, firing ? json : std::string()});
    if (changelog_) changelog_records_.push_back(alert_record(account.partition, active.back()));
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
    auto account = cache_.peek_or_load(id, scratch);
    if (!account.ok()) {
      cache_.clear();
      sweep_next_ = first;
      return account.error();
    }
    bool keep = false;
    if (!owned_ || owned_((*account)->partition)) {  // else another instance's account
      if (rules_) {
        const auto alerts_before = (*account)->alerts;
        evaluate(**account, nullptr, now, out.batch, outbox, active);
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
      cache_.clear();
      sweep_next_ = first;
      return r.error();
    }
    if (auto r = store_.commit(commit); !r.ok()) {
      cache_.clear();
      sweep_next_ = first;
      return r.error();
    }
  }
  cache_.trim();
  if (out.done) {
    sweep_cursor_.clear();
    sweep_ids_.clear();
    sweep_next_ = 0;
  }
  return out;
}

Result<BatchStats> Pipeline::process(const ingest::MessageBatch& batch,
                                     const std::vector<QuarantinedMessage>& quarantine) {
  BatchStats stats;
  stats.messages = batch.messages.size();
  if (batch.messages.empty()) return stats;

  const std::size_t n = batch.messages.size();
  if (events_.size() < n) events_.resize(n);
  id_hashes_.resize(n);
  // Only a store that still holds `seen` keys (written before applied ids were kept in the
  // account states) needs them looked up.
  const bool legacy_seen = store_.holds_seen_ids();
  std::size_t key_count = 0;  // keys_ keeps its strings (and their buffers) across batches
  full_.clear();
  changelog_records_.clear();
  std::vector<state::OutboxRecord> outbox;
  std::vector<state::ActiveAlertUpdate> active;
  std::vector<char>& valid = valid_;  // 1 when events_[i] decoded fine
  valid.assign(n, 0);
  std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> consumed;

  // 1. Decode and validate.
  for (std::size_t i = 0; i < n; ++i) {
    const ingest::RawMessage& m = batch.messages[i];
    const auto q = std::find_if(quarantine.begin(), quarantine.end(), [&](const auto& x) {
      return x.offset == m.offset && x.partition == m.partition && x.topic == m.topic;
    });
    if (q != quarantine.end()) {
      dead_letter(m, q->reason, q->message, outbox);
      ++stats.dead_lettered;
      ++stats.rejected[std::string(ingest::reason_code(q->reason))];
      ++consumed[{m.topic, "unknown"}];
      log::warn("event quarantined", {{"topic", m.topic},
                                      {"partition", m.partition},
                                      {"offset", m.offset},
                                      {"reason", ingest::reason_code(q->reason)},
                                      {"error", q->message}});
      continue;
    }
    if (auto rej = decoder_.decode(m, events_[i])) {
      dead_letter(m, rej->reason, rej->message, outbox);
      ++stats.dead_lettered;
      ++stats.rejected[std::string(ingest::reason_code(rej->reason))];
      ++consumed[{m.topic, "unknown"}];
      continue;
    }
    ++consumed[{m.topic, events_[i].type}];
    valid[i] = 1;
    id_hashes_[i] = model::event_id_hash(events_[i].source, events_[i].id);
    if (!legacy_seen) continue;
    if (key_count == keys_.size()) keys_.emplace_back();
    state::dedup_key_to(keys_[key_count++], events_[i].source, events_[i].id);
  }
  keys_.resize(key_count);

  for (const auto& [k, count] : consumed)
    stats.consumed[{std::string(k.first), std::string(k.second)}] += count;

  // 2. Only with legacy `seen` keys: the batch's keys looked up in the store, in key order
  // (RocksDB's MultiGet reads keys given in order without sorting them again). Duplicates within
  // the batch need nothing here: the first occurrence's id is in the account's recent ids by the
  // time the next one is applied.
  key_order_.resize(key_count);
  for (std::size_t j = 0; j < key_count; ++j) key_order_[j] = static_cast<std::uint32_t>(j);
  std::sort(key_order_.begin(), key_order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    const int c = keys_[a].compare(keys_[b]);
    return c < 0 || (c == 0 && a < b);
  });
  sorted_keys_.clear();
  for (const std::uint32_t j : key_order_) sorted_keys_.push_back(keys_[j]);

  duplicate_.assign(key_count, 0);
  if (key_count > 0) {
    auto seen = store_.seen(sorted_keys_);
    if (!seen.ok()) return seen.error();
    for (std::size_t j = 0; j < key_count; ++j)
      if ((*seen)[j]) duplicate_[key_order_[j]] = 1;
  }

  // 3. Apply in input order.
  std::vector<model::AccountState*> changed;
  // Each changed account's cache entry, event types, deltas and growth sit at its position in
  // `changed` in changed_refs_, changed_types_, deltas_ and grown_ (members, reused so their
  // buffers stay allocated). The entry's tag holds the batch number and that position.
  changed_refs_.clear();
  // 32 bits of batch number, never 0 (a newly read entry's tag is 0), and 32 of position.
  if ((++batch_number_ & 0xffffffffu) == 0) ++batch_number_;
  const std::uint64_t batch_mark = batch_number_ & 0xffffffffu;
  const auto tag_of = [&](std::size_t position) { return (batch_mark << 32) | position; };
  // Without a changelog, accounts changed only by events are committed as deltas (the events
  // themselves, merged by the store) instead of their whole state, which is far larger.
  const bool use_deltas = changelog_ == nullptr;
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    if (legacy_seen && duplicate_[k++]) {
      ++stats.duplicates;
      continue;
    }
    const model::Event& e = events_[i];
    auto account = cache_.get(e.subject);
    if (!account.ok()) {
      cache_.clear();
      return account.error();
    }
    const state::AccountCache::Ref ref = *account;
    model::AccountState& s = *ref;
    // A re-delivered event: its id is among the account's recent ids (model::RecentIds) as long
    // as it is not late; a later copy is dead-lettered as late below.
    if (s.recent_ids.contains(id_hashes_[i])) {
      ++stats.duplicates;
      continue;
    }
    if (s.applied > 0 && e.time < s.max_time - options_.late_grace) {
      dead_letter(batch.messages[i], ingest::Reason::kLate,
                  "event time " + format_rfc3339(e.time) + " is more than " +
                      format_duration(options_.late_grace) + " before the account's latest event " +
                      format_rfc3339(s.max_time),
                  outbox);
      ++stats.dead_lettered;
      ++stats.late;
      continue;
    }
    if (ref.tag() >> 32 != batch_mark) {  // the account's first change in this batch
      const std::size_t c = changed.size();
      ref.tag() = tag_of(c);
      changed.push_back(&s);
      changed_refs_.push_back(ref);
      if (changed_types_.size() < changed.size()) changed_types_.resize(changed.size());
      if (deltas_.size() < changed.size()) deltas_.resize(changed.size());
      if (grown_.size() < changed.size()) grown_.resize(changed.size());
      changed_types_[c].clear();
      deltas_[c].clear();
      grown_[c] = 0;
    }
    const std::size_t slot = ref.tag() & 0xffffffffu;
    try {
      fault_hooks(e);
      model::derived_targets(rules_ ? &rules_->series_specs() : nullptr, e, targets_);
      grown_[slot] += model::apply(s, e, options_.retention, targets_, id_hashes_[i]);
      s.partition = batch.messages[i].partition;
      if (use_deltas)
        state::encode_account_delta_to(e, id_hashes_[i], s.partition, options_.retention, targets_,
                                       deltas_[slot]);
    } catch (const std::exception& ex) {
      cache_.clear();  // the account may be half changed
      return Error{std::string(kProcessingError), "applying event '" + std::string(e.id) + "' at " +
                                                      position(batch.messages[i]) + ": " +
                                                      ex.what()};
    }
    auto& types = changed_types_[slot];
    if (std::find(types.begin(), types.end(), e.type) == types.end()) types.push_back(e.type);
    ++stats.applied;
  }

  // 3b. Rules: each changed account, only the rules reading the types that changed.
  if (rules_) {
    const TimeMs now = clock_.now();
    const auto t0 = std::chrono::steady_clock::now();
    struct Timer {
      std::chrono::steady_clock::time_point t0;
      double& out;
      ~Timer() {
        out = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    } timer{t0, stats.rule_seconds};
    for (std::size_t c = 0; c < changed.size(); ++c) {
      model::AccountState* s = changed[c];
      // An account whose newest event is older than the late grace is being caught up from
      // history: judging stale state against the wall clock would raise false alarms. The
      // timer sweep evaluates it once the consumer has caught up.
      if (s->max_time < now - options_.late_grace) continue;
      try {
        const std::size_t alerts_before = s->alerts.size();
        const std::size_t transitions_before = stats.transitions.size();
        if (use_deltas) alerts_before_ = s->alerts;
        evaluate(*s, &changed_types_[c], now, stats, outbox, active);
        // Alert entries and their labels change with transitions and new pending alerts only:
        // then the cache measures the state again.
        const bool alerts_grew =
            s->alerts.size() != alerts_before || stats.transitions.size() != transitions_before;
        if (alerts_grew) cache_.changed(changed_refs_[c]);
        // Alert states are not events: an account whose alerts changed is stored whole.
        if (use_deltas && (alerts_grew || s->alerts != alerts_before_)) full_.push_back(c);
      } catch (const std::exception& ex) {
        cache_.clear();
        return Error{std::string(kProcessingError),
                     "evaluating account '" + s->id + "': " + ex.what()};
      }
    }
  }

  // 4. Next offsets per partition.
  std::map<std::pair<std::string_view, std::int32_t>, std::int64_t> next;
  for (const ingest::RawMessage& m : batch.messages) {
    auto& o = next[{m.topic, m.partition}];
    o = std::max(o, m.offset + 1);
  }
  state::CommitBatch commit;
  if (!use_deltas) {
    commit.accounts.assign(changed.begin(), changed.end());
  } else {
    std::sort(full_.begin(), full_.end());
    for (std::size_t c = 0, f = 0; c < changed.size(); ++c) {
      if (f < full_.size() && full_[f] == c) {
        commit.accounts.push_back(changed[c]);
        ++f;
      } else {
        commit.account_deltas.push_back({changed[c]->id, deltas_[c]});
      }
    }
  }
  commit.outbox = std::move(outbox);
  commit.active_alerts = std::move(active);
  for (const auto& [tp, offset] : next) {
    commit.offsets.push_back({std::string(tp.first), tp.second, offset});
    stats.positions.push_back({std::string(tp.first), tp.second, offset});
  }

  // 5. With several instances, the changelog transaction first (it fails for a member that
  // lost the partitions: then nothing is written here either); then one atomic local write.
  if (auto r = replicate(commit, stats.positions); !r.ok()) {
    cache_.clear();
    return r.error();
  }
  if (auto r = store_.commit(commit); !r.ok()) {
    cache_.clear();  // cached states hold changes that were not stored
    return r.error();
  }
  for (std::size_t c = 0; c < changed.size(); ++c) cache_.grew(changed_refs_[c], grown_[c]);
  cache_.trim();
  return stats;
}

std::vector<ingest::TopicPartitionOffset> Pipeline::stored_positions(
    const std::vector<ingest::TopicPartition>& partitions) {
  std::vector<ingest::TopicPartitionOffset> out;
  for (const auto& tp : partitions) {
    auto o = store_.get_offset(tp.topic, tp.partition);
    // -2 is librdkafka's OFFSET_BEGINNING: nothing stored yet.
    out.push_back({tp.topic, tp.partition, o.ok() && o->has_value() ? **o : -2});
  }
  return out;
}

}  // namespace kamwatch::app

#include "app/pipeline.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/log.h"

namespace kamwatch::app {

Pipeline::Pipeline(state::StateStore& store, const Clock& clock, PipelineOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      cache_(store, options.cache_accounts),
      decoder_(options.limits) {}

void Pipeline::dead_letter(const ingest::RawMessage& m, ingest::Reason reason,
                           std::string_view message, std::vector<state::OutboxRecord>& out) {
  state::OutboxRecord r;
  r.sink = std::string(kDeadLetterSink);
  r.key = std::string(m.key);
  r.value = std::string(m.value);
  for (const ingest::Header& h : m.headers) r.headers.emplace_back(h.key, h.value);
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

Result<BatchStats> Pipeline::process(const ingest::MessageBatch& batch) {
  BatchStats stats;
  stats.messages = batch.messages.size();
  if (batch.messages.empty()) return stats;

  const std::size_t n = batch.messages.size();
  if (events_.size() < n) events_.resize(n);
  keys_.clear();
  std::vector<state::OutboxRecord> outbox;
  std::vector<int> valid(n, 0);  // 1 when events_[i] decoded fine

  // 1. Decode and validate.
  for (std::size_t i = 0; i < n; ++i) {
    const ingest::RawMessage& m = batch.messages[i];
    if (auto rej = decoder_.decode(m, events_[i])) {
      dead_letter(m, rej->reason, rej->message, outbox);
      ++stats.dead_lettered;
      continue;
    }
    valid[i] = 1;
    keys_.push_back(state::dedup_key(events_[i].source, events_[i].id));
  }

  // 2. Which ids were applied by earlier batches.
  auto seen = store_.seen(keys_);
  if (!seen.ok()) return seen.error();

  // 3. Apply in input order; the in-batch set catches duplicates within this batch.
  std::unordered_set<std::string_view> batch_seen;
  std::vector<std::string> new_keys;
  std::vector<const model::AccountState*> changed;
  std::unordered_set<const model::AccountState*> changed_set;
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    const std::size_t key_index = k++;
    const std::string& key = keys_[key_index];
    if ((*seen)[key_index] || !batch_seen.insert(key).second) {
      ++stats.duplicates;
      continue;
    }
    const model::Event& e = events_[i];
    auto account = cache_.get(e.subject);
    if (!account.ok()) {
      cache_.clear();
      return account.error();
    }
    model::AccountState& s = **account;
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
    model::apply(s, e, options_.retention);
    new_keys.push_back(key);
    if (changed_set.insert(&s).second) changed.push_back(&s);
    ++stats.applied;
  }

  // 4. Next offsets per partition.
  std::map<std::pair<std::string_view, std::int32_t>, std::int64_t> next;
  for (const ingest::RawMessage& m : batch.messages) {
    auto& o = next[{m.topic, m.partition}];
    o = std::max(o, m.offset + 1);
  }
  state::CommitBatch commit;
  commit.accounts = std::move(changed);
  commit.seen_ids = std::move(new_keys);
  commit.outbox = std::move(outbox);
  for (const auto& [tp, offset] : next) {
    commit.offsets.push_back({std::string(tp.first), tp.second, offset});
    stats.positions.push_back({std::string(tp.first), tp.second, offset});
  }

  // 5. One atomic write.
  if (auto r = store_.commit(commit); !r.ok()) {
    cache_.clear();  // cached states hold changes that were not stored
    return r.error();
  }
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

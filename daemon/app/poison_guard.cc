#include "app/poison_guard.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "core/log.h"

namespace kamwatch::app {
namespace {

using Position = PoisonGuard::Position;

bool at(const Position& p, const ingest::RawMessage& m) {
  return p.offset == m.offset && p.partition == m.partition && p.topic == m.topic;
}

}  // namespace

std::string PoisonGuard::encode(const std::vector<Position>& positions) {
  std::string out;
  for (const Position& p : positions) {
    out += p.topic;
    out += '\t' + std::to_string(p.partition) + '\t' + std::to_string(p.offset) + '\t' +
           std::to_string(p.count) + '\n';
  }
  return out;
}

std::vector<Position> PoisonGuard::decode(std::string_view text) {
  std::vector<Position> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Position p;
    std::string partition, offset, count;
    if (std::getline(fields, p.topic, '\t') && std::getline(fields, partition, '\t') &&
        std::getline(fields, offset, '\t') && std::getline(fields, count, '\t')) {
      try {
        p.partition = static_cast<std::int32_t>(std::stol(partition));
        p.offset = std::stoll(offset);
        p.count = std::stoull(count);
        out.push_back(std::move(p));
      } catch (const std::exception&) {
        // A damaged record only loses the count: it is bookkeeping, not state.
      }
    }
  }
  return out;
}

Result<BatchStats> PoisonGuard::process(const ingest::MessageBatch& batch, Commit commit) {
  if (batch.messages.empty()) return pipeline_.process(batch, {}, commit);

  // 1. An event that killed the process while it was processed alone: run it alone once more
  //    (a kill from outside may have been the cause), then quarantine it.
  std::optional<Position> isolating;
  std::vector<QuarantinedMessage> quarantine;
  {
    auto rec = store_.get_meta(kIsolatingKey);
    if (!rec.ok()) return rec.error();
    if (*rec) {
      auto positions = decode(**rec);
      if (!positions.empty()) {
        const Position& p = positions.front();
        if (std::any_of(batch.messages.begin(), batch.messages.end(),
                        [&](const auto& m) { return at(p, m); })) {
          if (p.count >= 2) {
            quarantine.push_back(
                {p.topic, p.partition, p.offset, ingest::Reason::kPoison,
                 "the event stopped kamwatch " + std::to_string(p.count) +
                     " times while processed on its own, after its batch had stopped it " +
                     std::to_string(max_attempts_) + " times"});
            log::error("quarantining a poison event", {{"topic", p.topic},
                                                       {"partition", p.partition},
                                                       {"offset", p.offset},
                                                       {"runs", p.count}});
          } else {
            isolating = p;
          }
        }
      }
    }
  }

  // 2. Count the attempts of a batch starting where this one starts, per partition.
  auto rec = store_.get_meta(kAttemptsKey);
  if (!rec.ok()) return rec.error();
  std::vector<Position> attempts = *rec ? decode(**rec) : std::vector<Position>{};
  const std::string before = encode(attempts);
  bool suspect = isolating.has_value();
  bool wait = false;  // commit this batch before the next one is processed
  std::uint64_t worst = 0;
  std::set<std::pair<std::string_view, std::int32_t>> counted;
  for (const ingest::RawMessage& m : batch.messages) {
    if (!counted.insert({m.topic, m.partition}).second) continue;  // not the partition's start
    auto it = std::find_if(attempts.begin(), attempts.end(), [&](const Position& p) {
      return p.partition == m.partition && p.topic == m.topic;
    });
    if (it != attempts.end() && it->offset > m.offset) {
      // The record is ahead of this batch: a later batch was attempted while this one's
      // commit (Commit::kOverlap) was still being written, and kamwatch stopped before it was
      // stored. Processing up to there is progress towards that batch, not an attempt of a new
      // one: the record stays (an attempt of it when this batch reaches its start), and this
      // batch is committed before the next one is processed, so that the attempts of the
      // recorded batch count up again.
      wait = true;
      const bool reaches =
          std::any_of(batch.messages.begin(), batch.messages.end(), [&](const auto& x) {
            return x.partition == m.partition && x.topic == m.topic && x.offset >= it->offset;
          });
      if (!reaches) continue;
    } else if (it == attempts.end()) {
      it =
          attempts.insert(attempts.end(), Position{std::string(m.topic), m.partition, m.offset, 0});
    } else if (it->offset != m.offset) {
      it->offset = m.offset;
      it->count = 0;
    }
    ++it->count;
    worst = std::max(worst, it->count);
    if (it->count > max_attempts_) suspect = true;
  }
  if (auto w = store_.put_meta(kAttemptsKey, encode(attempts)); !w.ok()) return w.error();

  if (!suspect) {
    // A quarantined event's record is cleared below once its dead letter is committed.
    auto result =
        pipeline_.process(batch, quarantine, quarantine.empty() && !wait ? commit : Commit::kWait);
    if (result.ok() || result.error().code != kProcessingError) {
      // A failure that did not kill the process (a full disk, ...) is not an attempt.
      if (!result.ok()) (void)store_.put_meta(kAttemptsKey, before);
      // The quarantined event is behind us: its record has served.
      if (result.ok() && !quarantine.empty()) (void)store_.put_meta(kIsolatingKey, "");
      return result;
    }
    log::warn("an event failed to process; processing the batch event by event",
              {{"error", result.error().message}});
  } else {
    log::error("this batch stopped kamwatch before; processing it event by event",
               {{"attempts", worst}, {"messages", batch.messages.size()}});
  }
  return isolate(batch, quarantine, isolating);
}

Result<BatchStats> PoisonGuard::isolate(const ingest::MessageBatch& batch,
                                        const std::vector<QuarantinedMessage>& quarantine,
                                        const std::optional<Position>& isolating) {
  ++isolations_;
  BatchStats total;
  for (const ingest::RawMessage& m : batch.messages) {
    ingest::MessageBatch one;  // views into `batch`, which owns the storage
    one.messages.push_back(m);
    const bool quarantined = std::any_of(quarantine.begin(), quarantine.end(), [&](const auto& q) {
      return q.offset == m.offset && q.partition == m.partition && q.topic == m.topic;
    });
    if (!quarantined) {
      const std::uint64_t runs = isolating && at(*isolating, m) ? isolating->count + 1 : 1;
      if (auto w = store_.put_meta(kIsolatingKey,
                                   encode({{std::string(m.topic), m.partition, m.offset, runs}}));
          !w.ok())
        return w.error();
    }
    auto r = pipeline_.process(one, quarantine);
    if (!r.ok() && r.error().code == kProcessingError) {
      log::error("event dead-lettered: processing it failed", {{"topic", m.topic},
                                                               {"partition", m.partition},
                                                               {"offset", m.offset},
                                                               {"error", r.error().message}});
      r = pipeline_.process(one, {{std::string(m.topic), m.partition, m.offset,
                                   ingest::Reason::kProcessingError, r.error().message}});
    }
    if (!r.ok()) return r.error();
    merge_stats(total, std::move(r).value());
  }
  if (auto w = store_.put_meta(kIsolatingKey, ""); !w.ok()) return w.error();
  return total;
}

}  // namespace kamwatch::app

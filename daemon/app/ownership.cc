#include "app/ownership.h"

#include <chrono>
#include <set>

#include "app/changelog.h"
#include "core/log.h"

namespace kamwatch::app {

Result<void> Ownership::assigned(const std::vector<ingest::TopicPartition>& partitions) {
  std::set<std::int32_t> fresh;
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : partitions)
      if (owned_[tp.partition]++ == 0) fresh.insert(tp.partition);
  }
  if (fresh.empty()) return ok();
  restoring_.store(true);
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{restoring_};
  for (std::int32_t p : fresh) {
    const auto t0 = std::chrono::steady_clock::now();
    auto stats = restore_partition(store_, kafka_, topic_, p);
    if (!stats.ok()) {
      log::error("restoring a partition from the changelog failed",
                 {{"partition", p}, {"error", stats.error().to_string()}});
      return stats.error();
    }
    restored_.fetch_add(stats->records);
    log::info("partition state restored",
              {{"changelog", topic_},
               {"partition", p},
               {"records", static_cast<std::int64_t>(stats->records)},
               {"from", stats->from},
               {"to", stats->to},
               {"seconds",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  }
  moved_();
  return active_.load();
}

void Ownership::revoked(const std::vector<ingest::TopicPartition>& partitions, bool lost) {
  std::set<std::int32_t> gone;
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : partitions) {
      auto it = owned_.find(tp.partition);
      if (it == owned_.end()) continue;
      if (--it->second <= 0) {
        gone.insert(tp.partition);
        owned_.erase(it);
      }
    }
  }
  if (gone.empty()) return;
  // The partition's firing alerts leave this instance's index (the new owner restores them and
  // re-sends them to Alertmanager); a lost partition's in-flight batch was never committed.
  std::vector<std::pair<std::string, std::string>> firing;  // account, fingerprint
  active_.for_each([&](const ActiveAlerts::Firing& t) {
    firing.emplace_back(std::string(t.account), std::string(t.fingerprint));
  });
  state::CommitBatch forget;
  for (const auto& [id, fingerprint] : firing) {
    auto account = store_.get_account(id);
    if (!account.ok() || !account->has_value() || !gone.count((*account)->partition)) continue;
    forget.active_alerts.push_back({fingerprint, {}});
  }
  if (!forget.active_alerts.empty()) {
    if (auto r = store_.commit(forget); !r.ok())
      log::warn("cannot drop the firing alerts of revoked partitions",
                {{"error", r.error().to_string()}});
  }
  if (auto r = active_.load(); !r.ok())
    log::warn("cannot reload the firing alerts", {{"error", r.error().to_string()}});
  directory_.remove_if([&](const AccountSummary& s) {
    auto account = store_.get_account(s.id);
    return account.ok() && account->has_value() && gone.count((*account)->partition) > 0;
  });
  moved_();
  for (std::int32_t p : gone)
    log::info(lost ? "partition lost: its state stays with the new owner" : "partition handed over",
              {{"partition", p}});
}

std::vector<std::int32_t> Ownership::owned() const {
  std::lock_guard lock(mu_);
  std::vector<std::int32_t> out;
  for (const auto& [p, n] : owned_) out.push_back(p);
  return out;
}

bool Ownership::owns(std::int32_t partition) const {
  std::lock_guard lock(mu_);
  return owned_.count(partition) > 0;
}

}  // namespace kamwatch::app

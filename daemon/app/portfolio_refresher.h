#pragma once
// The portfolio refresher: portfolio attributes (key accounts, revenue rank, CLV, P(alive))
// and portfolio-wide figures, recomputed in a background thread every `every`; the pipeline
// thread, the API and the metrics read the latest immutable snapshot.
//
// Single-instance mode (no exchange): scoring::score_portfolio over every account in the store.
// Cluster mode (an exchange, cluster.summary_topic): the accounts this instance owns are
// grouped by input partition, each partition's scoring::PortfolioPartial is published on the
// summary topic, the latest partial of every partition is read back, and the figures are
// computed over all of them (scoring::score_portfolio_from_partials): the summary covers the
// whole portfolio, the attributes only the owned accounts. The figures are as fresh as the
// oldest partial (each owner republishes every `every`; see docs/architecture.md).
// Thread-safety: snapshot() from any thread; start()/stop()/refresh() from one thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/time.h"
#include "ingest/summary_exchange.h"
#include "metrics/metrics.h"
#include "model/account_state.h"
#include "rules/rules.h"
#include "scoring/portfolio.h"
#include "state/state_store.h"

namespace kamwatch::app {

// Rule attributes by account id: a vector sorted by id, 64 bytes an account with a short id (a
// std::map took 112: a million accounts' worth, twice while a refresh replaces a snapshot).
class AccountAttributesIndex {
 public:
  using Entry = std::pair<std::string, rules::AccountAttributes>;
  AccountAttributesIndex() = default;
  // Entries in any order, ids distinct.
  explicit AccountAttributesIndex(std::vector<Entry> entries);
  // The account's attributes, or nullptr. O(log n).
  [[nodiscard]] const rules::AccountAttributes* find(std::string_view id) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  // In id order.
  [[nodiscard]] std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  [[nodiscard]] std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

// What the refresher publishes.
struct PortfolioSnapshot {
  AccountAttributesIndex attributes;  // the accounts owned here
  scoring::PortfolioSummary summary;  // the whole portfolio
  // Cluster mode: the partitions whose partials the figures come from, and the oldest
  // partial's as_of (how far behind the least fresh part of the portfolio is). 0 without.
  std::size_t partitions = 0;
  TimeMs oldest_partial = 0;
};

// The input partition whose accounts include this one when this instance owns it; nullopt
// when another instance owns it (its figures then come from that instance's partial).
using PartitionOf = std::function<std::optional<std::int32_t>(const model::AccountState&)>;

struct PortfolioRefresherOptions {
  TimeMs every = kHourMs;  // rules.portfolio_refresh
  scoring::PortfolioOptions scoring;
  // Cluster mode when set (open it with ingest::open_summary_exchange on
  // cluster.summary_topic); null = single-instance mode.
  std::unique_ptr<ingest::SummaryExchange> exchange;
  // Cluster mode: required. Every instance must map an account to the same partition.
  PartitionOf partition_of;
  // Cluster mode, optional: the input partitions this instance owns. Owned partitions without
  // an account in the store then publish an empty partial, replacing whatever an earlier
  // owner left on the summary topic.
  std::function<std::vector<std::int32_t>()> owned_partitions;
  // Cluster mode, optional: the number of input partitions. A refresh that lacks the partial
  // of one of partitions 0..n-1 then fails ("partials_missing", the previous snapshot stays):
  // figures over part of the portfolio would be wrong (e.g. at a cluster's first start, until
  // every owner has published).
  std::function<std::int32_t()> input_partitions;
  // Cluster mode: how long a refresh waits for the summary topic (publish acks, reading to
  // its end). The first refresh fails when the end is not reached: figures from part of the
  // portfolio would be wrong; later ones go on with what was read.
  TimeMs exchange_timeout = 30000;
  TimeMs retry = 10000;  // after a failed refresh, the next one comes this soon (at most every)
  const Clock* clock = nullptr;         // default: the system clock
  metrics::Metrics* metrics = nullptr;  // optional: the kamwatch_portfolio_partials gauges
};

class PortfolioRefresher {
 public:
  PortfolioRefresher(state::StateStore& store, PortfolioRefresherOptions options);
  ~PortfolioRefresher();
  PortfolioRefresher(const PortfolioRefresher&) = delete;
  PortfolioRefresher& operator=(const PortfolioRefresher&) = delete;

  void start();  // refresh now, then every `every`, in a background thread
  void stop();
  [[nodiscard]] std::shared_ptr<const PortfolioSnapshot> snapshot() const;

  // One refresh on the calling thread. On error the previous snapshot stays.
  [[nodiscard]] Result<void> refresh();

 private:
  [[nodiscard]] Result<std::shared_ptr<PortfolioSnapshot>> single_instance(
      std::vector<scoring::AccountInputs> accounts, TimeMs now);
  // owned: the inputs of the accounts owned here, by input partition.
  [[nodiscard]] Result<std::shared_ptr<PortfolioSnapshot>> cluster(
      const std::map<std::int32_t, std::vector<scoring::AccountInputs>>& owned, TimeMs now);

  state::StateStore& store_;
  PortfolioRefresherOptions options_;
  SystemClock system_clock_;
  const Clock& clock_;
  bool synced_once_ = false;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::shared_ptr<const PortfolioSnapshot> snapshot_;
};

}  // namespace kamwatch::app

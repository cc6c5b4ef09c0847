#include "app/portfolio_refresher.h"

#include <algorithm>
#include <chrono>

#include "app/portfolio_attributes.h"
#include "core/log.h"
#include "core/memory.h"
#include "scoring/portfolio_partial.h"

namespace kamwatch::app {

PortfolioRefresher::PortfolioRefresher(state::StateStore& store, PortfolioRefresherOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : static_cast<const Clock&>(system_clock_)) {
  // Scoring a million accounts takes minutes of CPU: stop() must not wait for it.
  options_.scoring.cancelled = [this] { return stop_.load(); };
}

PortfolioRefresher::~PortfolioRefresher() { stop(); }

void PortfolioRefresher::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      TimeMs wait = options_.every;
      if (Result<void> r = refresh(); !r.ok()) {
        wait = std::min(options_.retry, options_.every);
        log::error("portfolio refresh failed; the previous figures stay",
                   {{"error", r.error().to_string()}, {"retry_in_ms", wait}});
      }
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_.load(); });
    }
  });
}

void PortfolioRefresher::stop() {
  stop_.store(true);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AccountAttributesIndex::AccountAttributesIndex(std::vector<Entry> entries)
    : entries_(std::move(entries)) {
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.first < b.first; });
}

const rules::AccountAttributes* AccountAttributesIndex::find(std::string_view id) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const Entry& e, std::string_view key) { return e.first < key; });
  return it != entries_.end() && it->first == id ? &it->second : nullptr;
}

namespace {

// One account's snapshot entry, taking the id from its figures (scored for this and then
// discarded).
AccountAttributesIndex::Entry entry_of(scoring::AccountFigures& f) {
  const rules::AccountAttributes a = attributes_of(f);
  return {std::move(f.account), a};
}

AccountAttributesIndex attributes_index(std::vector<scoring::AccountFigures>& figures) {
  std::vector<AccountAttributesIndex::Entry> entries;
  entries.reserve(figures.size());
  for (scoring::AccountFigures& f : figures) entries.push_back(entry_of(f));
  return AccountAttributesIndex(std::move(entries));
}

}  // namespace

std::shared_ptr<const PortfolioSnapshot> PortfolioRefresher::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Result<void> PortfolioRefresher::refresh() {
  if (options_.exchange && !options_.partition_of) {
    return Error{"invalid_argument", "cluster mode needs partition_of (which accounts are owned)"};
  }
  // Each account's scoring inputs are taken as the store is read; the states are not kept (a
  // copy of every decoded state was ~28 KiB per account: a million accounts did not fit).
  const TimeMs now = clock_.now();
  // The refresh is the daemon's peak: start it from what is allocated, not from what the
  // sweeps' decoded states left free but resident (~160 MB at a million accounts).
  memory::release_free_heap();
  std::vector<scoring::AccountInputs> all;                            // single instance
  std::map<std::int32_t, std::vector<scoring::AccountInputs>> owned;  // cluster: by partition
  // Room for the accounts of the last refresh and some more: growing by doubling held the old
  // and the new buffer at once (+64 MB at a million accounts, on top of the refresh's peak).
  if (const auto last = snapshot(); last && !options_.exchange)
    all.reserve(last->attributes.size() + last->attributes.size() / 32 + 1024);
  if (options_.exchange && options_.owned_partitions)
    for (const std::int32_t p : options_.owned_partitions()) owned[p];
  auto r = store_.for_each_account([&](const model::AccountState& s) {
    if (!options_.exchange) {
      all.push_back(scoring::account_inputs(s, now, options_.scoring));
    } else if (const std::optional<std::int32_t> p = options_.partition_of(s)) {
      owned[*p].push_back(scoring::account_inputs(s, now, options_.scoring));
    }
    return !stop_.load();
  });
  if (!r.ok()) return r.error();
  if (stop_.load()) return ok();
  auto snap = options_.exchange ? cluster(owned, now) : single_instance(std::move(all), now);
  if (!snap.ok() && stop_.load()) return ok();  // cancelled by stop()
  if (!snap.ok()) return snap.error();
  if (options_.metrics != nullptr) {
    options_.metrics->portfolio_partials.Set(static_cast<double>((*snap)->partitions));
    options_.metrics->portfolio_oldest_partial_timestamp.Set(
        static_cast<double>((*snap)->oldest_partial) / 1000.0);
  }
  {
    std::lock_guard lock(mu_);
    snapshot_ = std::move(*snap);
  }
  // Scoring freed hundreds of MB, part of it as small blocks (ids, strings) that the allocator
  // keeps: give the free pages back. (With it, RSS after a refresh during the scale bench's
  // sweep fell below where it was before the refresh; bench/README.md, scale.)
  memory::release_free_heap();
  return ok();
}

Result<std::shared_ptr<PortfolioSnapshot>> PortfolioRefresher::single_instance(
    std::vector<scoring::AccountInputs> accounts, TimeMs now) {
  // Each account's figures are reduced to its attributes as they are made (64 bytes an account,
  // instead of ~200 for the whole figures); the inputs are consumed.
  std::vector<AccountAttributesIndex::Entry> entries;
  entries.reserve(accounts.size());
  auto summary = scoring::score_portfolio_each(
      std::move(accounts), now, options_.scoring,
      [&](scoring::AccountFigures&& f) { entries.push_back(entry_of(f)); });
  if (!summary.ok()) return summary.error();
  auto snap = std::make_shared<PortfolioSnapshot>();
  snap->attributes = AccountAttributesIndex(std::move(entries));
  snap->summary = std::move(*summary);
  return snap;
}

Result<std::shared_ptr<PortfolioSnapshot>> PortfolioRefresher::cluster(
    const std::map<std::int32_t, std::vector<scoring::AccountInputs>>& owned, TimeMs now) {
  std::vector<scoring::AccountInputs> local;
  for (const auto& [p, accounts] : owned)
    local.insert(local.end(), accounts.begin(), accounts.end());

  // This instance's partials: published, and used as they are (fresher than a read-back).
  std::map<std::int32_t, scoring::PortfolioPartial> partials;
  for (const auto& [p, accounts] : owned) {
    auto partial = scoring::portfolio_partial(accounts, p, now, options_.scoring);
    if (!partial.ok()) return partial.error();
    if (auto sent = options_.exchange->publish(p, scoring::encode_partial(*partial)); !sent.ok())
      log::warn("portfolio summary not published; other instances keep the previous one",
                {{"partition", static_cast<std::int64_t>(p)}, {"error", sent.error().to_string()}});
    partials.emplace(p, std::move(*partial));
  }

  // Everything the other instances published, read to the topic's end (in slices, so stop()
  // does not wait for the whole timeout).
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.exchange_timeout);
  Result<void> synced = ok();
  do {
    synced = options_.exchange->sync(500);
  } while (!synced.ok() && !stop_.load() && std::chrono::steady_clock::now() < deadline);
  if (!synced.ok()) {
    if (!synced_once_) return synced.error();  // never read it all: figures would be partial
    log::warn("portfolio summaries not read to the end; using those read so far",
              {{"error", synced.error().to_string()}});
  } else {
    synced_once_ = true;
  }
  for (const auto& [p, bytes] : options_.exchange->latest()) {
    if (partials.count(p) != 0) continue;
    auto partial = scoring::decode_partial(bytes);
    if (!partial.ok()) {
      return Error{partial.error().code, "the portfolio summary of partition " + std::to_string(p) +
                                             ": " + partial.error().message};
    }
    if (partial->partition != p) {
      return Error{"partial_inconsistent", "the summary keyed by partition " + std::to_string(p) +
                                               " is partition " +
                                               std::to_string(partial->partition) + "'s"};
    }
    partials.emplace(p, std::move(*partial));
  }

  if (options_.input_partitions) {
    const std::int32_t n = options_.input_partitions();
    std::string missing;
    std::int32_t count = 0;
    for (std::int32_t p = 0; p < n; ++p) {
      if (partials.count(p) != 0) continue;
      if (++count <= 10) missing += (missing.empty() ? "" : ", ") + std::to_string(p);
    }
    if (count > 0) {
      return Error{"partials_missing",
                   std::to_string(count) + " of " + std::to_string(n) +
                       " input partitions have no portfolio summary yet (partitions " + missing +
                       (count > 10 ? ", ..." : "") + ")"};
    }
  }
  std::vector<scoring::PortfolioPartial> all;
  all.reserve(partials.size());
  TimeMs oldest = now;
  for (auto& [p, partial] : partials) {
    oldest = std::min(oldest, partial.as_of);
    all.push_back(std::move(partial));
  }
  auto portfolio = scoring::score_portfolio_from_partials(all, local, now, options_.scoring);
  if (!portfolio.ok()) return portfolio.error();
  auto snap = std::make_shared<PortfolioSnapshot>();
  snap->attributes = attributes_index(portfolio->accounts);
  snap->summary = portfolio->summary;
  snap->partitions = all.size();
  snap->oldest_partial = all.empty() ? 0 : oldest;
  log::info("portfolio refreshed from partition summaries",
            {{"partitions", static_cast<std::int64_t>(all.size())},
             {"owned_partitions", static_cast<std::int64_t>(owned.size())},
             {"owned_accounts", static_cast<std::int64_t>(local.size())},
             {"accounts", static_cast<std::int64_t>(portfolio->summary.accounts)},
             {"oldest_partial_age_ms", all.empty() ? TimeMs{0} : now - snap->oldest_partial}});
  return snap;
}

}  // namespace kamwatch::app

#pragma once
// The portfolio split by input partition. When several kamwatch instances each hold the
// accounts of some input partitions, every portfolio-wide figure (Pareto key-account
// threshold, revenue rank, concentration, retention and churn, the BG/NBD parameters and from
// them P(alive) and CLV) must still be computed over the whole portfolio. Each instance
// summarises the accounts of each partition it owns as a PortfolioPartial, the instances
// exchange their partials (daemon/ingest SummaryExchange: a compacted Kafka topic), and each
// computes the global figures from every partition's partial plus its own accounts.
//
// Exactness: score_portfolio_from_partials() over the partials of any split of a portfolio
// gives the same figures as score_portfolio() over all of it (tests/unit/scoring/
// portfolio_partial_test.cc checks this on a simulated portfolio):
// - revenues: the multiset of every account's trailing revenue, as exact doubles (grouped by
//   value with counts), so tiering, rank, shares, top share and Gini are bit-identical;
// - retention: the counts of accounts active in both periods, only the earlier, only the
//   later one, so the rates are bit-identical;
// - BG/NBD: every customer's (x, t_x, T) kept exactly in whole days (order_summary() works
//   on UTC days, so nothing is rounded), grouped by identical triples with counts; the fit
//   depends only on the multiset of triples, so the parameters are bit-identical;
// - value per purchase day: the sums of amount and bucket days per partition; the portfolio
//   mean then differs from the single-instance one only by summation order (~1e-15
//   relative), and with it day_value and CLV.
// Thread-safety: pure functions; a PortfolioPartial is a value.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "model/account_state.h"
#include "scoring/portfolio.h"

namespace kamwatch::scoring {

// What the accounts of one input partition contribute to the portfolio-wide figures.
struct PortfolioPartial {
  struct Revenue {
    double revenue = 0;         // trailing revenue (RevenueOptions), exact
    std::int64_t accounts = 0;  // accounts with exactly this revenue (> 0)
    bool operator==(const Revenue&) const = default;
  };
  // One BG/NBD summary in whole UTC days (see order_summary()), with how many customers have it.
  struct Customers {
    std::int64_t x = 0;          // repeat purchase days
    std::int64_t t_x_days = 0;   // last purchase day - first purchase day
    std::int64_t T_days = 0;     // observation end's day - first purchase day
    std::int64_t customers = 0;  // > 0
    bool operator==(const Customers&) const = default;
  };

  std::int32_t partition = 0;
  TimeMs as_of = 0;         // the `now` it was computed for
  std::uint64_t basis = 0;  // partial_basis() of the options it was computed with
  std::int64_t accounts = 0;
  std::vector<Revenue> revenues;  // one entry per distinct revenue, descending; counts sum to
                                  // accounts
  // Retention cohorts (the last retention_period against the one before, as score_portfolio).
  std::int64_t retained = 0;      // active in both periods
  std::int64_t churned = 0;       // active in the earlier period only
  std::int64_t new_accounts = 0;  // active in the later period only
  // Accounts with an order on or before as_of: the BG/NBD population.
  std::int64_t order_accounts = 0;
  std::int64_t incomplete_summaries = 0;  // of those, with pruned daily buckets (x a lower bound)
  std::int64_t bucket_days = 0;           // sum of OrderSummary::bucket_days
  double day_amount = 0;                  // sum of OrderSummary::day_amount
  std::vector<Customers> customers;       // ascending by (x, t_x_days, T_days), distinct;
                                          // counts sum to order_accounts
  bool operator==(const PortfolioPartial&) const = default;
};

// A digest of the options that shape a partial (revenue window, order type and amount field,
// retention period, activity types). Partials with another basis cannot be combined.
[[nodiscard]] std::uint64_t partial_basis(const PortfolioOptions& options = {});

// The partial of `accounts` (the accounts of one partition) as of now. Errors:
// "invalid_argument" (options or a revenue that is not finite, as score_portfolio).
[[nodiscard]] Result<PortfolioPartial> portfolio_partial(std::span<const AccountInputs> accounts,
                                                         std::int32_t partition, TimeMs now,
                                                         const PortfolioOptions& options = {});
// The same from the states (account_inputs of each; null entries are skipped).
[[nodiscard]] Result<PortfolioPartial> portfolio_partial(
    std::span<const model::AccountState* const> accounts, std::int32_t partition, TimeMs now,
    const PortfolioOptions& options = {});

// The portfolio from the partials of every partition, with per-account figures for `local`
// (the accounts this instance holds; their partitions' partials must have been computed from
// them): `summary` describes the whole portfolio, `accounts` only the local ones (by rank,
// then id). Partials may have different as_of (each is as fresh as its owner made it).
// Errors: "invalid_argument" (options; two partials for one partition), "partial_basis" (a
// partial computed with other options), "partial_inconsistent" (a local account whose
// revenue is in no partial, i.e. its partition's partial is missing or not from it).
[[nodiscard]] Result<Portfolio> score_portfolio_from_partials(
    std::span<const PortfolioPartial> partials, std::span<const AccountInputs> local, TimeMs now,
    const PortfolioOptions& options = {});
// The same with the local states (account_inputs of each; null entries are skipped).
[[nodiscard]] Result<Portfolio> score_portfolio_from_partials(
    std::span<const PortfolioPartial> partials, std::span<const model::AccountState* const> local,
    TimeMs now, const PortfolioOptions& options = {});

// ---- Encoding (the value published on the summary topic) ----

// Version 1 layout (integers LEB128 varints, signed ones zigzag; doubles 8 raw
// little-endian bytes):
//   u8 version=1, i64 partition, i64 as_of, 8 bytes basis (little-endian), varint accounts,
//   varint n, n x (f64 revenue, varint accounts)            -- revenue strictly descending
//   varint retained, varint churned, varint new_accounts,
//   varint order_accounts, varint incomplete_summaries, varint bucket_days, f64 day_amount,
//   varint n, n x (varint x, varint t_x_days, varint T_days, varint customers)
//                                                            -- strictly ascending triples
// A partition of 10,000 accounts takes ~100-150 KB before compression, mostly revenues.
inline constexpr std::uint8_t kPartialCodecVersion = 1;

[[nodiscard]] std::string encode_partial(const PortfolioPartial& partial);
// Bounds-checked, never allocates more than the input could hold. Errors: codec_version
// (unknown leading byte: a newer kamwatch wrote it), codec_truncated, codec_corrupt (order,
// counts that do not add up, non-finite values, trailing bytes).
[[nodiscard]] Result<PortfolioPartial> decode_partial(std::string_view bytes);

}  // namespace kamwatch::scoring

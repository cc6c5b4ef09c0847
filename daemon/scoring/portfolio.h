#pragma once
// Portfolio figures: trailing revenue, key-account tiering by revenue concentration (Pareto),
// revenue rank, retention/churn rates, CLV, and the per-account BG/NBD figures, all from
// model::AccountState. Built as one immutable Portfolio value that other modules read.
// Thread-safety: pure functions; a Portfolio is a value, safe to share read-only.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "model/account_state.h"
#include "scoring/bgnbd.h"
#include "scoring/summary.h"

namespace kamwatch::scoring {

// ---- Revenue and tiering ----

struct RevenueOptions {
  std::string order_type = "sales.order";
  std::string amount_field = "amount";
  TimeMs window = 365 * kDayMs;  // trailing twelve months
};

// Sum of amount over the daily buckets of the `window` UTC days ending with now's day
// (day(now) - window + 1 day ... day(now), inclusive); orders after now's day do not count.
// Exact while the window lies within the daily retention back from the account's watermark.
[[nodiscard]] double trailing_revenue(const model::AccountState& state, TimeMs now,
                                      const RevenueOptions& options = {});

struct AccountRevenue {
  std::string account;
  double revenue = 0;
};

struct TierOptions {
  double key_threshold = 0.8;  // key set: smallest top set reaching this share of revenue
  double top_fraction = 0.2;   // concentration figure: revenue share of the top 20% accounts
};

struct RankedAccount {
  std::string account;
  double revenue = 0;
  std::int64_t rank = 0;        // 1 = largest; equal revenues share a rank ("1224")
  double share = 0;             // of total revenue
  double cumulative_share = 0;  // of this and every account ranked before it
  bool key = false;
};

struct Tiering {
  std::vector<RankedAccount> accounts;  // by revenue descending, then account id
  double total_revenue = 0;             // negative revenues count as 0 in totals and shares
  std::size_t key_accounts = 0;
  double key_threshold_revenue = 0;  // revenue of the smallest key account (0 when none)
  double key_revenue_share = 0;      // share of revenue the key accounts make
  double top_share = 0;              // share of the top ceil(top_fraction * n) accounts
  double gini = 0;                   // 0 = equal revenues, -> 1 = one account has it all

  // The account's entry, or nullptr. Linear; Portfolio::find is indexed.
  [[nodiscard]] const RankedAccount* find(std::string_view account) const;
};

// Ranks accounts by revenue and marks the key set: walking down the ranking, accounts are key
// until the cumulative share reaches key_threshold; accounts tied with the last key account
// are key too (tiering must not depend on id order); accounts with revenue <= 0 never are.
// Errors: "invalid_argument" (threshold not in (0, 1], fraction not in (0, 1], revenue not
// finite, duplicate account).
[[nodiscard]] Result<Tiering> tier_accounts(std::vector<AccountRevenue> accounts,
                                            const TierOptions& options = {});

// ---- Retention and churn ----

// [start, end), both floored to UTC days: activity is read from daily buckets.
struct Period {
  TimeMs start = 0;
  TimeMs end = 0;
};

struct ActivityOptions {
  std::vector<std::string> types;  // event types that count as activity; empty = any type
};

// True when the account has an event of a counted type on a day of the period. Reads daily
// buckets and first/last event times, so periods older than the daily retention (800 days
// before the account's watermark) see only those two instants.
[[nodiscard]] bool active_in(const model::AccountState& state, const Period& period,
                             const ActivityOptions& options = {});

struct Activity {
  bool earlier = false;
  bool later = false;
};

// Cohort retention between two periods: of the accounts active in the earlier period, the
// share also active in the later one. churn = 1 - retention. Accounts active only later are
// counted as new and do not enter either rate.
struct RetentionRates {
  std::size_t active_earlier = 0;
  std::size_t active_later = 0;
  std::size_t retained = 0;      // active in both
  std::size_t churned = 0;       // active earlier, not later
  std::size_t new_accounts = 0;  // active later, not earlier
  double retention = 0;
  double churn = 0;
};

// Error "empty_cohort" when no account was active in the earlier period.
[[nodiscard]] Result<RetentionRates> retention_rates(std::span<const Activity> accounts);
// Errors: "invalid_argument" (a period with end <= start), "empty_cohort".
[[nodiscard]] Result<RetentionRates> retention_rates(
    std::span<const model::AccountState* const> accounts, const Period& earlier,
    const Period& later, const ActivityOptions& options = {});

// ---- Customer lifetime value ----

struct ClvOptions {
  TimeMs horizon = 365 * kDayMs;
  TimeMs step = 30 * kDayMs;          // purchases are discounted at the end of each step
  double annual_discount_rate = 0.1;  // d: a purchase at time t is worth (1 + d)^-(t / 365 d)
  double prior_days = 1.0;  // weight of the portfolio mean value, in purchase days (shrinkage)
};

// Credibility-weighted value per purchase day, the Gamma-Gamma idea in its simplest form:
// (prior_days * portfolio_mean + days * account_mean) / (prior_days + days).
[[nodiscard]] double shrunk_day_value(double account_mean, std::int64_t days, double portfolio_mean,
                                      double prior_days);

// CLV = sum over steps k of value * (E[Y(t_k)] - E[Y(t_k-1)]) / (1 + d)^(t_k / 365 days), with
// t_k = min(k * step, horizon) and E[Y] from BG/NBD. `summary` and `params` are in `unit`.
// Errors: "invalid_argument", or those of expected_purchases().
[[nodiscard]] Result<double> clv(const BgNbdParams& params, const CustomerSummary& summary,
                                 TimeMs unit, double day_value, const ClvOptions& options = {});

// ---- The portfolio ----

struct PortfolioOptions {
  RevenueOptions revenue;
  TierOptions tiers;
  SummaryOptions summary;  // order type, amount field and BG/NBD time unit (weeks)
  FitOptions fit;
  ClvOptions clv;
  TimeMs expected_horizon = 90 * kDayMs;  // horizon of AccountFigures::expected_purchases
  TimeMs retention_period = 365 * kDayMs;
  ActivityOptions activity;  // what makes an account active for retention (any event)
  // Polled between accounts and by the fit (FitOptions::cancelled): when it returns true,
  // scoring stops and fails with "cancelled".
  std::function<bool()> cancelled;
};

struct AccountFigures {
  std::string account;
  double revenue = 0;  // trailing, RevenueOptions::window
  std::int64_t rank = 0;
  double revenue_share = 0;
  bool key = false;
  std::optional<OrderSummary> orders;        // none without an order on or before as_of
  std::optional<double> p_alive;             // BG/NBD, when orders and the fit succeeded
  std::optional<double> expected_purchases;  // purchase days in the next expected_horizon
  std::optional<double> clv;
  double day_value = 0;  // shrunk value per purchase day used for CLV
};

// Portfolio-wide numbers, e.g. for dashboards and metrics.
struct PortfolioSummary {
  TimeMs as_of = 0;
  std::size_t accounts = 0;
  std::size_t accounts_with_revenue = 0;  // trailing revenue > 0
  std::size_t key_accounts = 0;
  double total_revenue = 0;
  double key_threshold_revenue = 0;
  double key_revenue_share = 0;
  double top_share = 0;  // revenue share of the top TierOptions::top_fraction of accounts
  double gini = 0;
  std::size_t order_accounts = 0;           // accounts with a BG/NBD summary
  std::size_t incomplete_summaries = 0;     // of those, x is a lower bound (see OrderSummary)
  double mean_day_value = 0;                // portfolio amount per purchase day
  std::optional<BgNbdFit> bgnbd;            // absent when the fit failed:
  std::optional<Error> bgnbd_error;         // ... and this says why
  std::optional<RetentionRates> retention;  // last retention_period vs the one before
};

struct Portfolio {
  PortfolioSummary summary;
  std::vector<AccountFigures> accounts;  // by rank, then account id

  // The account's figures, or nullptr. O(log n).
  [[nodiscard]] const AccountFigures* find(std::string_view account) const;
  [[nodiscard]] AccountFigures* find(std::string_view account);
  // Builds the index find() searches; call after accounts is complete.
  void index_accounts();

  // Positions in accounts, in account id order (4 bytes an account: a map of the ids took ~100
  // bytes, a million accounts' worth while the portfolio was scored).
  std::vector<std::uint32_t> by_account;
};

// Everything the portfolio figures read from one account as of `now`, so that a portfolio is
// scored one state at a time without holding every state (a million decoded states do not fit
// in memory; app/portfolio_refresher.cc streams them).
struct AccountInputs {
  std::string account;
  double revenue = 0;                  // trailing_revenue(options.revenue)
  std::optional<OrderSummary> orders;  // order_summary(options.summary); none before an order
  Activity activity;  // active_in the retention periods: the one before and the last one
};
[[nodiscard]] AccountInputs account_inputs(const model::AccountState& state, TimeMs now,
                                           const PortfolioOptions& options = {});

// Computes every figure as of `now` (the inputs must be as of the same now). Fails only on
// invalid options or duplicate accounts; a BG/NBD fit that fails (e.g. too few repeat
// buyers) leaves p_alive/CLV empty and sets summary.bgnbd_error. Cost: one fit over the
// distinct summaries, so run it periodically (e.g. hourly), not per event.
[[nodiscard]] Result<Portfolio> score_portfolio(std::span<const AccountInputs> accounts, TimeMs now,
                                                const PortfolioOptions& options = {});
// The same, consuming the inputs (their ids and order summaries move into the figures). The
// overload above copies.
[[nodiscard]] Result<Portfolio> score_portfolio(std::vector<AccountInputs>&& accounts, TimeMs now,
                                                const PortfolioOptions& options = {});
// The same, handing each account's figures to `each` in rank order instead of keeping them, and
// returning the summary: what a refresh of a large portfolio calls (it keeps a few of each
// account's figures). Besides the inputs it holds 4 bytes an account and the order summaries
// (24 bytes each, freed before the figures are made); the inputs are consumed when it succeeds.
[[nodiscard]] Result<PortfolioSummary> score_portfolio_each(
    std::vector<AccountInputs>&& accounts, TimeMs now, const PortfolioOptions& options,
    const std::function<void(AccountFigures&&)>& each);
// The same from the states (account_inputs of each; null entries are skipped).
[[nodiscard]] Result<Portfolio> score_portfolio(
    std::span<const model::AccountState* const> accounts, TimeMs now,
    const PortfolioOptions& options = {});

}  // namespace kamwatch::scoring

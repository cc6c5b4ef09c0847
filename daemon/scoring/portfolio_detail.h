#pragma once
// Internal to scoring: the pieces of score_portfolio() that score_portfolio_from_partials()
// shares, so both compute the same figures the same way.
#include <utility>

#include "core/result.h"
#include "core/time.h"
#include "scoring/portfolio.h"

namespace kamwatch::scoring::detail {

// The fit's options with the portfolio's cancellation.
inline FitOptions fit_options(const PortfolioOptions& o) {
  FitOptions f = o.fit;
  if (!f.cancelled) f.cancelled = o.cancelled;
  return f;
}
// Whether scoring was cancelled; polled every 1,024 accounts (i is the account's position).
inline bool cancelled_at(const PortfolioOptions& o, std::size_t i) {
  return i % 1024 == 0 && o.cancelled && o.cancelled();
}
[[nodiscard]] inline Error cancelled_error() {
  return Error{"cancelled", "portfolio scoring was cancelled"};
}

// The option checks of score_portfolio: "invalid_argument".
[[nodiscard]] Result<void> check_options(const PortfolioOptions& options);

// The periods whose activity gives the retention rates as of now: the last retention_period
// ending with now's UTC day (inclusive), and the one before it.
struct RetentionPeriods {
  Period earlier;
  Period later;
};
[[nodiscard]] RetentionPeriods retention_periods(TimeMs now, const PortfolioOptions& options);

// The summary's tiering figures (key accounts, revenue shares, Gini) as of now, with the
// number of accounts and of those with a trailing revenue > 0.
[[nodiscard]] PortfolioSummary tiering_summary(const Tiering& tiers, std::size_t accounts,
                                               std::size_t accounts_with_revenue, TimeMs now);

// day_value, and with a fit p_alive, expected_purchases and clv, of an account with orders.
void order_figures(AccountFigures& figures, const PortfolioSummary& summary,
                   const PortfolioOptions& options);

}  // namespace kamwatch::scoring::detail

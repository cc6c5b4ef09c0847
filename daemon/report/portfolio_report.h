#pragma once
// A Key Account Manager's portfolio page (`kamwatch report portfolio`): one self-contained
// HTML5 document (same look and helpers as the account report) with the KAM's accounts ranked
// by risk and by opportunity, a Pareto view of their revenue, and a table of every account.
// The rows are computed by the caller (scoring::score_portfolio for revenue, key flag, CLV and
// P(alive); the rules' scorecard for score and band; the firing-alert index for alerts).
// Pure: no I/O and no clock. Thread-safety: a pure function; the inputs are read only.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "engine/alert.h"

namespace kamwatch::report {

struct PortfolioAccount {
  std::string id;
  std::string name;  // empty: the id is shown
  std::string kam;
  std::string tier;
  bool key_account = false;       // Pareto key set of the whole portfolio
  std::int64_t revenue_rank = 0;  // in the whole portfolio; 0 = unknown
  double score = NAN;             // health 0..100; NaN: no scorecard or no data
  std::string band = "unknown";   // red, yellow, green, unknown
  double revenue = 0;             // trailing twelve months
  double clv = NAN;
  double p_alive = NAN;
  std::vector<engine::AlertTransition> firing;  // the account's firing alerts
};

struct PortfolioReportOptions {
  std::size_t top = 10;       // rows of the risk and opportunity rankings
  double pareto_share = 0.8;  // reference line and "N accounts make 80% of the revenue"
  std::string currency;       // prefix of amounts, e.g. "EUR " (empty: none)
};

struct PortfolioReportInput {
  std::vector<PortfolioAccount> accounts;  // any order
  std::string kam;                         // whose portfolio; empty: all accounts
  TimeMs now = 0;                          // as of
  PortfolioReportOptions options;
};

// The ids of the page's <section>s, in page order.
inline constexpr std::array<std::string_view, 5> kPortfolioSectionIds = {
    "portfolio", "risk", "opportunity", "pareto", "accounts"};

// Risk ranking: accounts with a firing churn or competitor alert, or a red or yellow band; by
// the most severe such alert (critical, warning, info, other, none), then health score (lowest
// first, unknown last), then revenue (highest first). Opportunity ranking: accounts with a
// firing growth alert or a known CLV; those with a growth alert first (most severe first), then
// CLV, then revenue (highest first). Pareto: accounts by revenue with the cumulative share.
[[nodiscard]] std::string render_portfolio_report(const PortfolioReportInput& in);

}  // namespace kamwatch::report

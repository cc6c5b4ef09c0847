#pragma once
// The Strategic Business Review page of one account: one self-contained HTML5 document (UTF-8,
// inline CSS, charts as inline SVG, no scripts and no external assets) with the account's
// health score and its history, what moved it, revenue by category and competitor share,
// usage and seats, support load, NPS/CSAT, relationship, firing alerts, CLV/P(alive) and the
// suggested next steps. `kamwatch report account ID` and GET /api/v1/accounts/{id}/report
// serve it. Pure: no I/O and no clock (the page is as of `now`).
// Thread-safety: a pure function; the inputs are read only.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "engine/alert.h"
#include "model/account_state.h"
#include "rules/rules.h"

namespace kamwatch::report {

struct ReportOptions {
  int trend_weeks = 26;    // health score history: one point a week, the last one `now`
  int compare_weeks = 4;   // "what moved it": change of each measure's points since then
  int weeks = 26;          // usage, seats and support charts
  int months = 12;         // revenue, CSAT and meetings
  int quarters = 8;        // NPS
  int max_categories = 6;  // revenue chart: smaller categories are summed as "other"
  // The scorecard's band thresholds, for the trend chart's backgrounds (rules::RuleSet does not
  // expose them; these are the shipped rules/derived.yaml's). Points are coloured by the band
  // the scorecard itself reported.
  double red_below = 50;
  double yellow_below = 70;
};

// Build with the constructor, then set what is known:
//   AccountReportInput in(state, rules.get(), now);
//   in.attributes = ...; in.firing = ...; in.retention = ...;
struct AccountReportInput {
  AccountReportInput(const model::AccountState& a, const rules::RuleSet* r, TimeMs t)
      : account(a), rules(r), now(t) {}

  const model::AccountState& account;
  const rules::RuleSet* rules;                  // null: no scorecard (the page says so)
  rules::AccountAttributes attributes;          // portfolio figures; NaN / 0 when unknown
  std::vector<engine::AlertTransition> firing;  // the account's active alerts
  TimeMs now;                                   // evaluation time: "as of"
  model::Retention retention;                   // what the state was built with
  ReportOptions options;
};

// The ids of the page's <section>s, in page order.
inline constexpr std::array<std::string_view, 13> kSectionIds = {
    "account", "health",    "health-trend", "health-drivers", "revenue", "usage",     "seats",
    "support", "sentiment", "relationship", "alerts",         "value",   "next-steps"};

// The page. Every text from the account, the rules or the alerts is HTML-escaped; a section
// without data says "No data" and why. Cost: trend_weeks + compare evaluations of the
// scorecard (each with its trend), plus one pass over the buckets shown.
[[nodiscard]] std::string render_account_report(const AccountReportInput& in);

}  // namespace kamwatch::report

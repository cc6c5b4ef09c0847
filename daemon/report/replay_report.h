#pragma once
// The replay (backtest) page of `kamwatch replay --report FILE.html`: one self-contained HTML5
// document (same look and helpers as the account report) with the alert transitions of a
// replay over time, per rule and per account, and - when the replay was scored against ground
// truth (`--truth`) - recall, precision and median lead time per signal and per scenario.
// The scores are computed by the caller (app::score_backtest); the page only formats them, with
// the same number formats as the command-line table (format_ratio, format_lead_days).
// Pure: no I/O and no clock. Thread-safety: a pure function; the inputs are read only.
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "engine/alert.h"

namespace kamwatch::report {

// One row of a backtest: how well the alerts of a signal found the accounts that truly had
// the scenario. Scenario rows (BacktestScores::scenarios) have recall and lead time only.
struct ScoreRow {
  std::string label;                  // "risk (churn or competitor)", "churn", or a scenario
  std::string signal;                 // the signal the row scores ("churn|competitor" for risk)
  std::size_t scenario_accounts = 0;  // accounts with the scenario in the ground truth
  std::size_t detected = 0;           // of those, alerted within [onset, outcome]
  std::size_t alerted = 0;            // accounts with any firing alert of the signal
  std::size_t correct = 0;            // of those, detected
  double recall = NAN;                // detected / scenario_accounts (NaN: no such account)
  double precision = NAN;             // correct / alerted (NaN: nothing alerted, or n/a)
  double median_lead_days = NAN;      // outcome - first in-window alert, over detected accounts
  std::size_t lead_samples = 0;       // detected accounts with an outcome after the alert
};

// An account's injected scenario in the ground truth (kamwatch simulate --truth).
struct ScenarioWindow {
  std::string account;
  std::string scenario;  // churn_silent, competitor_..., growth_...
  std::string signal;    // churn, competitor, growth
  TimeMs onset = 0;
  TimeMs outcome = 0;  // 0: no outcome (yet)
};

// Everything scored against one ground-truth file.
struct BacktestScores {
  std::vector<ScoreRow> signals;      // risk (churn or competitor), churn, competitor, growth
  std::vector<ScoreRow> scenarios;    // per scenario name, by name: recall and lead time
  std::size_t truth_accounts = 0;     // records in the truth file (healthy accounts too)
  std::vector<ScenarioWindow> truth;  // the accounts with a scenario, by account id
};

// The numbers as the command-line table and the page both print them: a ratio with three
// decimals ("0.917"), a lead time in whole days ("42"); "n/a" when NaN.
[[nodiscard]] std::string format_ratio(double v);
[[nodiscard]] std::string format_lead_days(double v);

struct ReplayReportOptions {
  std::size_t max_accounts = 500;  // per-account timelines shown (by account id); rest counted
};

struct ReplayReportInput {
  std::span<const engine::AlertTransition> transitions;  // every transition, in replay order
  TimeMs from = 0;  // event time of the first and the last event replayed
  TimeMs to = 0;
  std::optional<BacktestScores> scores;              // set when replayed with --truth
  std::map<std::string, std::string> account_names;  // id -> name, where known
  std::string rules;   // what was replayed, e.g. "rules/ (hash 1a2b...)"; shown as given
  std::string events;  // the events' source, e.g. the file name
  std::size_t events_applied = 0;
  ReplayReportOptions options;
};

// The ids of the page's <section>s, in page order.
inline constexpr std::array<std::string_view, 5> kReplaySectionIds = {
    "replay", "rules", "alerts-over-time", "scores", "timelines"};

// The page: the replay's facts; firings, resolutions, accounts and median firing duration per
// rule; weekly firings per rule, a stacked bar chart per signal; the backtest scores (or why
// there are none); a timeline of firing intervals per rule for each alerted account, over its
// scenario window when the truth has one. Every text is HTML-escaped.
[[nodiscard]] std::string render_replay_report(const ReplayReportInput& in);

}  // namespace kamwatch::report

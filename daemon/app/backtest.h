#pragma once
// Measures replayed alerts against ground truth (kamwatch simulate --truth): per signal,
// recall (scenario accounts alerted within [onset, outcome]), precision (alerted accounts that
// truly had the scenario, alerted in its window) and the median lead time before the outcome;
// per scenario, recall and lead time. One computation (score_backtest) from which both the
// printed table (format_backtest_table) and the replay report's table are formatted.
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/alert.h"
#include "model/account_state.h"
#include "report/replay_report.h"

namespace kamwatch::app {

// Rows per signal and per scenario, and the truth's scenario windows (report::BacktestScores).
using BacktestScores = report::BacktestScores;

// Scores replay transitions against a ground-truth file from `kamwatch simulate` (JSON Lines:
// account, scenario, signal, onset, outcome_time). Signal rows, in order: "risk (churn or
// competitor)", "churn", "competitor", "growth". Errors: "truth_unreadable", "truth_invalid"
// (file:line: why).
[[nodiscard]] Result<BacktestScores> score_backtest(
    const std::string& truth_path, const std::vector<engine::AlertTransition>& transitions);

// The scores as the Markdown tables `kamwatch replay --truth` prints: one row per signal
// (| signal | accounts with scenario | detected | recall | alerted accounts | precision | median
// lead time (days) |), then one per scenario. Numbers via report::format_ratio and
// report::format_lead_days, as on the replay report.
[[nodiscard]] std::string format_backtest_table(const BacktestScores& scores);

// score_backtest, then format_backtest_table.
[[nodiscard]] Result<std::string> score_against_truth(
    const std::string& truth_path, const std::vector<engine::AlertTransition>& transitions,
    const std::map<std::string, model::AccountState>& accounts);

// The portfolio figures at `now` (key accounts by Pareto, concentration, retention and churn,
// BG/NBD parameters, the top accounts by CLV), as a printable table.
[[nodiscard]] std::string portfolio_summary(
    const std::map<std::string, model::AccountState>& accounts, TimeMs now);

}  // namespace kamwatch::app

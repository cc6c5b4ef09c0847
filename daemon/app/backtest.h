#pragma once
// Measures replayed alerts against ground truth (kamwatch simulate --truth): per signal,
// recall (scenario accounts alerted within [onset, outcome]), precision (alerted accounts that
// truly had the scenario, alerted in its window) and the median lead time before the outcome.
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/alert.h"
#include "model/account_state.h"

namespace kamwatch::app {

// Scores replay transitions against a ground-truth file from `kamwatch simulate`: recall,
// precision and lead time per signal, as a printable table.
[[nodiscard]] Result<std::string> score_against_truth(
    const std::string& truth_path, const std::vector<engine::AlertTransition>& transitions,
    const std::map<std::string, model::AccountState>& accounts);

// The portfolio figures at `now` (key accounts by Pareto, concentration, retention and churn,
// BG/NBD parameters, the top accounts by CLV), as a printable table.
[[nodiscard]] std::string portfolio_summary(
    const std::map<std::string, model::AccountState>& accounts, TimeMs now);

}  // namespace kamwatch::app

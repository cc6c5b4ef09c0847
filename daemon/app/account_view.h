#pragma once
// What the API, the metrics and the portfolio views show of an account: a summary (name, KAM,
// tier, health band and score) and the full account view (profile, event counts per type,
// health score with its contributions, portfolio figures, active alerts).
// Thread-safety: pure functions over values.
#include <cmath>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "engine/alert.h"
#include "model/account_state.h"
#include "rules/rules.h"

namespace kamwatch::app {

struct AccountSummary {
  std::string id;
  std::string name;
  std::string kam;
  std::string tier;  // the profile's tier, else "key" or "standard" from the Pareto key set
  bool key_account = false;
  double score = NAN;  // health 0..100 (NaN: no scorecard or no data)
  std::string band = "unknown";
  TimeMs last_event = 0;
  std::int64_t events = 0;
};

// health: the precomputed score, or null to compute it here (when rules has a scorecard).
[[nodiscard]] AccountSummary summarize(const model::AccountState& account,
                                       const rules::RuleSet* rules,
                                       const rules::AccountAttributes& attributes, TimeMs now,
                                       const model::Retention& retention,
                                       const rules::HealthScore* health);

// The JSON object of GET /api/v1/accounts/{id} (docs/api.md).
[[nodiscard]] std::string account_view_json(const model::AccountState& account,
                                            const rules::RuleSet* rules,
                                            const rules::AccountAttributes& attributes, TimeMs now,
                                            const model::Retention& retention,
                                            const std::vector<engine::AlertTransition>& alerts);

}  // namespace kamwatch::app

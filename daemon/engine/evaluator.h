#pragma once
// Runs a rule set over one account: evaluates the rules, advances each rule's alert state in
// the account, and reports the transitions. Used by the live pipeline, replay and rule tests,
// so all three share one semantics. Pure.
// Thread-safety: one thread per account at a time.
#include <string_view>
#include <vector>

#include "engine/alert.h"
#include "rules/rules.h"

namespace kamwatch::engine {

// Evaluates the rules reading any of changed_types (all rules, plus the resolution of states
// left by rules that no longer exist, when changed_types is null) at `now`, and appends the
// resulting transitions to out. Returns the number of rule evaluations.
std::size_t evaluate_account(const rules::RuleSet& rule_set, model::AccountState& account,
                             const rules::AccountAttributes& attributes, TimeMs now,
                             const model::Retention& retention,
                             const std::vector<std::string_view>* changed_types,
                             std::vector<AlertTransition>& out);

}  // namespace kamwatch::engine

#include "engine/evaluator.h"

#include <algorithm>
#include <set>

namespace kamwatch::engine {
namespace {

std::string profile_text(const model::AccountState& a, const char* field) {
  auto it = a.profile.find(field);
  if (it == a.profile.end()) return {};
  return model::field_value_text(it->second);
}

AlertTransition make_transition(AlertTransition::Status status, const std::string& rule,
                                const model::AccountState& account, const rules::RuleResult& result,
                                const model::AlertState& before, TimeMs now) {
  AlertTransition t;
  t.status = status;
  t.alert = rule;
  t.account = account.id;
  t.group = result.group;
  t.at = now;
  t.starts_at = status == AlertTransition::Status::kFiring ? now : before.fired_at;
  t.value = result.value;
  t.labels = result.labels;
  t.labels["alertname"] = rule;
  t.labels["account"] = account.id;
  if (auto v = profile_text(account, "name"); !v.empty()) t.labels["account_name"] = v;
  if (auto v = profile_text(account, "kam"); !v.empty()) t.labels["kam"] = v;
  if (auto v = profile_text(account, "tier"); !v.empty()) t.labels["tier"] = v;
  if (status == AlertTransition::Status::kResolved && !before.labels.empty())
    t.labels = before.labels;  // exactly the set that was sent when it fired
  t.annotations = result.annotations;
  t.evidence = result.evidence;
  t.fingerprint = fingerprint(rule, account.id, result.group);
  return t;
}

void advance(const rules::CompiledRule& rule, model::AccountState& account,
             const rules::RuleResult& result, TimeMs now, std::vector<AlertTransition>& out) {
  const std::string key = alert_key(rule.name(), result.group);
  auto it = account.alerts.find(key);
  if (it == account.alerts.end()) {
    if (result.status != rules::RuleResult::Status::kTrue) return;  // nothing to track
    it = account.alerts.emplace(key, model::AlertState{}).first;
  }
  const model::AlertState before = it->second;
  if (auto s = step(it->second, result, rule.hold(), rule.keep_firing_for(), now)) {
    out.push_back(make_transition(*s, rule.name(), account, result, before, now));
    if (*s == AlertTransition::Status::kFiring) it->second.labels = out.back().labels;
  }
  if (it->second.phase == model::AlertState::Phase::kInactive) account.alerts.erase(it);
}

}  // namespace

std::size_t evaluate_account(const rules::RuleSet& rule_set, model::AccountState& account,
                             const rules::AccountAttributes& attributes, TimeMs now,
                             const model::Retention& retention,
                             const std::vector<std::string_view>* changed_types,
                             std::vector<AlertTransition>& out) {
  std::vector<const rules::CompiledRule*> to_run;
  if (changed_types) {
    for (std::string_view type : *changed_types)
      for (const rules::CompiledRule* r : rule_set.rules_for_type(type))
        if (std::find(to_run.begin(), to_run.end(), r) == to_run.end()) to_run.push_back(r);
  } else {
    for (const auto& r : rule_set.alerts()) to_run.push_back(r.get());
  }
  const rules::EvalInput in{account, attributes, now, retention};
  std::set<std::string> seen_keys;
  for (const rules::CompiledRule* rule : to_run) {
    const std::vector<rules::RuleResult> results = rule->evaluate(in);
    for (const rules::RuleResult& r : results) {
      seen_keys.insert(alert_key(rule->name(), r.group));
      advance(*rule, account, r, now, out);
    }
    // Groups this rule tracked that no longer appear: their condition no longer holds.
    const std::string prefix = alert_key(rule->name(), "");
    std::vector<std::string> gone;
    for (auto it = account.alerts.lower_bound(prefix);
         it != account.alerts.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      if (!seen_keys.count(it->first)) gone.push_back(it->first);
    for (const std::string& key : gone) {
      rules::RuleResult cleared;
      cleared.group = key.substr(prefix.size());
      cleared.status = rules::RuleResult::Status::kFalse;
      cleared.resolve = true;
      advance(*rule, account, cleared, now, out);
    }
  }
  if (!changed_types) {
    // States of rules that were removed or renamed: resolve them, never leave them firing.
    std::vector<std::string> orphans;
    for (const auto& [key, state] : account.alerts) {
      const std::string rule = key.substr(0, key.find('\x1f'));
      const bool exists = std::any_of(rule_set.alerts().begin(), rule_set.alerts().end(),
                                      [&](const auto& r) { return r->name() == rule; });
      if (!exists) orphans.push_back(key);
    }
    for (const std::string& key : orphans) {
      const model::AlertState before = account.alerts[key];
      const auto sep = key.find('\x1f');
      if (before.phase == model::AlertState::Phase::kFiring) {
        rules::RuleResult cleared;
        cleared.group = key.substr(sep + 1);
        AlertTransition t = make_transition(AlertTransition::Status::kResolved, key.substr(0, sep),
                                            account, cleared, before, now);
        t.annotations["summary"] = "rule " + key.substr(0, sep) + " was removed";
        out.push_back(std::move(t));
      }
      account.alerts.erase(key);
    }
  }
  return to_run.size();
}

}  // namespace kamwatch::engine

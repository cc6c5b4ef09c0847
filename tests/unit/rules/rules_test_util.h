#pragma once
// Helpers for rule tests: load YAML from raw strings, build account state from hand-made
// events with model::apply (maintaining the derived series the rules ask for), evaluate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "model/account_state.h"
#include "rules/rules.h"

namespace kamwatch::rules::testing {

// 2025-01-01T00:00:00Z: day 0 of every test account.
inline TimeMs t0() { return *parse_rfc3339("2025-01-01T00:00:00Z"); }
inline TimeMs day(double n) { return t0() + static_cast<TimeMs>(n * static_cast<double>(kDayMs)); }

inline model::FieldValue num(double v) { return model::FieldValue::of_number(v); }
inline model::FieldValue str(std::string v) { return model::FieldValue::of_string(std::move(v)); }
inline model::FieldValue boolean(bool v) { return model::FieldValue::of_bool(v); }

inline model::Event event(std::string type, TimeMs time, std::vector<model::Field> data) {
  static int next_id = 0;
  model::Event e;
  e.id = "e" + std::to_string(++next_id);
  e.source = "test";
  e.type = std::move(type);
  e.subject = "acme";
  e.time = time;
  e.data = std::move(data);
  return e;
}

// Loads one file; fails the test (with every message) when it does not load.
inline std::shared_ptr<const RuleSet> load_ok(const std::string& yaml,
                                              const std::string& name = "rules.yaml") {
  LoadResult r = load_rules_from_strings({{name, yaml}});
  std::string all;
  for (const Diagnostic& d : r.errors) all += d.to_string() + "\n";
  EXPECT_TRUE(r.errors.empty()) << all;
  EXPECT_NE(r.rules, nullptr);
  return r.rules;
}

// The error messages of a load that must fail, as "file:line:col: message".
inline std::vector<std::string> load_errors(
    const std::vector<std::pair<std::string, std::string>>& files) {
  LoadResult r = load_rules_from_strings(files);
  EXPECT_EQ(r.rules, nullptr);
  std::vector<std::string> out;
  for (const Diagnostic& d : r.errors) out.push_back(d.to_string());
  return out;
}
inline std::vector<std::string> load_errors(const std::string& yaml) {
  return load_errors({{"r.yaml", yaml}});
}

// An account built from events, with the rule set's derived series.
class Account {
 public:
  explicit Account(const RuleSet& rules) : rules_(rules) {}
  Account& add(const model::Event& e) {
    model::apply(state_, e, model::Retention{}, &rules_.series_specs());
    return *this;
  }
  // One event per day from `from` to `to` (inclusive) at noon, with the given data.
  Account& daily(const std::string& type, int from, int to,
                 const std::function<std::vector<model::Field>(int)>& data) {
    for (int d = from; d <= to; ++d) add(event(type, day(d + 0.5), data(d)));
    return *this;
  }
  [[nodiscard]] const model::AccountState& state() const { return state_; }

  std::vector<RuleResult> eval(const std::string& rule, TimeMs now,
                               const AccountAttributes& attrs = {}) const {
    for (const auto& r : rules_.alerts())
      if (r->name() == rule) return r->evaluate(EvalInput{state_, attrs, now});
    ADD_FAILURE() << "no rule " << rule;
    return {};
  }
  RuleResult eval_one(const std::string& rule, TimeMs now,
                      const AccountAttributes& attrs = {}) const {
    auto r = eval(rule, now, attrs);
    EXPECT_EQ(r.size(), 1u) << rule;
    return r.empty() ? RuleResult{} : r.front();
  }
  HealthScore health(TimeMs now, const AccountAttributes& attrs = {}) const {
    return rules_.health(EvalInput{state_, attrs, now});
  }

 private:
  const RuleSet& rules_;
  model::AccountState state_;
};

}  // namespace kamwatch::rules::testing

#pragma once
// The compiled, immutable objects behind the public interfaces of rules.h: alert rules, the
// health scorecard, templates and the rule set. The loader (loader.cc) builds them.
// Thread-safety: immutable after load; evaluation is const and may run on any thread.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rules/evaluator.h"
#include "rules/program.h"
#include "rules/rules.h"

namespace kamwatch::rules::detail {

// "Active users at {{ account.name }} ...": literal text and compiled placeholders.
struct Template {
  struct Part {
    std::string text;        // literal text (when node < 0)
    std::int32_t node = -1;  // placeholder expression
  };
  std::vector<Part> parts;
  [[nodiscard]] std::string render(const Program& program, const Scope& scope) const;
};

class Scorecard {
 public:
  struct Measure {
    std::string name;
    double weight = 0;
    std::int32_t root = -1;
    std::vector<std::pair<double, double>> map;  // value -> score points, by ascending value
    std::optional<double> missing;               // score when the value is NaN
    bool duration = false;  // the value is a duration (map in ms; reported in seconds)
    [[nodiscard]] double score(double value) const;
  };

  Program program;
  std::vector<Measure> measures;
  double red = 50;
  double yellow = 75;
  TimeMs trend_window = 8 * 7 * kDayMs;
  TimeMs trend_step = 7 * kDayMs;
  std::vector<std::string> reads_types;

  [[nodiscard]] HealthScore compute(const EvalInput& in, bool with_trend) const;
  // Total score at `now` (NaN when no measure has a score); fills contributions when given.
  [[nodiscard]] double score_at(const EvalInput& in, TimeMs now,
                                std::vector<Contribution>* contributions) const;
  [[nodiscard]] std::string band(double score) const;
};

class AlertRule final : public CompiledRule {
 public:
  std::string name_;
  SourcePos pos_;
  TimeMs hold_ = 0;
  TimeMs keep_firing_for_ = 0;
  TimeMs min_history_ = 0;
  std::string signal_;
  std::string by_;
  std::vector<std::string> reads_types_;
  std::vector<std::string> grouped_keys_;  // derived series whose groups are the result groups
  Program program_;
  std::int32_t condition_ = -1;
  std::int32_t resolve_ = -1;  // -1: resolve = !condition
  std::int32_t value_ = -1;    // the condition's main value; -1: the condition as 1/0
  // Severity: a fixed word, an expression yielding a string, or a template.
  std::string severity_text_ = "warning";
  std::int32_t severity_node_ = -1;
  std::optional<Template> severity_template_;
  std::map<std::string, std::string> labels_;
  std::vector<std::pair<std::string, std::int32_t>> evidence_;
  std::vector<std::pair<std::string, Template>> annotations_;
  const Scorecard* scorecard_ = nullptr;  // for account.health; owned by the rule set

  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] const SourcePos& pos() const override { return pos_; }
  [[nodiscard]] TimeMs hold() const override { return hold_; }
  [[nodiscard]] TimeMs keep_firing_for() const override { return keep_firing_for_; }
  [[nodiscard]] TimeMs min_history() const override { return min_history_; }
  [[nodiscard]] const std::string& signal() const override { return signal_; }
  [[nodiscard]] const std::string& group_by() const override { return by_; }
  [[nodiscard]] const std::vector<std::string>& reads_types() const override {
    return reads_types_;
  }
  [[nodiscard]] std::vector<RuleResult> evaluate(const EvalInput& in) const override;

 private:
  RuleResult evaluate_group(const EvalInput& in, const std::string* group,
                            const HealthSource& health) const;
};

class RuleSetImpl final : public RuleSet {
 public:
  std::vector<std::unique_ptr<CompiledRule>> alerts_;
  std::map<std::string, std::vector<const CompiledRule*>, std::less<>> by_type_;
  model::SeriesSpecs specs_;
  std::optional<Scorecard> scorecard_;
  std::string hash_;
  std::vector<std::string> files_;

  [[nodiscard]] const std::vector<std::unique_ptr<CompiledRule>>& alerts() const override {
    return alerts_;
  }
  [[nodiscard]] const std::vector<const CompiledRule*>& rules_for_type(
      std::string_view type) const override;
  [[nodiscard]] const model::SeriesSpecs& series_specs() const override { return specs_; }
  [[nodiscard]] HealthScore health(const EvalInput& in) const override;
  [[nodiscard]] bool has_scorecard() const override { return scorecard_.has_value(); }
  [[nodiscard]] const std::string& hash() const override { return hash_; }
  [[nodiscard]] const std::vector<std::string>& files() const override { return files_; }
};

}  // namespace kamwatch::rules::detail

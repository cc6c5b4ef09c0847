#pragma once
// Public API of the rules engine: load rule files (staged: read -> collect -> compile), and
// evaluate compiled, immutable rule sets against one account's state. Pure: no I/O during
// evaluation, no Kafka/RocksDB/Asio/Prometheus headers. The language is in docs/rules.md.
// Thread-safety: a RuleSet is immutable; share it as std::shared_ptr<const RuleSet> and swap
// the pointer atomically on reload. Evaluation is const and may run on any thread.
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "model/account_state.h"
#include "model/series_spec.h"

namespace kamwatch::rules {

struct SourcePos {
  std::string file;
  int line = 0;  // 1-based
  int col = 0;   // 1-based
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  // "file:line:col: message"
  [[nodiscard]] std::string to_string() const;
};

// Figures about an account that come from outside its own event history (portfolio-wide
// scoring). NaN / 0 when unknown.
struct AccountAttributes {
  bool key_account = false;
  int revenue_rank = 0;  // 1 = largest trailing-12-month revenue; 0 = unknown
  double clv = NAN;
  double p_alive = NAN;
  double expected_purchases = NAN;  // BG/NBD, next 90 days
};

struct HealthScore;

struct EvalInput {
  const model::AccountState& account;
  const AccountAttributes& attributes;
  TimeMs now;
  // Bucket retention the state was built with: decides whether a window can use hourly buckets.
  model::Retention retention{};
  // The account's health score when the caller already has it (account.health in rules);
  // null: computed on demand, at most once per evaluate() call.
  const HealthScore* health = nullptr;
};

// The health scorecard's verdict for one account.
struct Contribution {
  std::string measure;
  double value = NAN;  // the measure's raw value (NaN = no data)
  double score = NAN;  // 0..100 after mapping
  double weight = 0;   // normalised: weights sum to 1
  double points = 0;   // weight * score: what it adds to the total
};
struct HealthScore {
  double score = NAN;  // 0..100; NaN when no measure had data
  std::string band;    // "red", "yellow", "green", or "unknown"
  double trend = NAN;  // score change per week (slope over the configured trend window)
  std::vector<Contribution> contributions;
};

// One alert rule's verdict for one account and group.
struct RuleResult {
  std::string group;  // value of the rule's `by` field; "" for ungrouped rules
  enum class Status { kFalse, kTrue, kInsufficientHistory } status = Status::kFalse;
  bool resolve = true;  // the resolve condition (or !condition when the rule has none)
  double value = NAN;   // the condition's main value (left operand of its top comparison)
  std::map<std::string, std::string> labels;             // rule labels + severity + group label
  std::map<std::string, std::string> annotations;        // summary, description, playbook, ...
  std::vector<std::pair<std::string, double>> evidence;  // named values behind the verdict
};

class CompiledRule {
 public:
  virtual ~CompiledRule() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual const SourcePos& pos() const = 0;
  [[nodiscard]] virtual TimeMs hold() const = 0;                  // `for`
  [[nodiscard]] virtual TimeMs keep_firing_for() const = 0;       // 0 = none
  [[nodiscard]] virtual const std::string& signal() const = 0;    // churn, competitor, growth
  [[nodiscard]] virtual TimeMs min_history() const = 0;           // 0 = none
  [[nodiscard]] virtual const std::string& group_by() const = 0;  // `by` field; "" = ungrouped
  // Event types whose events can change this rule's verdict.
  [[nodiscard]] virtual const std::vector<std::string>& reads_types() const = 0;
  // One result per group present in the account's state (one result when ungrouped).
  [[nodiscard]] virtual std::vector<RuleResult> evaluate(const EvalInput& in) const = 0;
};

class RuleSet {
 public:
  virtual ~RuleSet() = default;
  [[nodiscard]] virtual const std::vector<std::unique_ptr<CompiledRule>>& alerts() const = 0;
  // Rules whose reads_types() contains type; evaluation per event runs only these.
  [[nodiscard]] virtual const std::vector<const CompiledRule*>& rules_for_type(
      std::string_view type) const = 0;
  // The derived series the rules read; model::apply must maintain them.
  [[nodiscard]] virtual const model::SeriesSpecs& series_specs() const = 0;
  // The health score (NaN score, band "unknown" when the rule set has no scorecard).
  [[nodiscard]] virtual HealthScore health(const EvalInput& in) const = 0;
  [[nodiscard]] virtual bool has_scorecard() const = 0;
  // Content hash of the loaded files (hex), and the files, for /api/v1/rules and metrics.
  [[nodiscard]] virtual const std::string& hash() const = 0;
  [[nodiscard]] virtual const std::vector<std::string>& files() const = 0;
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  // null when errors is not empty
  std::vector<Diagnostic> errors;        // every problem found, in file order
  std::vector<Diagnostic> warnings;      // suspicious but valid (e.g. a window past retention)
};

// Loads every *.yaml / *.yml file under the given files and directories (directories are read
// non-recursively, in name order; rule test files *_test.yaml are skipped).
[[nodiscard]] LoadResult load_rules(const std::vector<std::string>& paths);
// The same from in-memory files (name, text): tests and embedded packs.
[[nodiscard]] LoadResult load_rules_from_strings(
    const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace kamwatch::rules

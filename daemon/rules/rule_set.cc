#include "rules/rule_set.h"

#include <algorithm>
#include <cmath>

namespace kamwatch::rules::detail {
namespace {

// Results carry durations in seconds (base units), numbers as they are.
double result_number(const Value& v) {
  const double x = to_number(v);
  return v.type == Type::kDuration ? x / static_cast<double>(kSecondMs) : x;
}

// Computes the health score at most once per evaluation, and only when a rule reads it.
class LazyHealth final : public HealthSource {
 public:
  LazyHealth(const Scorecard* scorecard, const EvalInput& in) : scorecard_(scorecard), in_(in) {}
  const HealthScore& health(bool with_trend) const override {
    if (in_.health) return *in_.health;
    if (!computed_ || (with_trend && !with_trend_)) {
      if (scorecard_) {
        value_ = scorecard_->compute(in_, with_trend);
      } else {
        value_ = HealthScore{NAN, "unknown", NAN, {}};
      }
      computed_ = true;
      with_trend_ = with_trend;
    }
    return value_;
  }

 private:
  const Scorecard* scorecard_;
  const EvalInput& in_;
  mutable HealthScore value_;
  mutable bool computed_ = false;
  mutable bool with_trend_ = false;
};

const std::vector<const CompiledRule*> kNoRules;

}  // namespace

std::string Template::render(const Program& program, const Scope& scope) const {
  std::string out;
  for (const Part& p : parts) {
    if (p.node < 0) {
      out += p.text;
    } else {
      append_text(out, evaluate(program, p.node, scope));
    }
  }
  return out;
}

double Scorecard::Measure::score(double value) const {
  if (std::isnan(value)) return missing ? *missing : NAN;
  if (map.empty()) return std::clamp(value, 0.0, 100.0);
  if (value <= map.front().first) return map.front().second;
  if (value >= map.back().first) return map.back().second;
  for (std::size_t i = 1; i < map.size(); ++i) {
    const auto& [x1, y1] = map[i];
    if (value <= x1) {
      const auto& [x0, y0] = map[i - 1];
      return y0 + (y1 - y0) * (value - x0) / (x1 - x0);
    }
  }
  return map.back().second;
}

std::string Scorecard::band(double score) const {
  if (std::isnan(score)) return "unknown";
  if (score < red) return "red";
  if (score < yellow) return "yellow";
  return "green";
}

double Scorecard::score_at(const EvalInput& in, TimeMs now,
                           std::vector<Contribution>* contributions) const {
  const Scope scope{in.account, in.attributes, now, in.retention, nullptr, nullptr, nullptr};
  double weighted = 0;
  double weights = 0;
  if (contributions) contributions->reserve(measures.size());
  for (const Measure& m : measures) {
    const double value = to_number(evaluate(program, m.root, scope));
    const double s = m.score(value);
    if (!std::isnan(s)) {
      weighted += m.weight * s;
      weights += m.weight;
    }
    if (contributions) {
      const double shown = m.duration ? value / static_cast<double>(kSecondMs) : value;
      contributions->push_back({m.name, shown, s, m.weight, 0});
    }
  }
  if (weights <= 0) {
    if (contributions)
      for (Contribution& c : *contributions) c.weight = 0;
    return NAN;
  }
  if (contributions) {
    for (Contribution& c : *contributions) {
      if (std::isnan(c.score)) {
        c.weight = 0;
        c.points = 0;
      } else {
        c.weight /= weights;
        c.points = c.weight * c.score;
      }
    }
  }
  return weighted / weights;
}

HealthScore Scorecard::compute(const EvalInput& in, bool with_trend) const {
  HealthScore h;
  h.score = score_at(in, in.now, &h.contributions);
  h.band = band(h.score);
  if (!with_trend || trend_step <= 0) return h;
  // Least-squares slope of the score over the trend window (x in steps, oldest first).
  const TimeMs k = trend_window / trend_step;
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (TimeMs i = 0; i <= k; ++i) {
    const double s = i == 0 ? h.score : score_at(in, in.now - i * trend_step, nullptr);
    if (std::isnan(s)) continue;
    const auto x = static_cast<double>(k - i);
    n += 1;
    sx += x;
    sy += s;
    sxx += x * x;
    sxy += x * s;
  }
  const double den = n * sxx - sx * sx;
  if (n >= 2 && den != 0) {
    const double per_step = (n * sxy - sx * sy) / den;
    h.trend = per_step * static_cast<double>(7 * kDayMs) / static_cast<double>(trend_step);
  }
  return h;
}

std::vector<RuleResult> AlertRule::evaluate(const EvalInput& in) const {
  std::vector<RuleResult> out;
  const LazyHealth health(scorecard_, in);
  if (by_.empty()) {
    out.push_back(evaluate_group(in, nullptr, health));
    return out;
  }
  // The result groups: every group present in the state of the grouped series read.
  std::vector<const std::string*> groups;
  for (const std::string& key : grouped_keys_) {
    auto it = in.account.derived.find(key);
    if (it == in.account.derived.end()) continue;
    for (const auto& [g, stats] : it->second.groups) groups.push_back(&g);
  }
  std::sort(groups.begin(), groups.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  groups.erase(std::unique(groups.begin(), groups.end(),
                           [](const std::string* a, const std::string* b) { return *a == *b; }),
               groups.end());
  out.reserve(groups.size());
  for (const std::string* g : groups) out.push_back(evaluate_group(in, g, health));
  return out;
}

RuleResult AlertRule::evaluate_group(const EvalInput& in, const std::string* group,
                                     const HealthSource& health) const {
  RuleResult r;
  if (group) r.group = *group;
  Scope scope{in.account, in.attributes, in.now, in.retention, group, nullptr, &health};
  r.labels = labels_;
  if (!by_.empty()) r.labels[by_] = r.group;
  if (severity_node_ >= 0) {
    r.labels["severity"] = std::string(detail::evaluate(program_, severity_node_, scope).str());
  } else if (severity_template_) {
    r.labels["severity"] = severity_template_->render(program_, scope);
  } else {
    r.labels["severity"] = severity_text_;
  }
  if (min_history_ > 0 && account_age(in.account, in.now) < min_history_) {
    r.status = RuleResult::Status::kInsufficientHistory;
    r.resolve = true;
    return r;
  }
  const bool condition = detail::evaluate(program_, condition_, scope).boolean;
  r.status = condition ? RuleResult::Status::kTrue : RuleResult::Status::kFalse;
  r.resolve = resolve_ >= 0 ? detail::evaluate(program_, resolve_, scope).boolean : !condition;
  Value main =
      value_ >= 0 ? detail::evaluate(program_, value_, scope) : Value::of_number(condition ? 1 : 0);
  r.value = result_number(main);
  if (!condition) return r;
  // Evidence and annotations only for a true verdict: that is when an alert is raised.
  std::vector<Value> slots;
  slots.reserve(1 + evidence_.size());
  slots.push_back(std::move(main));
  r.evidence.reserve(evidence_.size());
  for (const auto& [name, node] : evidence_) {
    slots.push_back(detail::evaluate(program_, node, scope));
    r.evidence.emplace_back(name, result_number(slots.back()));
  }
  scope.slots = slots.data();
  for (const auto& [key, tmpl] : annotations_) r.annotations[key] = tmpl.render(program_, scope);
  if (!evidence_.empty()) {
    std::string text;
    for (std::size_t i = 0; i < evidence_.size(); ++i) {
      if (i) text += ", ";
      text += evidence_[i].first;
      text += ": ";
      append_text(text, slots[i + 1]);
    }
    r.annotations["evidence"] = std::move(text);
  }
  return r;
}

const std::vector<const CompiledRule*>& RuleSetImpl::rules_for_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? kNoRules : it->second;
}

HealthScore RuleSetImpl::health(const EvalInput& in) const {
  if (!scorecard_) return HealthScore{NAN, "unknown", NAN, {}};
  return scorecard_->compute(in, true);
}

}  // namespace kamwatch::rules::detail

#pragma once
// Evaluates compiled expressions (program.h) against one account's state at a time `now`.
// Never throws; NaN stands for "no data" and propagates through arithmetic. Strings are views
// into the state or the program where possible, so conditions do not allocate.
// Thread-safety: pure functions over const inputs.
#include <cmath>
#include <string>
#include <string_view>

#include "model/account_state.h"
#include "rules/program.h"
#include "rules/rules.h"

namespace kamwatch::rules::detail {

struct Value {
  Type type = Type::kNumber;  // never kAny at run time
  double number = NAN;        // kNumber; kDuration in ms
  bool boolean = false;
  std::string_view view;  // kString when !owns
  std::string owned;      // kString when owns (formatted text)
  bool owns = false;

  [[nodiscard]] std::string_view str() const { return owns ? std::string_view(owned) : view; }
  static Value of_number(double v) {
    Value x;
    x.number = v;
    return x;
  }
  static Value of_duration(double ms) {
    Value x;
    x.type = Type::kDuration;
    x.number = ms;
    return x;
  }
  static Value of_bool(bool b) {
    Value v;
    v.type = Type::kBool;
    v.boolean = b;
    return v;
  }
  static Value of_view(std::string_view s) {
    Value v;
    v.type = Type::kString;
    v.view = s;
    return v;
  }
  static Value of_owned(std::string s) {
    Value v;
    v.type = Type::kString;
    v.owned = std::move(s);
    v.owns = true;
    return v;
  }
};

// Computes the health score for `account.health` inside alert rules, on demand.
class HealthSource {
 public:
  virtual ~HealthSource() = default;
  [[nodiscard]] virtual const HealthScore& health(bool with_trend) const = 0;
};

// Everything an evaluation reads besides the program.
struct Scope {
  const model::AccountState& state;
  const AccountAttributes& attributes;
  TimeMs now = 0;
  model::Retention retention;
  const std::string* group_name = nullptr;  // current group of a grouped rule; null = ""
  const Value* slots = nullptr;             // `value` and evidence, for templates
  const HealthSource* health = nullptr;
};

[[nodiscard]] Value evaluate(const Program& program, std::int32_t node, const Scope& scope);

// As a number: durations in ms, numeric strings parsed, anything else NaN.
[[nodiscard]] double to_number(const Value& v);
// The text a template shows for a value: numbers with at most 2 decimals, durations in plain
// words ("14 days"), NaN as "n/a".
void append_text(std::string& out, const Value& v);
[[nodiscard]] std::string format_number(double v, int max_decimals = 2);
[[nodiscard]] std::string format_pct(double fraction);

// Account age at `now`: now - first event (0 without events).
[[nodiscard]] TimeMs account_age(const model::AccountState& state, TimeMs now);

}  // namespace kamwatch::rules::detail

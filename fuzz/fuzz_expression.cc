// libFuzzer target: one expression of the rule language, quoted into a fixed valid rule file,
// loaded and evaluated on a fixed account (fuzz_rules_common.h). Denser than
// fuzz_rules_loader: every input reaches the expression parser and, when it type-checks, the
// evaluator. The expression is tried as
//   1. an alert condition (`expr:`), and, when that loads, again in a rule with `by: category`;
//   2. when it type-checks but is no condition (the loader's error names the number, string
//      or duration it found) as a `{{ }}` placeholder in the summary of an always-true rule
//      (any type renders), and, for a number or a duration, as a scorecard measure.
// Derived names usable by the input: those of rules/derived.yaml (users_28d, usage_ratio,
// seat_utilisation, tickets_*, orders_*), orders_90d, competitor_90d, competitor_share_90d,
// competitor_share_prev, share, quiet.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_rules_common.h"
#include "rules/rules.h"

namespace {

using namespace kamwatch;

constexpr std::string_view kPrelude = R"(custom_types: [crm.mention]
derived:
  - name: users_28d
    expr: sum(usage.activity.active_users, 28d)
  - name: users_baseline_28d
    expr: sum(usage.activity.active_users, 84d offset 28d) / 3
  - name: usage_ratio
    expr: users_28d / users_baseline_28d
  - name: seat_utilisation
    expr: last(usage.seats.used, 30d) / last(usage.seats.licensed, 30d)
  - name: tickets_opened_14d
    expr: count(support.ticket{action == "opened"}, 14d)
  - name: tickets_opened_prev_14d
    expr: count(support.ticket{action == "opened"}, 14d offset 14d)
  - name: tickets_baseline_14d
    expr: count(support.ticket{action == "opened"}, 182d offset 42d) / 13
  - name: orders_180d
    expr: count(sales.order, 180d)
  - name: orders_baseline_180d
    expr: count(sales.order, 365d offset 180d) * 180 / 365
  - name: orders_90d
    expr: sum(sales.order.amount, 90d)
  - name: competitor_90d
    expr: sum(sales.competitor_activity.amount, 90d)
  - name: competitor_share_90d
    expr: competitor_90d / (competitor_90d + orders_90d)
  - name: competitor_share_prev
    expr: sum(sales.competitor_activity.amount, 365d offset 90d) / (sum(sales.competitor_activity.amount, 365d offset 90d) + sum(sales.order.amount, 365d offset 90d))
  - name: share
    expr: competitor_share_90d
  - name: quiet
    expr: since(relationship.meeting{level == "exec"})
)";

// Loads one file and evaluates it; returns 0 when it was refused (and its first error in
// *first_error).
std::size_t load_and_eval(const std::string& file, std::string* first_error = nullptr) {
  const rules::LoadResult r = rules::load_rules_from_strings({{"fuzz.yaml", file}});
  static const bool verbose = std::getenv("KAMWATCH_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s\n", r.rules ? "loaded" : "refused");
    for (const rules::Diagnostic& d : r.errors) std::fprintf(stderr, "  %s\n", d.to_string().c_str());
  }
  if (r.rules == nullptr) {
    if (r.errors.empty()) __builtin_trap();
    if (first_error != nullptr) *first_error = r.errors.front().message;
    return 0;
  }
  const model::AccountState account = fuzz::build_account(*r.rules);
  return 1 + fuzz::evaluate_all(*r.rules, account);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const std::string q =
      fuzz::yaml_double_quoted(std::string_view(reinterpret_cast<const char*>(data), size));
  std::string alert(kPrelude);
  alert += "alerts:\n  - alert: Fuzz\n    expr: " + q +
           "\n    severity: warning\n    labels: {signal: churn}\n"
           "    summary: 'value {{ value }} at {{ account.name }}'\n";
  std::string error;
  std::size_t sink = load_and_eval(alert, &error);
  if (sink != 0) {
    std::string grouped(kPrelude);
    grouped += "alerts:\n  - alert: FuzzByCategory\n    by: category\n    expr: " + q +
               "\n    labels: {signal: competitor}\n    summary: '{{ group }}: {{ value }}'\n";
    sink += load_and_eval(grouped);
  } else if (error.find("must be true/false") != std::string::npos) {
    // It type-checks but is not a condition (the loader names the type it found): render it
    // in a template, and score it when it is a number or a duration. Other errors (syntax,
    // unknown names) would only repeat in these contexts, so they are not retried.
    std::string templ(kPrelude);
    templ += "alerts:\n  - alert: FuzzTemplate\n    expr: account.age >= 0s\n"
             "    labels: {signal: growth}\n    summary: " +
             fuzz::yaml_double_quoted("{{ " + std::string(reinterpret_cast<const char*>(data), size) +
                                      " }}") +
             "\n";
    sink += load_and_eval(templ);
    const bool number = error.find("this is a number") != std::string::npos;
    const bool duration = error.find("this is a duration") != std::string::npos;
    if (number || duration) {
      std::string measure(kPrelude);
      measure += "scorecard:\n  measures:\n    - name: fuzz\n      weight: 1\n      expr: " + q +
                 "\n      missing: 50\n";
      if (duration) measure += "      map: [[30d, 100], [180d, 0]]\n";
      sink += load_and_eval(measure);
    }
  }
  volatile std::size_t keep = sink;
  (void)keep;
  return 0;
}

// Rule evaluation micro-benchmarks (Google Benchmark):
//  - ShippedPacks/<type>: evaluating the shipped rule packs for one event of a type on an
//    account with two years of simulated history (only the rules reading that type run);
//  - ShippedPacksMix: the same per event of the catalog mix (the simulated portfolio's types);
//  - RuleCount/<rules>: a rule set of N rules of which 4 read usage.activity and the rest
//    read other types: the cost per usage.activity event stays flat as N grows;
//  - RuleCountAllReading/<rules>: all N rules read usage.activity: the cost grows with N.
//
//   build/release/bench/kamwatch_rules_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "bench_support.h"
#include "engine/evaluator.h"
#include "rules/rules.h"
#include "sim/simulator.h"

namespace {

using namespace kamwatch;

// Two years of one mid-sized simulated account, applied with the rule set's derived series. When
// mix is not null it receives the types of the portfolio's events of the last 30 days, in event
// order: the catalog mix as it arrives.
model::AccountState history(const rules::RuleSet& rs, TimeMs* end,
                            std::vector<std::string>* mix = nullptr) {
  sim::SimOptions o;
  o.accounts = 20;
  o.days = 730;
  *end = sim::history_end(o);
  model::AccountState state;
  std::vector<model::DerivedTarget> targets;
  bench::simulate_decoded(o, [&](const sim::SimEvent& se, const model::Event& e) {
    if (mix != nullptr && e.time >= *end - 30 * kDayMs) mix->push_back(e.type);
    if (se.account == "ACME-0005") bench::apply_event(state, e, rs, targets);
  });
  return state;
}

void ShippedPacks(benchmark::State& st, const char* type) {
  auto rs = bench::shipped_rules();
  TimeMs end = 0;
  model::AccountState account = history(*rs, &end);
  const rules::AccountAttributes attrs;
  const std::vector<std::string_view> types = {type};
  std::vector<engine::AlertTransition> out;
  std::size_t rules_run = 0;
  for (auto _ : st) {
    rules_run = engine::evaluate_account(*rs, account, attrs, end, {}, &types, out);
    out.clear();
  }
  st.counters["rules_run"] = static_cast<double>(rules_run);
}
BENCHMARK_CAPTURE(ShippedPacks, usage_activity, "usage.activity");
BENCHMARK_CAPTURE(ShippedPacks, sales_order, "sales.order");
BENCHMARK_CAPTURE(ShippedPacks, support_ticket, "support.ticket");
BENCHMARK_CAPTURE(ShippedPacks, survey_nps, "survey.nps");
BENCHMARK_CAPTURE(ShippedPacks, relationship_meeting, "relationship.meeting");

// The shipped packs for one event of the catalog mix: each iteration evaluates the rules reading
// the type of the next event of the portfolio's last 30 days (as the pipeline does for an
// account changed by one event), on the same two-year account.
void ShippedPacksMix(benchmark::State& st) {
  auto rs = bench::shipped_rules();
  TimeMs end = 0;
  std::vector<std::string> mix;
  model::AccountState account = history(*rs, &end, &mix);
  const rules::AccountAttributes attrs;
  std::vector<std::string_view> types(1);
  std::vector<engine::AlertTransition> out;
  std::size_t rules_run = 0;
  std::size_t i = 0;
  for (auto _ : st) {
    types[0] = mix[i];
    i = i + 1 == mix.size() ? 0 : i + 1;
    rules_run += engine::evaluate_account(*rs, account, attrs, end, {}, &types, out);
    out.clear();
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["rules_per_event"] =
      static_cast<double>(rules_run) / static_cast<double>(st.iterations());
  st.counters["mix_events"] = static_cast<double>(mix.size());
}
BENCHMARK(ShippedPacksMix);

std::string synthetic_rules(int n, bool all_read_usage) {
  static const char* kOther[] = {"support.ticket", "sales.order", "survey.nps", "sales.invoice"};
  std::string y = "alerts:\n";
  for (int i = 0; i < n; ++i) {
    const bool usage = all_read_usage || i < 4;
    const std::string sel = usage ? "usage.activity.active_users" : std::string(kOther[i % 4]);
    const std::string expr = usage
                                 ? "sum(" + sel + ", 14d) < 0.5 * sum(" + sel + ", 14d offset 28d)"
                                 : "count(" + sel + ", 30d) > " + std::to_string(100 + i);
    y += "  - alert: R" + std::to_string(i) + "\n    expr: " + expr +
         "\n    labels: {signal: churn}\n    summary: s\n";
  }
  return y;
}

void RuleCount(benchmark::State& st, bool all_read_usage) {
  auto loaded = rules::load_rules_from_strings(
      {{"synthetic.yaml", synthetic_rules(static_cast<int>(st.range(0)), all_read_usage)}});
  if (!loaded.errors.empty()) {
    st.SkipWithError(loaded.errors[0].to_string().c_str());
    return;
  }
  TimeMs end = 0;
  model::AccountState account = history(*loaded.rules, &end);
  const rules::AccountAttributes attrs;
  const std::vector<std::string_view> types = {"usage.activity"};
  std::vector<engine::AlertTransition> out;
  std::size_t rules_run = 0;
  for (auto _ : st) {
    rules_run = engine::evaluate_account(*loaded.rules, account, attrs, end, {}, &types, out);
    out.clear();
  }
  st.counters["rules_run"] = static_cast<double>(rules_run);
}
BENCHMARK_CAPTURE(RuleCount, other_types, false)->Arg(4)->Arg(16)->Arg(64)->Arg(256);
BENCHMARK_CAPTURE(RuleCount, all_read_usage, true)->Arg(4)->Arg(16)->Arg(64)->Arg(256);

}  // namespace

BENCHMARK_MAIN();

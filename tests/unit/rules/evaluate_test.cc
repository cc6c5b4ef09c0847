// Alert rules evaluated against account state built with model::apply from hand-made events:
// windows and baselines, filters, grouping, since/days_until/latest, slope/EWMA, NaN
// semantics, cold start, severity and the plain-words explanation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "rules_test_util.h"

namespace kamwatch::rules::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using Status = RuleResult::Status;

double evidence(const RuleResult& r, const std::string& name) {
  for (const auto& [n, v] : r.evidence)
    if (n == name) return v;
  ADD_FAILURE() << "no evidence " << name;
  return NAN;
}

constexpr const char* kUsageDrop = R"(
alerts:
  - alert: UsageDrop
    expr: sum(usage.activity.active_users, 14d) < 0.6 * sum(usage.activity.active_users, 14d offset 28d)
    for: 3d
    resolve: sum(usage.activity.active_users, 14d) > 0.8 * sum(usage.activity.active_users, 14d offset 28d)
    keep_firing_for: 7d
    min_history: 60d
    severity: 'if(account.key, "critical", "warning")'
    labels: {signal: churn, team: kam}
    evidence: {recent: 'sum(usage.activity.active_users, 14d)', baseline: 'sum(usage.activity.active_users, 14d offset 28d)'}
    summary: "Active users at {{ account.name }} down {{ pct(1 - recent / baseline) }} vs the month before"
    description: "{{ recent }} active-user days in the last 14 days against {{ baseline }} four weeks earlier."
    playbook: "Call {{ account.kam }} about adoption"
)";

model::Event profile(int d, std::vector<model::Field> data) {
  return event("account.profile", day(d), std::move(data));
}

TEST(Evaluate, UsageDropAgainstOwnBaselineExplainsItself) {
  auto rules = load_ok(kUsageDrop);
  ASSERT_NE(rules, nullptr);
  const CompiledRule& rule = *rules->alerts().at(0);
  EXPECT_EQ(rule.hold(), 3 * kDayMs);
  EXPECT_EQ(rule.keep_firing_for(), 7 * kDayMs);
  EXPECT_EQ(rule.min_history(), 60 * kDayMs);
  EXPECT_EQ(rule.signal(), "churn");
  EXPECT_EQ(rule.pos().line, 3);

  Account acct(*rules);
  acct.add(profile(0, {{"name", str("Acme GmbH")}, {"kam", str("Jane Roe")}}));
  acct.daily("usage.activity", -30, 55, [](int) {
    return std::vector<model::Field>{{"active_users", num(100)}};
  });
  acct.daily("usage.activity", 56, 69, [](int) {
    return std::vector<model::Field>{{"active_users", num(40)}};
  });

  // Before the drop: the last 14 days equal the baseline.
  RuleResult before = acct.eval_one("UsageDrop", day(50.75));
  EXPECT_EQ(before.status, Status::kFalse);
  EXPECT_TRUE(before.resolve);
  EXPECT_DOUBLE_EQ(before.value, 1400);
  EXPECT_TRUE(before.annotations.empty());

  RuleResult r = acct.eval_one("UsageDrop", day(69.75));
  EXPECT_EQ(r.status, Status::kTrue);
  EXPECT_FALSE(r.resolve);
  EXPECT_DOUBLE_EQ(r.value, 560);  // 14 days x 40
  EXPECT_DOUBLE_EQ(evidence(r, "recent"), 560);
  EXPECT_DOUBLE_EQ(evidence(r, "baseline"), 1400);
  EXPECT_EQ(r.annotations["summary"], "Active users at Acme GmbH down 60% vs the month before");
  EXPECT_EQ(r.annotations["description"],
            "560 active-user days in the last 14 days against 1400 four weeks earlier.");
  EXPECT_EQ(r.annotations["playbook"], "Call Jane Roe about adoption");
  EXPECT_EQ(r.annotations["evidence"], "recent: 560, baseline: 1400");
  EXPECT_THAT(r.labels, ElementsAre(Pair("severity", "warning"), Pair("signal", "churn"),
                                    Pair("team", "kam")));

  // Severity follows the account's value.
  AccountAttributes key;
  key.key_account = true;
  EXPECT_EQ(acct.eval_one("UsageDrop", day(69.75), key).labels["severity"], "critical");
}

TEST(Evaluate, ColdStartIsInsufficientHistoryNotRisk) {
  auto rules = load_ok(kUsageDrop);
  Account young(*rules);
  young.daily("usage.activity", 20, 55, [](int) {
    return std::vector<model::Field>{{"active_users", num(100)}};
  });
  young.daily("usage.activity", 56, 69, [](int) {
    return std::vector<model::Field>{{"active_users", num(1)}};
  });
  RuleResult r = young.eval_one("UsageDrop", day(69.75));  // 49.75 days of history < 60d
  EXPECT_EQ(r.status, Status::kInsufficientHistory);
  EXPECT_TRUE(r.resolve);
  EXPECT_TRUE(r.annotations.empty());
  EXPECT_EQ(young.eval_one("UsageDrop", day(80.75)).status, Status::kTrue);
}

TEST(Evaluate, SeparateResolveConditionGivesHysteresis) {
  auto rules = load_ok(kUsageDrop);
  Account acct(*rules);
  acct.daily("usage.activity", 0, 55, [](int) {
    return std::vector<model::Field>{{"active_users", num(100)}};
  });
  acct.daily("usage.activity", 56, 69, [](int) {
    return std::vector<model::Field>{{"active_users", num(70)}};
  });
  // 980 is neither below 60% (840) nor above 80% (1120) of the baseline: hold the state.
  RuleResult r = acct.eval_one("UsageDrop", day(69.75));
  EXPECT_EQ(r.status, Status::kFalse);
  EXPECT_FALSE(r.resolve);
  acct.daily("usage.activity", 70, 83, [](int) {
    return std::vector<model::Field>{{"active_users", num(90)}};
  });
  RuleResult later = acct.eval_one("UsageDrop", day(83.75));  // 1260 vs 1400
  EXPECT_EQ(later.status, Status::kFalse);
  EXPECT_TRUE(later.resolve);
}

TEST(Evaluate, GroupedByCategoryYieldsOneResultPerCategory) {
  auto rules = load_ok(R"(
derived:
  - name: competitor_share_90d
    expr: sum(sales.competitor_activity.amount, 90d) / (sum(sales.competitor_activity.amount, 90d) + sum(sales.order.amount, 90d))
alerts:
  - alert: CompetitorDrift
    by: category
    expr: competitor_share_90d > 0.3 and count(support.ticket, 90d) >= 0
    labels: {signal: competitor}
    summary: "Competitor share of {{ account.id }} in {{ group }} is {{ pct(value) }}"
)");
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->alerts()[0]->group_by(), "category");
  Account acct(*rules);
  acct.add(event("sales.order", day(10), {{"amount", num(1000)}, {"category", str("chairs")}}));
  acct.add(event("sales.order", day(20), {{"amount", num(1000)}, {"category", str("desks")}}));
  acct.add(event("sales.competitor_activity", day(30),
                 {{"amount", num(1000)}, {"category", str("chairs")}, {"competitor", str("X")}}));
  acct.add(event("sales.competitor_activity", day(40),
                 {{"amount", num(50)}, {"category", str("lamps")}}));
  acct.add(event("support.ticket", day(41), {{"severity", num(3)}, {"category", str("billing")}}));

  auto results = acct.eval("CompetitorDrift", day(60));
  // Groups are those of the grouped series; support.ticket's category is not among them
  // because support.ticket has a category field too: it is grouped as well.
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].group, "billing");
  EXPECT_EQ(results[0].status, Status::kFalse);  // no orders, no competitor: 0/0 is NaN
  EXPECT_TRUE(std::isnan(results[0].value));
  EXPECT_EQ(results[1].group, "chairs");
  EXPECT_EQ(results[1].status, Status::kTrue);
  EXPECT_DOUBLE_EQ(results[1].value, 0.5);
  EXPECT_EQ(results[1].labels.at("category"), "chairs");
  EXPECT_EQ(results[1].annotations.at("summary"), "Competitor share of acme in chairs is 50%");
  EXPECT_EQ(results[2].group, "desks");
  EXPECT_EQ(results[2].status, Status::kFalse);
  EXPECT_DOUBLE_EQ(results[2].value, 0);
  EXPECT_EQ(results[3].group, "lamps");
  EXPECT_EQ(results[3].status, Status::kTrue);
  EXPECT_DOUBLE_EQ(results[3].value, 1);
}

TEST(Evaluate, FiltersSinceDaysUntilAndLatest) {
  auto rules = load_ok(R"(
alerts:
  - alert: TicketSurge
    expr: count(support.ticket{action == "opened", severity <= 2}, 30d) >= 3
    labels: {signal: churn}
    summary: "{{ value }} critical tickets opened in 30 days"
  - alert: NoExecMeeting
    expr: since(relationship.meeting{level == "executive"}) > 120d
    labels: {signal: churn}
    summary: "No executive meeting for {{ value }}"
  - alert: RenewalSoon
    expr: days_until(account.renewal_date) < 90 and days_until(account.renewal_date) >= 0
    labels: {signal: churn}
    summary: "Renewal in {{ fmt(value, 0) }} days"
  - alert: Downgrade
    expr: latest(sales.contract.action) == "downgrade" and latest(sales.contract.arr) < 50000
    labels: {signal: churn}
    summary: "Contract {{ latest(sales.contract.action) }} to {{ latest(sales.contract.arr) }}"
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(profile(0, {{"name", str("Acme")}}));
  acct.add(event("relationship.meeting", day(5), {{"level", str("manager")}}));
  auto ticket = [&](double d, const char* action, int severity) {
    acct.add(
        event("support.ticket", day(d), {{"action", str(action)}, {"severity", num(severity)}}));
  };
  ticket(10, "opened", 2);  // outside the 30-day window at day 60
  ticket(50, "opened", 1);
  ticket(55, "opened", 2);
  ticket(56, "opened", 3);  // not critical
  ticket(57, "closed", 1);  // not opened
  EXPECT_EQ(acct.eval_one("TicketSurge", day(60)).status, Status::kFalse);
  EXPECT_DOUBLE_EQ(acct.eval_one("TicketSurge", day(60)).value, 2);
  ticket(58, "opened", 1);
  RuleResult surge = acct.eval_one("TicketSurge", day(60));
  EXPECT_EQ(surge.status, Status::kTrue);
  EXPECT_EQ(surge.annotations["summary"], "3 critical tickets opened in 30 days");

  // No executive meeting ever: counts as long ago as the account exists.
  EXPECT_EQ(acct.eval_one("NoExecMeeting", day(100)).status, Status::kFalse);
  RuleResult never = acct.eval_one("NoExecMeeting", day(200));
  EXPECT_EQ(never.status, Status::kTrue);
  EXPECT_DOUBLE_EQ(never.value, 200.0 * 86400);  // durations are reported in seconds
  EXPECT_EQ(never.annotations["summary"], "No executive meeting for 200 days");
  acct.add(event("relationship.meeting", day(150), {{"level", str("executive")}}));
  EXPECT_EQ(acct.eval_one("NoExecMeeting", day(200)).status, Status::kFalse);
  EXPECT_EQ(acct.eval_one("NoExecMeeting", day(300)).status, Status::kTrue);

  // Renewal date from the profile; absent or unparseable is NaN, hence false.
  EXPECT_EQ(acct.eval_one("RenewalSoon", day(60)).status, Status::kFalse);
  acct.add(profile(1, {{"renewal_date", str("2025-05-01")}}));  // day 120
  RuleResult renewal = acct.eval_one("RenewalSoon", day(60));
  EXPECT_EQ(renewal.status, Status::kTrue);
  EXPECT_EQ(renewal.annotations["summary"], "Renewal in 60 days");
  EXPECT_EQ(acct.eval_one("RenewalSoon", day(10)).status, Status::kFalse);
  EXPECT_EQ(acct.eval_one("RenewalSoon", day(121)).status, Status::kFalse);

  EXPECT_EQ(acct.eval_one("Downgrade", day(60)).status, Status::kFalse);
  acct.add(event("sales.contract", day(20), {{"action", str("renew")}, {"arr", num(90000)}}));
  EXPECT_EQ(acct.eval_one("Downgrade", day(60)).status, Status::kFalse);
  acct.add(event("sales.contract", day(40), {{"action", str("downgrade")}, {"arr", num(40000)}}));
  RuleResult down = acct.eval_one("Downgrade", day(60));
  EXPECT_EQ(down.status, Status::kTrue);
  EXPECT_EQ(down.annotations["summary"], "Contract downgrade to 40000");
}

TEST(Evaluate, SlopeAndEwma) {
  auto rules = load_ok(R"(
alerts:
  - alert: UsageGrowing
    expr: slope(usage.activity.active_users, 4w, 1w) > 50
    labels: {signal: growth}
    summary: "Weekly active-user days growing by {{ fmt(value, 1) }} per week"
  - alert: Smoothed
    expr: ewma(usage.activity.active_users, 28d, 7d) > 5
    labels: {signal: growth}
    summary: "{{ value }}"
  - alert: TicketTrend
    expr: slope(support.ticket, 4w, 1w) >= 0
    labels: {signal: churn}
    summary: "{{ value }}"
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  // Week w (days 1+7w .. 7+7w) has 10*(w+1) users a day: weekly sums 70, 140, 210, 280.
  acct.daily("usage.activity", 1, 28, [](int d) {
    return std::vector<model::Field>{{"active_users", num(10.0 * ((d - 1) / 7 + 1))}};
  });
  RuleResult grow = acct.eval_one("UsageGrowing", day(28.5));
  EXPECT_EQ(grow.status, Status::kTrue);
  EXPECT_NEAR(grow.value, 70, 1e-9);
  EXPECT_EQ(grow.annotations["summary"], "Weekly active-user days growing by 70 per week");
  // Earlier, the window reaches before the first event: weekly sums 0, 0, 10, 80.
  EXPECT_NEAR(acct.eval_one("UsageGrowing", day(8.5)).value, 25, 1e-9);

  // The EWMA of a constant series is that constant; a late rise pulls it up by less.
  Account flat(*rules);
  flat.daily("usage.activity", 1, 28, [](int) {
    return std::vector<model::Field>{{"active_users", num(10)}};
  });
  EXPECT_NEAR(flat.eval_one("Smoothed", day(28.5)).value, 10, 1e-9);
  flat.add(event("usage.activity", day(29.5), {{"active_users", num(100)}}));
  const double alpha = 1 - std::exp2(-1.0 / 7);  // daily weight for a 7-day half-life
  EXPECT_NEAR(flat.eval_one("Smoothed", day(29.75)).value, 10 + alpha * 90, 1e-9);

  // Counts work as well (no field): no tickets is a flat zero.
  EXPECT_DOUBLE_EQ(flat.eval_one("TicketTrend", day(28.5)).value, 0);
}

TEST(Evaluate, SafeDivisionAndNaNSemantics) {
  auto rules = load_ok(R"(
alerts:
  - alert: Ratio
    expr: sum(sales.order.amount, 30d) / sum(sales.invoice.amount, 30d) < 0.5
    labels: {signal: churn}
    summary: x
  - alert: NotRatio
    expr: not (sum(sales.order.amount, 30d) / sum(sales.invoice.amount, 30d) >= 0.5)
    labels: {signal: churn}
    summary: x
  - alert: Defaulted
    expr: default(sum(sales.order.amount, 30d) / sum(sales.invoice.amount, 30d), 0) < 0.5
    labels: {signal: churn}
    summary: x
  - alert: NoCsat
    expr: avg(support.csat.score, 90d) < 3 or avg(support.csat.score, 90d) >= 3 or min(support.csat.score, 90d) == max(support.csat.score, 90d) or last(support.csat.score, 90d) != 0
    labels: {signal: churn}
    summary: x
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(event("sales.order", day(10), {{"amount", num(100)}}));
  // No invoices: x / 0 is NaN, and every comparison with NaN is false...
  RuleResult ratio = acct.eval_one("Ratio", day(20));
  EXPECT_EQ(ratio.status, Status::kFalse);
  EXPECT_TRUE(std::isnan(ratio.value));
  // ... so `not` of one is true, and default() supplies a value.
  EXPECT_EQ(acct.eval_one("NotRatio", day(20)).status, Status::kTrue);
  EXPECT_EQ(acct.eval_one("Defaulted", day(20)).status, Status::kTrue);
  EXPECT_EQ(acct.eval_one("NoCsat", day(20)).status, Status::kFalse);  // avg/min/max/last: NaN
  acct.add(event("support.csat", day(15), {{"score", num(2)}}));
  EXPECT_EQ(acct.eval_one("NoCsat", day(20)).status, Status::kTrue);
}

TEST(Evaluate, WindowedAggregatesOffsetsAndHourlyPrecision) {
  auto rules = load_ok(R"(
alerts:
  - alert: Probe
    expr: "true"
    labels: {signal: growth}
    summary: probe
    evidence:
      orders: count(sales.order, 30d)
      total: sum(sales.order.amount, 30d)
      mean: avg(sales.order.amount, 30d)
      low: min(sales.order.amount, 30d)
      high: max(sales.order.amount, 30d)
      latest_amount: last(sales.order.amount, 30d)
      categories: distinct(sales.order.category, 30d)
      big: count(sales.order{amount >= 100}, 30d)
      before: sum(sales.order.amount, 30d, offset 30d)
      tickets_6h: count(support.ticket, 6h)
      tickets_2d: count(support.ticket, 2d)
      quiet: since(support.ticket)
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  const TimeMs now = day(60) + 12 * kHourMs;
  acct.add(event("sales.order", day(5), {{"amount", num(50)}, {"category", str("chairs")}}));
  acct.add(event("sales.order", day(40), {{"amount", num(100)}, {"category", str("chairs")}}));
  acct.add(event("sales.order", day(45), {{"amount", num(300)}, {"category", str("desks")}}));
  acct.add(event("sales.order", day(50), {{"amount", num(20)}, {"category", str("lamps")}}));
  acct.add(event("support.ticket", now - 30 * kHourMs, {{"severity", num(3)}}));
  acct.add(event("support.ticket", now - 5 * kHourMs, {{"severity", num(3)}}));
  acct.add(event("support.ticket", now - 2 * kHourMs, {{"severity", num(3)}}));
  RuleResult r = acct.eval_one("Probe", now);
  EXPECT_EQ(r.status, Status::kTrue);
  EXPECT_DOUBLE_EQ(r.value, 1);  // no comparison: the condition as 1/0
  EXPECT_DOUBLE_EQ(evidence(r, "orders"), 3);
  EXPECT_DOUBLE_EQ(evidence(r, "total"), 420);
  EXPECT_DOUBLE_EQ(evidence(r, "mean"), 140);
  EXPECT_DOUBLE_EQ(evidence(r, "low"), 20);
  EXPECT_DOUBLE_EQ(evidence(r, "high"), 300);
  EXPECT_DOUBLE_EQ(evidence(r, "latest_amount"), 20);
  EXPECT_DOUBLE_EQ(evidence(r, "categories"), 3);
  EXPECT_DOUBLE_EQ(evidence(r, "big"), 2);
  EXPECT_DOUBLE_EQ(evidence(r, "before"), 50);
  EXPECT_DOUBLE_EQ(evidence(r, "tickets_6h"), 2);  // hourly buckets: 30h ago is outside
  EXPECT_DOUBLE_EQ(evidence(r, "tickets_2d"), 3);
  EXPECT_DOUBLE_EQ(evidence(r, "quiet"), 2 * 3600);
  EXPECT_EQ(r.annotations["evidence"].substr(0, 36), "orders: 3, total: 420, mean: 140, lo");
}

TEST(Evaluate, TemplatesRenderPlainWords) {
  auto rules = load_ok(R"(
alerts:
  - alert: Words
    expr: count(sales.order, 30d) >= 1
    labels: {signal: growth}
    evidence: {orders: 'count(sales.order, 30d)', quiet: 'since(support.ticket)'}
    summary: '{{ account.name }} ({{ account.id }}) placed {{ orders }} orders; last ticket {{ quiet }} ago; customer for {{ account.age }}'
    description: 'share {{ pct(0.426) }} / {{ pct(0.045) }} / {{ pct(orders / 0) }}; {{ fmt(2 / 3, 3) }}; {{ if(orders > 2, "many", "few") }}; {{ least(3, 4) }} {{ greatest(3, 4) }} {{ abs(-2.5) }}; {{ 36h }} {{ 1d }} {{ 90s }}; {{ account.key }} {{ now }}'
    annotations:
      runbook_url: "https://wiki.example.com/kam/{{ account.id }}"
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(profile(0, {{"name", str("Acme")}}));
  acct.add(event("support.ticket", day(9), {{"severity", num(3)}}));
  for (int d : {10, 11, 12}) acct.add(event("sales.order", day(d), {{"amount", num(1)}}));
  RuleResult r = acct.eval_one("Words", day(13));
  ASSERT_EQ(r.status, Status::kTrue);
  EXPECT_EQ(r.annotations["summary"],
            "Acme (acme) placed 3 orders; last ticket 4 days ago; customer for 13 days");
  EXPECT_EQ(r.annotations["description"],
            "share 43% / 4.5% / n/a; 0.667; many; 3 4 2.5; 1.5 days 1 day 1.5 minutes; false "
            "2025-01-14T00:00:00Z");
  EXPECT_EQ(r.annotations["runbook_url"], "https://wiki.example.com/kam/acme");
  EXPECT_EQ(r.annotations["evidence"], "orders: 3, quiet: 4 days");
}

TEST(Evaluate, AccountAttributesAndHealth) {
  auto rules = load_ok(R"yaml(
scorecard:
  measures:
    - name: usage
      weight: 1
      expr: sum(usage.activity.active_users, 7d)
      map: [[0, 0], [700, 100]]
alerts:
  - alert: ValuableAtRisk
    expr: account.revenue_rank <= 10 and account.p_alive < 0.5 and account.clv > 1000 and account.expected_purchases < 1
    severity: critical
    labels: {signal: churn}
    summary: "Rank {{ account.revenue_rank }} account, P(alive) {{ pct(account.p_alive) }}"
  - alert: RedHealth
    expr: account.health < 50 and account.health_band == "red"
    severity: 'if(account.revenue_rank <= 3, "critical", "warning")'
    labels: {signal: churn}
    summary: "Health {{ fmt(account.health, 0) }} ({{ account.health_band }})"
)yaml");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.daily("usage.activity", 0, 9, [](int) {
    return std::vector<model::Field>{{"active_users", num(30)}};
  });
  AccountAttributes attrs;
  attrs.revenue_rank = 3;
  attrs.p_alive = 0.3;
  attrs.clv = 5000;
  attrs.expected_purchases = 0.5;
  RuleResult r = acct.eval_one("ValuableAtRisk", day(10), attrs);
  EXPECT_EQ(r.status, Status::kTrue);
  EXPECT_EQ(r.labels["severity"], "critical");
  EXPECT_EQ(r.annotations["summary"], "Rank 3 account, P(alive) 30%");
  AccountAttributes unknown;  // rank 0 = unknown: NaN, so the rule cannot fire
  EXPECT_EQ(acct.eval_one("ValuableAtRisk", day(10), unknown).status, Status::kFalse);

  RuleResult red = acct.eval_one("RedHealth", day(9.75), attrs);  // 7 x 30 = 210 -> 30 points
  EXPECT_EQ(red.status, Status::kTrue);
  EXPECT_NEAR(red.value, 30, 1e-9);
  EXPECT_EQ(red.labels["severity"], "critical");
  EXPECT_EQ(red.annotations["summary"], "Health 30 (red)");
  // A health score the caller already has is used as it is.
  HealthScore given{80, "green", NAN, {}};
  EXPECT_EQ(rules->alerts()[1]
                ->evaluate(EvalInput{acct.state(), attrs, day(9.75), {}, &given})
                .at(0)
                .status,
            Status::kFalse);
}

TEST(Evaluate, CustomTypesAreGroupedByAnyField) {
  auto rules = load_ok(R"(
custom_types: [crm.mention]
alerts:
  - alert: MentionSurge
    by: competitor
    expr: count(crm.mention, 14d) > 2 * count(crm.mention, 14d offset 14d) and sum(crm.mention.weight, 14d) > 1
    labels: {signal: competitor}
    summary: "{{ group }} mentioned {{ value }} times"
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  for (int d : {20, 22, 24})
    acct.add(event("crm.mention", day(d), {{"competitor", str("Globex")}, {"weight", num(1)}}));
  acct.add(event("crm.mention", day(5), {{"competitor", str("Initech")}, {"weight", num(1)}}));
  auto results = acct.eval("MentionSurge", day(27));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].group, "Globex");
  EXPECT_EQ(results[0].status, Status::kTrue);
  EXPECT_EQ(results[0].annotations["summary"], "Globex mentioned 3 times");
  EXPECT_EQ(results[1].group, "Initech");
  EXPECT_EQ(results[1].status, Status::kFalse);
}

TEST(Evaluate, DerivedValuesChain) {
  auto rules = load_ok(R"yaml(
derived:
  - name: orders_90d
    expr: sum(sales.order.amount, 90d)
  - name: orders_prev_90d
    expr: sum(sales.order.amount, 90d offset 90d)
  - name: order_change
    expr: orders_90d / orders_prev_90d - 1
alerts:
  - alert: OrdersSlowing
    expr: order_change < -0.3
    labels: {signal: churn}
    evidence: {orders_90d: orders_90d, before: orders_prev_90d}
    summary: "Orders down {{ pct(-value) }} on the previous 90 days ({{ orders_90d }} vs {{ before }})"
)yaml");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(event("sales.order", day(10), {{"amount", num(1000)}}));
  acct.add(event("sales.order", day(100), {{"amount", num(600)}}));
  RuleResult r = acct.eval_one("OrdersSlowing", day(170));
  EXPECT_EQ(r.status, Status::kTrue);
  EXPECT_NEAR(r.value, -0.4, 1e-12);
  EXPECT_EQ(r.annotations["summary"], "Orders down 40% on the previous 90 days (600 vs 1000)");
}

}  // namespace
}  // namespace kamwatch::rules::testing

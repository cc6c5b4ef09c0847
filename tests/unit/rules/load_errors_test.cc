// Every class of rule-file error is refused with file:line:col of the offending token and a
// message a rule author can act on; all problems of a load are reported together.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules_test_util.h"

namespace kamwatch::rules::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(LoadErrors, YamlSyntaxError) {
  auto errs = load_errors(R"(alerts:
  - alert: A
    expr: [count(sales.order, 30d) > 0
)");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], StartsWith("r.yaml:4:1: YAML syntax error: "));
}

TEST(LoadErrors, UnknownTopLevelKey) {
  EXPECT_THAT(load_errors("alert:\n  - x\n"),
              ElementsAre("r.yaml:1:1: unknown key 'alert' at the top level (did you mean "
                          "'alerts'?); known keys: derived, scorecard, alerts, custom_types"));
}

TEST(LoadErrors, UnknownKeyInAlert) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    exrp: count(sales.order, 30d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre(StartsWith("r.yaml:2:12: alert 'A' needs an 'expr'"),
                          StartsWith("r.yaml:3:5: unknown key 'exrp' in an alert (did you mean "
                                     "'expr'?)")));
}

TEST(LoadErrors, UnknownEventType) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: sum(sales.ordr.amount, 30d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:15: unknown event type 'sales.ordr' (did you mean "
                          "'sales.order'?); a type outside the event catalog must be declared "
                          "under custom_types"));
}

TEST(LoadErrors, CustomTypesMustBeDeclared) {
  const char* rule = R"(
alerts:
  - alert: A
    expr: count(crm.note{mood == "angry"}, 30d) > 2
    labels: {signal: churn}
    summary: x
)";
  EXPECT_THAT(load_errors(rule), ElementsAre(StartsWith("r.yaml:4:17: unknown event type "
                                                        "'crm.note'")));
  load_ok(std::string("custom_types: [crm.note]\n") + rule);
  EXPECT_THAT(load_errors("custom_types: [sales.order]\n"),
              ElementsAre(StartsWith("r.yaml:1:16: 'sales.order' is in the event catalog")));
}

TEST(LoadErrors, UnknownFieldOfCatalogType) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: sum(sales.order.amout, 30d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:27: unknown field 'amout' of sales.order (did you mean "
                          "'amount'?); its fields are amount, currency, category, product"));
}

TEST(LoadErrors, NumericAggregateOverStringField) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: avg(sales.order.category, 30d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre(StartsWith("r.yaml:3:27: avg() needs a numeric field, but 'category' "
                                     "of sales.order is a string")));
}

TEST(LoadErrors, FilterLiteralOfTheWrongKind) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(support.ticket{severity == "high"}, 30d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:44: field 'severity' of support.ticket is a number, so "
                          "compare it with a number"));
}

TEST(LoadErrors, UnknownFunctionAndWrongArgumentCount) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: summ(sales.order.amount, 30d) > 0
    labels: {signal: churn}
    summary: x
  - alert: B
    expr: sum(sales.order.amount) > 0 or least(1) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:11: unknown function 'summ' (did you mean 'sum'?)",
                          "r.yaml:7:11: sum() takes 2 arguments (type.field with optional "
                          "{filter}, window such as 30d), got 1",
                          "r.yaml:7:42: least() takes 2 arguments (a, b), got 1"));
}

TEST(LoadErrors, TypeMismatches) {
  EXPECT_THAT(
      load_errors(R"(alerts:
  - alert: A
    expr: since(relationship.meeting) > 30
    labels: {signal: churn}
    summary: x
  - alert: B
    expr: sum(sales.order.amount, 30d)
    labels: {signal: churn}
    summary: x
  - alert: C
    expr: count(sales.order, 30d) > 1 and 2d
    labels: {signal: churn}
    summary: x
)"),
      ElementsAre("r.yaml:3:39: cannot compare a duration with a number (write durations with a "
                  "unit, e.g. 14d, or divide by one: since(x) / 1d)",
                  "r.yaml:7:11: 'expr' must be true/false, but this is a number: write a "
                  "condition such as 'x < 10'",
                  "r.yaml:11:39: 'and' needs true/false on both sides, but one side is a "
                  "duration"));
}

TEST(LoadErrors, BadDurations) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(sales.order, 14x) > 0 or count(sales.order, 0d) > 0
    for: 3days
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre(StartsWith("r.yaml:3:30: bad duration '14x': use whole numbers with "
                                     "ms, s, m, h, d, w or y"),
                          "r.yaml:4:10: 'for' must be a duration such as 30m, 36h, 14d, 2w, got "
                          "'3days'"));
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(sales.order, 0d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:30: a window must be longer than 0"));
}

TEST(LoadErrors, UnknownName) {
  EXPECT_THAT(load_errors(R"(derived:
  - name: usage_28d
    expr: sum(usage.activity.active_users, 28d)
alerts:
  - alert: A
    expr: usage_29d < 10 or account.nmae == "x"
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:6:11: unknown name 'usage_29d' (did you mean 'usage_28d'?)"));
}

TEST(LoadErrors, DuplicateNamesAcrossFiles) {
  const char* a = R"(derived:
  - name: usage
    expr: sum(usage.activity.active_users, 28d)
alerts:
  - alert: A
    expr: usage < 10
    labels: {signal: churn}
    summary: x
)";
  EXPECT_THAT(load_errors({{"a.yaml", a}, {"b.yaml", a}}),
              ElementsAre("b.yaml:2:11: duplicate derived value 'usage' (first defined at "
                          "a.yaml:2:11)",
                          "b.yaml:5:12: duplicate alert name 'A' (first defined at a.yaml:5:12)"));
}

TEST(LoadErrors, DerivedValuesUseOnlyEarlierOnes) {
  EXPECT_THAT(load_errors(R"(derived:
  - name: a
    expr: b * 2
  - name: b
    expr: count(sales.order, 30d)
)"),
              ElementsAre("r.yaml:3:11: derived value 'b' is defined later: a derived value may "
                          "only use those defined before it"));
}

TEST(LoadErrors, DuplicateYamlKeys) {
  EXPECT_THAT(load_errors("derived: []\nalerts: []\nderived: []\n"),
              ElementsAre("r.yaml:3:1: YAML syntax error: duplicate key 'derived' (first at line "
                          "1, column 1)"));
}

TEST(LoadErrors, DerivedValueProblemsSeenWhereUsed) {
  EXPECT_THAT(load_errors(R"(derived:
  - name: categories
    expr: distinct(sales.order.category, 365d)
  - name: healthy
    expr: account.health > 50
alerts:
  - alert: A
    by: category
    expr: categories < 2
    labels: {signal: growth}
    summary: x
scorecard:
  measures:
    - name: m
      weight: 1
      expr: if(healthy, 1, 0)
)"),
              ElementsAre("r.yaml:3:11: distinct() cannot be used in a rule grouped by "
                          "'category' over sales.order, which has that field (where it is used "
                          "by alert A)",
                          "r.yaml:5:19: account.health cannot be used inside the scorecard it "
                          "comes from (where it is used by scorecard)"));
}

TEST(LoadErrors, SignalLabel) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(sales.order, 30d) > 0
    labels: {team: kam}
    summary: x
  - alert: B
    expr: count(sales.order, 30d) > 0
    labels: {signal: risk}
    summary: x
)"),
              ElementsAre(StartsWith("r.yaml:2:12: alert 'A' needs a 'signal' label"),
                          "r.yaml:8:22: label 'signal' must be churn, competitor or growth, got "
                          "'risk'"));
}

TEST(LoadErrors, BadTemplates) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(sales.order, 30d) > 0
    labels: {signal: churn}
    summary: "Users at {{ account.name down"
  - alert: B
    expr: count(sales.order, 30d) > 0
    labels: {signal: churn}
    evidence: {drop: 'count(sales.order, 30d)'}
    summary: "Down {{ pct(dropp) }}"
    description: 'Orders {{ }}'
)"),
              ElementsAre(StartsWith("r.yaml:5:24: unclosed '{{' in template"),
                          "r.yaml:10:27: unknown name 'dropp' (did you mean 'drop'?)",
                          "r.yaml:11:26: empty placeholder '{{ }}' in template"));
}

TEST(LoadErrors, MissingSummary) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: count(sales.order, 30d) > 0
    labels: {signal: churn}
)"),
              ElementsAre(StartsWith("r.yaml:2:12: alert 'A' needs a 'summary'")));
}

TEST(LoadErrors, BadByField) {
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    by: colour
    expr: count(sales.order, 30d) > 0
    labels: {signal: churn}
    summary: x
  - alert: B
    expr: count(sales.order, 30d) > 0
    labels: {signal: churn}
    summary: "{{ group }}"
)"),
              ElementsAre("r.yaml:3:9: 'by: colour': none of the event types this rule reads "
                          "(sales.order) has the field 'colour'",
                          "r.yaml:10:18: 'group' is only available in alert rules with 'by:'"));
}

TEST(LoadErrors, ScorecardShape) {
  EXPECT_THAT(load_errors(R"(scorecard:
  bands: {red: 80, yellow: 60}
  measures:
    - name: usage
      weight: 0
      expr: sum(usage.activity.active_users, 28d)
      map: [[1, 0], [0.5, 100]]
)"),
              ElementsAre("r.yaml:2:10: bands must satisfy 0 <= red <= yellow <= 100",
                          "r.yaml:5:15: 'weight' must be greater than 0",
                          "r.yaml:7:22: map values must increase from one point to the next"));
}

// Columns inside an expression follow the scalar's quoting style.
TEST(LoadErrors, PositionsFollowQuotingStyle) {
  const std::string tail = "\n    labels: {signal: churn}\n    summary: x\n";
  EXPECT_THAT(load_errors("alerts:\n  - alert: A\n    expr: 'count(support.ticket{action == "
                          "''opened'', sevrity <= 2}, 30d) > 0'" +
                          tail),
              ElementsAre(StartsWith("r.yaml:3:55: unknown field 'sevrity' of support.ticket")));
  EXPECT_THAT(load_errors("alerts:\n  - alert: A\n    expr: \"count(support.ticket{action == "
                          "\\\"opened\\\", sevrity <= 2}, 30d) > 0\"" +
                          tail),
              ElementsAre(StartsWith("r.yaml:3:55: unknown field 'sevrity' of support.ticket")));
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: >-
      count(support.ticket, 30d) > 0 and
      count(support.tickt, 7d) > 0
    labels: {signal: churn}
    summary: x
  - alert: B
    expr: |
      count(support.ticket, 30d) > 0
        and count(support.tickt, 7d) > 0
    labels: {signal: churn}
    summary: x
  - alert: C
    expr: count(support.ticket, 30d) > 0
      and count(support.tickt, 7d) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre(StartsWith("r.yaml:5:13: unknown event type 'support.tickt'"),
                          StartsWith("r.yaml:11:19: unknown event type 'support.tickt'"),
                          StartsWith("r.yaml:16:17: unknown event type 'support.tickt'")));
}

TEST(LoadErrors, AllProblemsReportedTogetherInFileOrder) {
  auto errs = load_errors({{"a.yaml", R"(alerts:
  - alert: A
    expr: count(sales.order, 30d) > "x"
    for: soon
    labels: {signal: churn}
    summary: x
)"},
                           {"b.yaml", "derived: {name: x}\n"}});
  EXPECT_THAT(errs, ElementsAre(StartsWith("a.yaml:3:35: cannot compare a number with a string"),
                                StartsWith("a.yaml:4:10: 'for' must be a duration"),
                                "b.yaml:1:10: 'derived' must be a list (- item)"));
}

TEST(LoadErrors, HostileExpressionsAreRefusedNotCrashed) {
  const std::string deep = std::string(300, '(') + "1" + std::string(300, ')') + " > 0";
  EXPECT_THAT(load_errors("derived:\n  - name: x\n    expr: " + deep + "\n"),
              ElementsAre("r.yaml:3:211: expression nested too deeply"));
  std::string longest = "1";
  for (int i = 0; i < 3000; ++i) longest += " + 1";
  EXPECT_THAT(load_errors("derived:\n  - name: x\n    expr: " + longest + "\n"),
              ElementsAre(StartsWith("r.yaml:3:")));
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: A
    expr: min(1, 2) > 0
    labels: {signal: churn}
    summary: x
)"),
              ElementsAre("r.yaml:3:15: min() is the smallest value of a field in a window, e.g. "
                          "min(support.csat.score, 90d); for two values use least(a, b)"));
}

TEST(LoadErrors, MissingFileIsReported) {
  LoadResult r = load_rules({"/nonexistent/kamwatch-rules.yaml"});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "/nonexistent/kamwatch-rules.yaml: no such file or directory");
  EXPECT_EQ(r.rules, nullptr);
}

TEST(LoadWarnings, WindowBeyondRetention) {
  LoadResult r = load_rules_from_strings({{"w.yaml", R"(alerts:
  - alert: A
    expr: sum(sales.order.amount, 365d offset 730d) > 0
    labels: {signal: growth}
    summary: x
)"}});
  ASSERT_NE(r.rules, nullptr);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_THAT(r.warnings[0].to_string(),
              HasSubstr("w.yaml:3:35: this window reaches back 1095d, beyond the 800d"));
}

}  // namespace
}  // namespace kamwatch::rules::testing

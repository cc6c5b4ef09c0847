// The rule set as a whole: the health scorecard (score, band, contributions, trend), which
// rules run for an event type, the derived series requested from model::apply, the content
// hash, and loading from files and directories.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "rules_test_util.h"

namespace kamwatch::rules::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr const char* kScorecard = R"(
scorecard:
  bands: {red: 50, yellow: 75}
  trend: {window: 8w, step: 1w}
  measures:
    - name: usage
      weight: 30
      expr: sum(usage.activity.active_users, 7d)
      map: [[0, 0], [700, 100]]
    - name: nps
      weight: 10
      expr: avg(survey.nps.score, 90d)
      map: [[0, 0], [10, 100]]
      missing: 50
    - name: csat
      weight: 20
      expr: avg(support.csat.score, 90d)
      map: [[1, 0], [5, 100]]
)";

TEST(Scorecard, ScoreBandContributionsAndTrend) {
  auto rules = load_ok(kScorecard);
  ASSERT_NE(rules, nullptr);
  EXPECT_TRUE(rules->has_scorecard());
  Account acct(*rules);
  // Usage rises by 1 a day: each week's sum is 49 more than the week before.
  acct.daily("usage.activity", 0, 69, [](int d) {
    return std::vector<model::Field>{{"active_users", num(d)}};
  });
  const HealthScore h = acct.health(day(69.75));
  // usage: days 63..69 sum to 462 -> 66 points; nps: no data -> 50; csat: no data, skipped.
  EXPECT_NEAR(h.score, (30 * 66.0 + 10 * 50.0) / 40, 1e-9);
  EXPECT_EQ(h.band, "yellow");
  ASSERT_EQ(h.contributions.size(), 3u);
  EXPECT_EQ(h.contributions[0].measure, "usage");
  EXPECT_DOUBLE_EQ(h.contributions[0].value, 462);
  EXPECT_NEAR(h.contributions[0].score, 66, 1e-9);
  EXPECT_DOUBLE_EQ(h.contributions[0].weight, 0.75);
  EXPECT_NEAR(h.contributions[0].points, 49.5, 1e-9);
  EXPECT_EQ(h.contributions[1].measure, "nps");
  EXPECT_TRUE(std::isnan(h.contributions[1].value));
  EXPECT_DOUBLE_EQ(h.contributions[1].score, 50);
  EXPECT_DOUBLE_EQ(h.contributions[1].points, 12.5);
  EXPECT_EQ(h.contributions[2].measure, "csat");
  EXPECT_TRUE(std::isnan(h.contributions[2].score));
  EXPECT_DOUBLE_EQ(h.contributions[2].weight, 0);
  // +7 usage points a week, weighted 30/40.
  EXPECT_NEAR(h.trend, 7 * 0.75, 1e-9);

  // A measure with data joins the weighting.
  acct.add(event("support.csat", day(60), {{"score", num(1)}}));
  const HealthScore h2 = acct.health(day(69.75));
  EXPECT_NEAR(h2.score, (30 * 66.0 + 10 * 50.0 + 20 * 0.0) / 60, 1e-9);
  EXPECT_EQ(h2.band, "red");
}

TEST(Scorecard, NoDataAndNoScorecard) {
  auto rules = load_ok(kScorecard);
  Account empty(*rules);
  const HealthScore h = empty.health(day(10));
  // No usage is a sum of 0 (0 points); NPS falls back to `missing`; CSAT is skipped.
  EXPECT_DOUBLE_EQ(h.score, 12.5);
  EXPECT_EQ(h.band, "red");

  auto none = load_ok("alerts: []\n");
  EXPECT_FALSE(none->has_scorecard());
  Account acct(*none);
  const HealthScore u = acct.health(day(10));
  EXPECT_TRUE(std::isnan(u.score));
  EXPECT_EQ(u.band, "unknown");
}

TEST(Scorecard, ValuesClampToTheMapEnds) {
  auto rules = load_ok(R"(
scorecard:
  measures:
    - name: seats
      weight: 1
      expr: latest(usage.seats.used) / latest(usage.seats.licensed)
      map: [[0.5, 0], [0.9, 100]]
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(event("usage.seats", day(1), {{"licensed", num(100)}, {"used", num(30)}}));
  EXPECT_DOUBLE_EQ(acct.health(day(2)).score, 0);
  acct.add(event("usage.seats", day(3), {{"licensed", num(100)}, {"used", num(70)}}));
  EXPECT_NEAR(acct.health(day(4)).score, 50, 1e-9);
  acct.add(event("usage.seats", day(5), {{"licensed", num(100)}, {"used", num(99)}}));
  EXPECT_DOUBLE_EQ(acct.health(day(6)).score, 100);
  EXPECT_EQ(acct.health(day(6)).band, "green");
}

TEST(Scorecard, DurationMeasuresMapWithDurations) {
  auto rules = load_ok(R"(
scorecard:
  measures:
    - name: relationship
      weight: 1
      expr: since(relationship.meeting)
      map: [[30d, 100], [120d, 40], [240d, 0]]
)");
  ASSERT_NE(rules, nullptr);
  Account acct(*rules);
  acct.add(event("relationship.meeting", day(0), {{"kind", str("qbr")}}));
  const HealthScore h = acct.health(day(75));  // halfway from 30d to 120d: 70 points
  EXPECT_NEAR(h.score, 70, 1e-9);
  EXPECT_DOUBLE_EQ(h.contributions.at(0).value, 75.0 * 86400);  // seconds
  EXPECT_THAT(load_errors(R"(scorecard:
  measures:
    - name: relationship
      weight: 1
      expr: since(relationship.meeting)
      map: [[30, 100], [120, 0]]
    - name: mixed
      weight: 1
      expr: count(sales.order, 30d)
      map: [[1, 0], [2d, 100]]
)"),
              ElementsAre("r.yaml:6:12: measure 'relationship' is a duration: map it with "
                          "durations, e.g. map: [[30d, 100], [180d, 0]]",
                          "r.yaml:10:22: map values must be all numbers or all durations"));
}

TEST(Scorecard, MeasuresMayComeFromSeveralFiles) {
  const std::string a =
      "scorecard:\n  bands: {red: 40, yellow: 60}\n  measures:\n"
      "    - {name: csat, weight: 1, expr: 'avg(support.csat.score, 90d) * 20'}\n";
  const std::string b =
      "scorecard:\n  measures:\n"
      "    - {name: nps, weight: 1, expr: 'avg(survey.nps.score, 90d) * 10'}\n";
  LoadResult r = load_rules_from_strings({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_NE(r.rules, nullptr);
  Account acct(*r.rules);
  acct.add(event("support.csat", day(1), {{"score", num(4)}}));
  acct.add(event("survey.nps", day(1), {{"score", num(4)}}));
  const HealthScore h = acct.health(day(2));
  EXPECT_DOUBLE_EQ(h.score, 60);  // (80 + 40) / 2
  EXPECT_EQ(h.band, "green");     // this rule set's bands: red < 40, yellow < 60
  EXPECT_THAT(load_errors({{"a.yaml", a}, {"b.yaml", a}}),
              ElementsAre("b.yaml:2:10: scorecard bands are already set at a.yaml:2:10",
                          "b.yaml:4:14: duplicate measure 'csat' (first defined at a.yaml:4:14)"));
}

TEST(RuleSet, RulesForTypeReturnsOnlyRulesReadingIt) {
  auto rules = load_ok(std::string(kScorecard) + R"(
derived:
  - name: tickets_30d
    expr: count(support.ticket{action == "opened"}, 30d)
alerts:
  - alert: Tickets
    expr: tickets_30d > 5
    labels: {signal: churn}
    summary: x
  - alert: Usage
    expr: sum(usage.activity.active_users, 14d) < 10
    labels: {signal: churn}
    evidence: {orders: 'sum(sales.order.amount, 14d)'}
    summary: "{{ account.name }}"
  - alert: Renewal
    expr: days_until(account.renewal_date) < 60
    labels: {signal: churn}
    summary: x
  - alert: Health
    expr: account.health < 50
    labels: {signal: churn}
    summary: x
)");
  ASSERT_NE(rules, nullptr);
  auto names = [&](std::string_view type) {
    std::vector<std::string> out;
    for (const CompiledRule* r : rules->rules_for_type(type)) out.push_back(r->name());
    return out;
  };
  EXPECT_THAT(names("support.ticket"), ElementsAre("Tickets"));
  // Evidence and templates do not decide the verdict: sales.order wakes no rule.
  EXPECT_THAT(names("usage.activity"), ElementsAre("Usage", "Health"));
  EXPECT_THAT(names("account.profile"), ElementsAre("Renewal"));
  EXPECT_THAT(names("survey.nps"), ElementsAre("Health"));
  EXPECT_THAT(names("sales.order"), ElementsAre());
  EXPECT_THAT(names("no.such_type"), ElementsAre());
  EXPECT_THAT(rules->alerts()[0]->reads_types(), ElementsAre("support.ticket"));
}

TEST(RuleSet, SeriesSpecsForFilteredAndGroupedSelectors) {
  auto rules = load_ok(R"(
alerts:
  - alert: A
    expr: count(support.ticket{severity <= 2, action == "opened"}, 30d) > count(support.ticket{action == "opened", severity <= 2}, 30d offset 30d)
    labels: {signal: churn}
    summary: x
  - alert: B
    by: category
    expr: sum(sales.order.amount, 90d) > 0 and count(usage.activity, 7d) > 0 and distinct(relationship.contact_change.role, 90d) > 0
    labels: {signal: growth}
    summary: x
)");
  ASSERT_NE(rules, nullptr);
  const model::SeriesSpecs& specs = rules->series_specs();
  EXPECT_EQ(specs.size(), 3u);  // the two spellings of A's filter share one series
  std::vector<std::string> keys;
  for (const char* type :
       {"support.ticket", "sales.order", "usage.activity", "relationship.contact_change"})
    if (const auto* list = specs.for_type(type))
      for (const auto& e : *list) keys.push_back(e.key);
  EXPECT_THAT(
      keys, UnorderedElementsAre(R"(support.ticket{action=="opened",severity<=2})",
                                 "sales.order by category", "relationship.contact_change by role"));
  // distinct() over a type that has the `by` field cannot be split by it.
  EXPECT_THAT(load_errors(R"(alerts:
  - alert: B
    by: category
    expr: distinct(sales.order.product, 90d) > 0
    labels: {signal: growth}
    summary: x
)"),
              ElementsAre("r.yaml:4:11: distinct() cannot be used in a rule grouped by "
                          "'category' over sales.order, which has that field"));
}

TEST(RuleSet, HashIsStableAndCoversNamesContentAndOrder) {
  const std::string a = "alerts: []\n";
  const std::string b = "derived: []\n";
  auto h = [](const std::vector<std::pair<std::string, std::string>>& files) {
    LoadResult r = load_rules_from_strings(files);
    EXPECT_NE(r.rules, nullptr);
    return r.rules ? r.rules->hash() : std::string();
  };
  const std::string base = h({{"a.yaml", a}, {"b.yaml", b}});
  EXPECT_EQ(base.size(), 16u);
  EXPECT_EQ(base.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(h({{"a.yaml", a}, {"b.yaml", b}}), base);
  EXPECT_NE(h({{"a.yaml", a}, {"b.yaml", b + " "}}), base);
  EXPECT_NE(h({{"c.yaml", a}, {"b.yaml", b}}), base);
  EXPECT_NE(h({{"b.yaml", b}, {"a.yaml", a}}), base);
  // FNV-1a 64 of nothing is its offset basis.
  EXPECT_EQ(h({}), "cbf29ce484222325");
}

TEST(RuleSet, LoadsDirectoriesInNameOrderSkippingRuleTests) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("kamwatch-rules-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name) << text;
  };
  const std::string alert =
      "alerts:\n  - alert: %\n    expr: count(sales.order, 30d) > 0\n"
      "    labels: {signal: growth}\n    summary: x\n";
  auto named = [&](const char* n) {
    std::string s = alert;
    s.replace(s.find('%'), 1, n);
    return s;
  };
  write("b.yml", named("B"));
  write("a.yaml", named("A"));
  write("a_test.yaml", "this: is a rule test file, not rules");
  write("notes.txt", "not yaml: [");
  LoadResult r = load_rules({dir.string()});
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
  ASSERT_NE(r.rules, nullptr);
  EXPECT_THAT(r.rules->files(), ElementsAre((dir / "a.yaml").string(), (dir / "b.yml").string()));
  EXPECT_EQ(r.rules->alerts()[0]->name(), "A");
  EXPECT_EQ(r.rules->alerts()[0]->pos().file, (dir / "a.yaml").string());
  // The same files loaded by name give the same hash.
  LoadResult again = load_rules({(dir / "a.yaml").string(), (dir / "b.yml").string()});
  ASSERT_NE(again.rules, nullptr);
  EXPECT_EQ(again.rules->hash(), r.rules->hash());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kamwatch::rules::testing

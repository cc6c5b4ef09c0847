#include "report/replay_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report/svg_charts.h"
#include "test_util.h"

namespace kamwatch::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

engine::AlertTransition transition(engine::AlertTransition::Status status, std::string alert,
                                   std::string account, std::string signal, std::string severity,
                                   TimeMs t, std::string group = "") {
  engine::AlertTransition x;
  x.status = status;
  x.alert = std::move(alert);
  x.account = std::move(account);
  x.group = std::move(group);
  x.at = t;
  x.starts_at = t;
  x.labels = {{"alertname", x.alert}, {"signal", signal}, {"severity", severity}};
  return x;
}

constexpr auto kFiring = engine::AlertTransition::Status::kFiring;
constexpr auto kResolved = engine::AlertTransition::Status::kResolved;

class ReplayReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transitions_ = {
        transition(kFiring, "usage_drop", "A-1", "churn", "warning", at("2026-02-10T08:00:00Z")),
        transition(kFiring, "competitor_<share>", "A-1", "competitor", "critical",
                   at("2026-03-01T00:00:00Z"), "sensors"),
        transition(kResolved, "usage_drop", "A-1", "churn", "warning", at("2026-03-12T08:00:00Z")),
        transition(kFiring, "expansion_ready", "B-2", "growth", "info", at("2026-04-20T00:00:00Z")),
        transition(kFiring, "usage_drop", "C-3", "churn", "warning", at("2026-04-21T00:00:00Z")),
    };
    in_.transitions = transitions_;
    in_.from = at("2026-01-01T00:00:00Z");
    in_.to = at("2026-06-30T00:00:00Z");
    in_.rules = "rules/ (rule set abc123)";
    in_.events = "/tmp/sim.jsonl";
    in_.events_applied = 12345;
    in_.account_names = {{"A-1", "Acme <script>alert(1)</script> & Co"}};
  }

  BacktestScores scores() const {
    BacktestScores s;
    s.truth_accounts = 40;
    ScoreRow risk{"risk (churn or competitor)",
                  "churn|competitor",
                  12,
                  11,
                  13,
                  11,
                  11.0 / 12,
                  11.0 / 13,
                  42.5,
                  11};
    ScoreRow churn{"churn", "churn", 8, 7, 9, 7, 0.875, 7.0 / 9, 37, 7};
    ScoreRow growth{"growth", "growth", 0, 0, 0, 0, NAN, NAN, NAN, 0};
    s.signals = {risk, churn, growth};
    ScoreRow silent{"churn_silent", "churn", 3, 2, 0, 0, 2.0 / 3, NAN, 58, 2};
    s.scenarios = {silent};
    s.truth = {
        {"A-1", "churn_silent", "churn", at("2026-01-20T00:00:00Z"), at("2026-05-01T00:00:00Z")},
        {"D-4", "competitor_price", "competitor", at("2026-02-01T00:00:00Z"), 0}};
    return s;
  }

  std::vector<engine::AlertTransition> transitions_;
  ReplayReportInput in_;
};

TEST_F(ReplayReportTest, HasEverySectionInOrderAndIsSelfContained) {
  in_.scores = scores();
  const std::string html = render_replay_report(in_);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  std::size_t last = 0;
  for (std::string_view id : kReplaySectionIds) {
    const std::size_t p = html.find("<section id=\"" + std::string(id) + "\"");
    ASSERT_NE(p, std::string::npos) << id;
    EXPECT_GT(p, last) << id;
    last = p;
  }
  EXPECT_THAT(html, HasSubstr("</html>\n"));
  for (const char* external :
       {"<script", "src=", "http://", "https://", "<link", "@import", "url("})
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  // In-page links only.
  for (std::size_t p = html.find("href=\""); p != std::string::npos;
       p = html.find("href=\"", p + 1))
    EXPECT_EQ(html[p + 6], '#');
}

TEST_F(ReplayReportTest, ScoresTableShowsTheRowsAsGiven) {
  in_.scores = scores();
  const std::string s = section(render_replay_report(in_), "scores");
  EXPECT_THAT(s, HasSubstr("<td>risk (churn or competitor)</td><td class=\"num\">12</td>"
                           "<td class=\"num\">11</td><td class=\"num\">0.917</td>"
                           "<td class=\"num\">13</td><td class=\"num\">0.846</td>"
                           "<td class=\"num\">42</td>"));  // 42.5: printf rounds half to even
  EXPECT_THAT(s, HasSubstr("<td>churn</td><td class=\"num\">8</td><td class=\"num\">7</td>"
                           "<td class=\"num\">0.875</td><td class=\"num\">9</td>"
                           "<td class=\"num\">0.778</td><td class=\"num\">37</td>"));
  // Undefined ratios and lead times say so.
  EXPECT_THAT(s, HasSubstr("<td>growth</td><td class=\"num\">0</td><td class=\"num\">0</td>"
                           "<td class=\"num\">n/a</td>"));
  EXPECT_THAT(s, HasSubstr("<td>churn_silent</td><td>churn</td><td class=\"num\">3</td>"
                           "<td class=\"num\">2</td><td class=\"num\">0.667</td>"
                           "<td class=\"num\">58</td>"));
  EXPECT_THAT(s, HasSubstr("bar-chart horizontal"));
  EXPECT_EQ(format_ratio(11.0 / 12), "0.917");
  EXPECT_EQ(format_ratio(NAN), "n/a");
  EXPECT_EQ(format_lead_days(37.4), "37");
}

TEST_F(ReplayReportTest, WithoutTruthTheScoresSectionSaysWhy) {
  const std::string html = render_replay_report(in_);
  EXPECT_THAT(section(html, "scores"), HasSubstr("No data: the replay was not scored"));
  EXPECT_THAT(section(html, "scores"), HasSubstr("--truth"));
  EXPECT_THAT(section(html, "replay"), HasSubstr("no (replay without --truth)"));
}

TEST_F(ReplayReportTest, RulesAndWeeklyCharts) {
  const std::string html = render_replay_report(in_);
  const std::string rules = section(html, "rules");
  // usage_drop: 2 firings, 1 resolved, 2 accounts, 1 still firing, median 30 days firing.
  EXPECT_THAT(rules, HasSubstr("<td>usage_drop</td><td>churn</td>"));
  EXPECT_THAT(rules, HasSubstr("<td class=\"num\">2</td><td class=\"num\">1</td>"
                               "<td class=\"num\">2</td><td class=\"num\">1</td>"
                               "<td class=\"num\">30.0</td>"));
  EXPECT_THAT(rules, HasSubstr("competitor_&lt;share&gt;"));
  EXPECT_THAT(rules, Not(HasSubstr("competitor_<share>")));
  const std::string weekly = section(html, "alerts-over-time");
  // One stacked chart per signal: churn, competitor, growth.
  EXPECT_EQ(count(weekly, "<svg class=\"chart bar-chart\""), 3u);
  EXPECT_LT(weekly.find("churn \xC2\xB7 2 firings"), weekly.find("competitor \xC2\xB7 1 firing<"));
  EXPECT_LT(weekly.find("competitor \xC2\xB7"), weekly.find("growth \xC2\xB7"));
  // The firing of 2026-02-10 falls in the week starting 2026-02-04 (26 weeks ending with
  // 2026-06-30, so starting on 2025-12-31).
  EXPECT_THAT(weekly, HasSubstr("<title>2026-02-04: 1 firings</title>"));
}

TEST_F(ReplayReportTest, TimelinePerAlertedAccountWithItsScenario) {
  in_.scores = scores();
  const std::string t = section(render_replay_report(in_), "timelines");
  EXPECT_EQ(count(t, "<svg class=\"chart timeline-chart\""), 3u);  // A-1, B-2, C-3
  // Escaped account name, intervals with their dates, the scenario window.
  EXPECT_THAT(t, HasSubstr("Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (A-1)"));
  EXPECT_THAT(t, Not(HasSubstr("<script>")));
  EXPECT_THAT(t, HasSubstr("usage_drop: firing 2026-02-10 \xE2\x80\x93 2026-03-12 (30 days)"));
  EXPECT_THAT(t, HasSubstr("competitor_&lt;share&gt; (sensors): firing 2026-03-01 \xE2\x80\x93 "
                           "still firing at 2026-06-30"));
  EXPECT_THAT(t, HasSubstr("scenario churn_silent: 2026-01-20 \xE2\x80\x93 2026-05-01"));
  EXPECT_THAT(t, HasSubstr("class=\"span\""));
  // D-4 had a scenario and no alert at all.
  EXPECT_THAT(t, HasSubstr("Scenario accounts without any alert"));
  EXPECT_THAT(t, HasSubstr("<td>D-4</td><td>competitor_price</td>"));
}

TEST_F(ReplayReportTest, LimitsTheTimelines) {
  in_.options.max_accounts = 1;
  const std::string t = section(render_replay_report(in_), "timelines");
  EXPECT_EQ(count(t, "<svg class=\"chart timeline-chart\""), 1u);
  EXPECT_THAT(t, HasSubstr("2 more alerted accounts not shown"));
}

TEST_F(ReplayReportTest, NoTransitions) {
  in_.transitions = {};
  const std::string html = render_replay_report(in_);
  EXPECT_THAT(section(html, "rules"), HasSubstr("No data: no rule fired"));
  EXPECT_THAT(section(html, "alerts-over-time"), HasSubstr("No data"));
  EXPECT_THAT(section(html, "timelines"), HasSubstr("No data: no account was alerted"));
}

TEST(TimelineChart, DrawsIntervalsAndSpans) {
  svg::TimelineChart c;
  c.title = "t <1>";
  c.from = at("2026-01-01T00:00:00Z");
  c.to = at("2026-03-01T00:00:00Z");
  c.rows = {{"rule a", {{c.from + kDayMs, c.from + 10 * kDayMs, false, "a1", ""}}, "#123456"},
            {"rule b", {{c.from + 20 * kDayMs, c.to + 99 * kDayMs, true, "b1", ""}}, "#654321"}};
  c.spans = {{c.from + 5 * kDayMs, c.from + 40 * kDayMs, "#fde8c8", "scenario"}};
  const std::string svg = svg::timeline_chart(c);
  EXPECT_EQ(svg.rfind("<svg class=\"chart timeline-chart\"", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("<title>t &lt;1&gt;</title>"));
  EXPECT_EQ(count(svg, "<rect class=\"interval"), 2u);
  EXPECT_EQ(count(svg, "class=\"interval open\""), 1u);
  EXPECT_THAT(svg, HasSubstr("<title>scenario</title>"));
  EXPECT_THAT(svg, HasSubstr(">Feb 2026<"));
  EXPECT_THAT(svg::timeline_chart(svg::TimelineChart{}), HasSubstr("No data"));
}

TEST(ParetoChart, CumulativeShareEndsAtOneHundredPercent) {
  svg::ParetoChart c;
  c.title = "revenue";
  c.categories = {"a", "b", "c"};
  c.values = {60, 30, 10};
  const std::string svg = svg::pareto_chart(c);
  EXPECT_EQ(count(svg, "class=\"bar\""), 3u);
  EXPECT_THAT(svg, HasSubstr("a: cumulative 60.0% (1 account)"));
  EXPECT_THAT(svg, HasSubstr("b: cumulative 90.0% (2 accounts)"));
  EXPECT_THAT(svg, HasSubstr("c: cumulative 100.0% (3 accounts)"));
  EXPECT_THAT(svg, HasSubstr("80% of the total"));
  c.values = {0, 0, 0};
  EXPECT_THAT(svg::pareto_chart(c), HasSubstr("No data"));
}

}  // namespace
}  // namespace kamwatch::report

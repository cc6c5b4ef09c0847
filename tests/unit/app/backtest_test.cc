#include "app/backtest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kamwatch::app {
namespace {

using ::testing::HasSubstr;

const TimeMs kDay0 = *parse_rfc3339("2025-01-01T00:00:00Z");
TimeMs day(int d) { return kDay0 + static_cast<TimeMs>(d) * kDayMs; }

engine::AlertTransition firing(std::string account, std::string alert, std::string signal,
                               TimeMs at) {
  engine::AlertTransition t;
  t.alert = std::move(alert);
  t.account = std::move(account);
  t.at = at;
  t.starts_at = at;
  t.labels = {{"signal", std::move(signal)}};
  return t;
}

class BacktestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kw-backtest-XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream f(path_);
    const auto rec = [&](const char* account, const char* scenario, const char* signal, int onset,
                         int outcome) {
      f << "{\"account\":\"" << account << "\",\"scenario\":\"" << scenario << "\",\"signal\":\""
        << signal << "\"";
      if (onset >= 0) f << ",\"onset\":\"" << format_rfc3339(day(onset)) << "\"";
      if (outcome >= 0) f << ",\"outcome_time\":\"" << format_rfc3339(day(outcome)) << "\"";
      f << "}\n";
    };
    rec("C1", "churn_silent", "churn", 100, 200);          // detected at day 150: lead 50
    rec("C2", "churn_service", "churn", 100, 200);         // missed
    rec("K1", "competitor_price", "competitor", 50, 150);  // detected at day 60: lead 90
    rec("H1", "none", "none", -1, -1);                     // healthy, alerted: false positive
    rec("G1", "growth_expansion", "growth", 80, -1);       // no outcome: detected, no lead time
  }
  void TearDown() override { std::remove(path_.c_str()); }

  std::vector<engine::AlertTransition> transitions() const {
    std::vector<engine::AlertTransition> v = {
        firing("C1", "usage_drop", "churn", day(90)),   // before the onset: not in window
        firing("C1", "usage_drop", "churn", day(150)),  // in window
        firing("H1", "usage_drop", "churn", day(120)),  // false positive
        firing("K1", "competitor_win", "competitor", day(60)),
        firing("G1", "expansion", "growth", day(100)),
    };
    engine::AlertTransition resolved = firing("K1", "competitor_win", "competitor", day(70));
    resolved.status = engine::AlertTransition::Status::kResolved;
    v.push_back(resolved);
    return v;
  }

  std::string path_;
};

TEST_F(BacktestTest, ScoresPerSignalAndScenario) {
  auto s = score_backtest(path_, transitions());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->truth_accounts, 5u);
  ASSERT_EQ(s->signals.size(), 4u);
  const report::ScoreRow& risk = s->signals[0];
  EXPECT_EQ(risk.label, "risk (churn or competitor)");
  EXPECT_EQ(risk.scenario_accounts, 3u);  // C1, C2, K1
  EXPECT_EQ(risk.detected, 2u);           // C1, K1
  EXPECT_EQ(risk.alerted, 3u);            // C1, H1, K1
  EXPECT_EQ(risk.correct, 2u);
  EXPECT_DOUBLE_EQ(risk.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(risk.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(risk.median_lead_days, 70);  // (50 + 90) / 2
  const report::ScoreRow& churn = s->signals[1];
  EXPECT_EQ(churn.label, "churn");
  EXPECT_EQ(churn.scenario_accounts, 2u);
  EXPECT_EQ(churn.detected, 1u);
  EXPECT_EQ(churn.alerted, 2u);
  EXPECT_DOUBLE_EQ(churn.recall, 0.5);
  EXPECT_DOUBLE_EQ(churn.precision, 0.5);
  EXPECT_DOUBLE_EQ(churn.median_lead_days, 50);
  const report::ScoreRow& competitor = s->signals[2];
  EXPECT_DOUBLE_EQ(competitor.recall, 1);
  EXPECT_DOUBLE_EQ(competitor.precision, 1);
  EXPECT_DOUBLE_EQ(competitor.median_lead_days, 90);
  const report::ScoreRow& growth = s->signals[3];
  EXPECT_EQ(growth.detected, 1u);
  EXPECT_EQ(growth.lead_samples, 0u);
  EXPECT_TRUE(std::isnan(growth.median_lead_days));

  ASSERT_EQ(s->scenarios.size(), 4u);  // by name; the healthy record is not a scenario
  EXPECT_EQ(s->scenarios[0].label, "churn_service");
  EXPECT_EQ(s->scenarios[0].detected, 0u);
  EXPECT_DOUBLE_EQ(s->scenarios[0].recall, 0);
  EXPECT_EQ(s->scenarios[1].label, "churn_silent");
  EXPECT_DOUBLE_EQ(s->scenarios[1].recall, 1);
  EXPECT_DOUBLE_EQ(s->scenarios[1].median_lead_days, 50);
  EXPECT_EQ(s->scenarios[2].label, "competitor_price");
  EXPECT_EQ(s->scenarios[3].label, "growth_expansion");
  EXPECT_EQ(s->truth.size(), 4u);
}

// The printed table is formatted from the same struct: every row's numbers appear in its line.
TEST_F(BacktestTest, PrintedTableAgreesWithTheStruct) {
  auto s = score_backtest(path_, transitions());
  ASSERT_TRUE(s.ok());
  const std::string table = format_backtest_table(*s);
  EXPECT_THAT(table,
              HasSubstr("| risk (churn or competitor) | 3 | 2 | 0.667 | 3 | 0.667 | 70 |\n"));
  EXPECT_THAT(table, HasSubstr("| churn | 2 | 1 | 0.500 | 2 | 0.500 | 50 |\n"));
  EXPECT_THAT(table, HasSubstr("| competitor | 1 | 1 | 1.000 | 1 | 1.000 | 90 |\n"));
  EXPECT_THAT(table, HasSubstr("| growth | 1 | 1 | 1.000 | 1 | 1.000 | n/a |\n"));
  EXPECT_THAT(table, HasSubstr("| churn_silent | churn | 1 | 1 | 1.000 | 50 |\n"));
  for (const report::ScoreRow& r : s->signals) {
    const std::size_t p = table.find("| " + r.label + " |");
    ASSERT_NE(p, std::string::npos) << r.label;
    const std::string line = table.substr(p, table.find('\n', p) - p);
    // Columns as scripts/backtest.sh reads them: $5 recall, $7 precision (split on '|').
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '|');) cols.push_back(c);
    ASSERT_GE(cols.size(), 8u) << line;
    EXPECT_EQ(cols[4], " " + report::format_ratio(r.recall) + " ") << line;
    EXPECT_EQ(cols[6], " " + report::format_ratio(r.precision) + " ") << line;
    EXPECT_EQ(cols[7], " " + report::format_lead_days(r.median_lead_days) + " ") << line;
  }
  // The compatibility wrapper prints the same.
  auto printed = score_against_truth(path_, transitions(), {});
  ASSERT_TRUE(printed.ok());
  EXPECT_EQ(*printed, table);
}

TEST_F(BacktestTest, Errors) {
  EXPECT_EQ(score_backtest("/nonexistent/truth.jsonl", {}).error().code, "truth_unreadable");
  std::ofstream(path_) << "{\"account\":\"A\"}\nnot json\n";
  auto bad = score_backtest(path_, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "truth_invalid");
  EXPECT_THAT(bad.error().message, HasSubstr(":2: "));
}

}  // namespace
}  // namespace kamwatch::app

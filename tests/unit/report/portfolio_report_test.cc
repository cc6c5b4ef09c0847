#include "report/portfolio_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace kamwatch::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

engine::AlertTransition firing(std::string alert, std::string signal, std::string severity) {
  engine::AlertTransition t;
  t.alert = alert;
  t.labels = {{"alertname", alert}, {"signal", signal}, {"severity", severity}};
  return t;
}

PortfolioAccount account(std::string id, std::string name, double revenue, double score,
                         std::string band) {
  PortfolioAccount a;
  a.id = std::move(id);
  a.name = std::move(name);
  a.kam = "jane@example.com";
  a.tier = "strategic";
  a.revenue = revenue;
  a.score = score;
  a.band = std::move(band);
  return a;
}

class PortfolioReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_.now = *parse_rfc3339("2026-06-15T12:00:00Z");
    in_.kam = "jane@example.com";
    auto a = account("A", "Alpha <b>GmbH</b>", 500000, 80, "green");  // warning churn alert
    a.key_account = true;
    a.firing = {firing("usage_drop", "churn", "warning")};
    a.clv = 900000;
    a.p_alive = 0.97;
    auto b = account("B", "Beta", 300000, 35, "red");  // critical competitor alert
    b.key_account = true;
    b.firing = {firing("competitor_win", "competitor", "critical"),
                firing("upsell", "growth", "info")};
    auto c = account("C", "Gamma", 150000, 60, "yellow");  // yellow, no alert
    c.clv = 200000;
    auto d = account("D", "Delta", 50000, 90, "green");  // healthy, growth alert
    d.firing = {firing("expansion", "growth", "warning")};
    d.clv = 100000;
    in_.accounts = {d, c, b, a};
  }
  PortfolioReportInput in_;
};

TEST_F(PortfolioReportTest, SectionsInOrderSelfContainedAndEscaped) {
  const std::string html = render_portfolio_report(in_);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  std::size_t last = 0;
  for (std::string_view id : kPortfolioSectionIds) {
    const std::size_t p = html.find("<section id=\"" + std::string(id) + "\"");
    ASSERT_NE(p, std::string::npos) << id;
    EXPECT_GT(p, last);
    last = p;
  }
  for (const char* external : {"<script", "src=", "http://", "https://", "<link", "url("})
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  EXPECT_THAT(html, HasSubstr("Alpha &lt;b&gt;GmbH&lt;/b&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<b>GmbH")));
  EXPECT_THAT(html, HasSubstr("<title>Portfolio: jane@example.com</title>"));
}

TEST_F(PortfolioReportTest, RanksRiskBySeverityThenScore) {
  const std::string risk = section(render_portfolio_report(in_), "risk");
  const std::size_t b = risk.find("Beta"), a = risk.find("Alpha"), c = risk.find("Gamma");
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(b, a);                              // critical before warning
  EXPECT_LT(a, c);                              // an alert before none
  EXPECT_THAT(risk, Not(HasSubstr("Delta")));   // green, no risk alert
  EXPECT_THAT(risk, Not(HasSubstr("upsell")));  // only churn and competitor alerts
}

TEST_F(PortfolioReportTest, RanksOpportunitiesByGrowthAlertThenClv) {
  const std::string opp = section(render_portfolio_report(in_), "opportunity");
  const std::size_t d = opp.find("Delta"), b = opp.find("Beta"), a = opp.find("Alpha"),
                    c = opp.find("Gamma");
  EXPECT_LT(d, b);  // warning growth alert before info
  EXPECT_LT(b, a);  // then CLV: Alpha 900,000 before Gamma 200,000
  EXPECT_LT(a, c);
  EXPECT_THAT(opp, HasSubstr("900,000"));
  EXPECT_THAT(opp, HasSubstr("97%"));
}

TEST_F(PortfolioReportTest, ParetoAndTableByRevenue) {
  in_.options.currency = "EUR ";
  const std::string html = render_portfolio_report(in_);
  const std::string pareto = section(html, "pareto");
  // 500k + 300k = 800k of 1M: two of four accounts make 80%.
  EXPECT_THAT(pareto, HasSubstr("2 of 4 (50%)"));
  EXPECT_THAT(pareto, HasSubstr("<svg class=\"chart pareto-chart\""));
  EXPECT_THAT(pareto, HasSubstr("Beta: cumulative 80.0% (2 accounts)"));
  const std::string table = section(html, "accounts");
  EXPECT_LT(table.find("Alpha"), table.find("Beta"));
  EXPECT_LT(table.find("Beta"), table.find("Gamma"));
  EXPECT_LT(table.find("Gamma"), table.find("Delta"));
  EXPECT_THAT(table, HasSubstr("EUR 500,000"));
  EXPECT_THAT(table, HasSubstr("50.0%"));
  EXPECT_THAT(table, HasSubstr("EUR 1,000,000"));
  EXPECT_THAT(table, Not(HasSubstr("<th>KAM</th>")));  // one KAM's page
}

TEST_F(PortfolioReportTest, AllAccountsShowTheKamAndEmptySaysWhy) {
  in_.kam.clear();
  EXPECT_THAT(section(render_portfolio_report(in_), "accounts"), HasSubstr("<th>KAM</th>"));
  in_.kam = "nobody@example.com";
  in_.accounts.clear();
  const std::string html = render_portfolio_report(in_);
  EXPECT_THAT(section(html, "accounts"), HasSubstr("No data: no account is managed by"));
  EXPECT_THAT(section(html, "pareto"), HasSubstr("No data"));
  EXPECT_THAT(section(html, "risk"), HasSubstr("No data"));
}

}  // namespace
}  // namespace kamwatch::report

#include "scoring/portfolio.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "cdnow.h"

namespace kamwatch::scoring {
namespace {

using model::AccountState;
using model::Event;
using model::FieldValue;

TimeMs day(const char* yyyy_mm_dd) { return parse_date(yyyy_mm_dd).value(); }

Event order(const std::string& account, TimeMs t, double amount) {
  static int n = 0;
  return Event{"o" + std::to_string(++n),
               "erp",
               "sales.order",
               account,
               t,
               {{"amount", FieldValue::of_number(amount)}}};
}

Event ticket(const std::string& account, TimeMs t) {
  static int n = 0;
  return Event{"t" + std::to_string(++n), "desk", "support.ticket", account, t, {}};
}

std::vector<AccountRevenue> revenues(const std::map<std::string, double>& m) {
  std::vector<AccountRevenue> out;
  out.reserve(m.size());
  for (const auto& [a, r] : m) out.push_back({a, r});
  return out;
}

std::vector<const AccountState*> pointers(const std::map<std::string, AccountState>& states) {
  std::vector<const AccountState*> out;
  out.reserve(states.size());
  for (const auto& [id, st] : states) out.push_back(&st);
  return out;
}

// ---- Tiering ----

TEST(Tiering, ParetoKeySetRankAndConcentration) {
  // Total 1000. Cumulative shares A .5, B .7, C .8 (exactly the threshold), D .88, ...
  std::vector<AccountRevenue> in = revenues({{"A", 500},
                                             {"B", 200},
                                             {"C", 100},
                                             {"D", 80},
                                             {"E", 50},
                                             {"F", 30},
                                             {"G", 20},
                                             {"H", 10},
                                             {"I", 10},
                                             {"J", 0}});
  std::reverse(in.begin(), in.end());  // input order must not matter
  const Tiering t = tier_accounts(in).value();

  EXPECT_DOUBLE_EQ(t.total_revenue, 1000);
  // A, B, C reach 80%: the smallest top set that does. D is not needed.
  EXPECT_EQ(t.key_accounts, 3u);
  EXPECT_DOUBLE_EQ(t.key_threshold_revenue, 100);
  EXPECT_DOUBLE_EQ(t.key_revenue_share, 0.8);
  std::vector<std::string> order;
  std::vector<std::int64_t> ranks;
  std::vector<bool> keys;
  for (const RankedAccount& a : t.accounts) {
    order.push_back(a.account);
    ranks.push_back(a.rank);
    keys.push_back(a.key);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"}));
  // H and I tie at 10: both rank 8, and J is 10th ("1224" competition ranking).
  EXPECT_EQ(ranks, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 8, 10}));
  EXPECT_EQ(keys,
            (std::vector<bool>{true, true, true, false, false, false, false, false, false, false}));
  EXPECT_DOUBLE_EQ(t.find("B")->share, 0.2);
  EXPECT_DOUBLE_EQ(t.find("D")->cumulative_share, 0.88);
  EXPECT_EQ(t.find("nobody"), nullptr);
  // Top 20% of 10 accounts = A and B: 70% of revenue.
  EXPECT_DOUBLE_EQ(t.top_share, 0.7);
  // Gini over 0,10,10,20,30,50,80,100,200,500: sum (2i-11) y_i = 6480; / (10 * 1000).
  EXPECT_DOUBLE_EQ(t.gini, 0.648);
}

TEST(Tiering, TiesAtTheBoundaryAreAllKey) {
  // X .4, then Y reaches .7 >= .6; Z has Y's revenue, so it is key too.
  const Tiering t =
      tier_accounts(revenues({{"X", 400}, {"Y", 300}, {"Z", 300}}), {.key_threshold = 0.6}).value();
  EXPECT_EQ(t.key_accounts, 3u);
  EXPECT_EQ(t.find("Y")->rank, 2);
  EXPECT_EQ(t.find("Z")->rank, 2);
  EXPECT_TRUE(t.find("Z")->key);
  EXPECT_DOUBLE_EQ(t.key_threshold_revenue, 300);
  // Top 20% of 3 accounts rounds up to one account.
  EXPECT_DOUBLE_EQ(t.top_share, 0.4);
}

TEST(Tiering, ThresholdOneTakesEveryAccountWithRevenue) {
  const Tiering t =
      tier_accounts(revenues({{"a", 5}, {"b", 3}, {"c", 0}, {"credit", -50}}), {.key_threshold = 1})
          .value();
  // Negative revenue (credit notes) counts as 0 in shares and is never key; it ranks last.
  EXPECT_DOUBLE_EQ(t.total_revenue, 8);
  EXPECT_EQ(t.key_accounts, 2u);
  EXPECT_FALSE(t.find("c")->key);
  EXPECT_FALSE(t.find("credit")->key);
  EXPECT_EQ(t.find("credit")->rank, 4);
  EXPECT_DOUBLE_EQ(t.find("credit")->share, 0);
  EXPECT_DOUBLE_EQ(t.accounts.back().cumulative_share, 1);
}

TEST(Tiering, EmptyAndZeroRevenuePortfolios) {
  const Tiering empty = tier_accounts({}).value();
  EXPECT_EQ(empty.key_accounts, 0u);
  EXPECT_EQ(empty.top_share, 0);
  const Tiering zero = tier_accounts(revenues({{"a", 0}, {"b", 0}})).value();
  EXPECT_EQ(zero.key_accounts, 0u);
  EXPECT_EQ(zero.find("a")->rank, 1);
  EXPECT_EQ(zero.find("b")->rank, 1);
  EXPECT_EQ(zero.gini, 0);
}

TEST(Tiering, RefusesBadInput) {
  EXPECT_EQ(tier_accounts(revenues({{"a", 1}}), {.key_threshold = 0}).error().code,
            "invalid_argument");
  EXPECT_EQ(tier_accounts(revenues({{"a", 1}}), {.key_threshold = 1.5}).error().code,
            "invalid_argument");
  EXPECT_EQ(tier_accounts({{"a", 1}, {"a", 2}}).error().code, "invalid_argument");
  EXPECT_EQ(tier_accounts({{"a", std::nan("")}}).error().code, "invalid_argument");
}

TEST(Revenue, TrailingTwelveMonthsOfDailyBuckets) {
  const TimeMs now = day("2026-03-15") + 10 * kHourMs;
  AccountState s;
  const model::Retention r;
  // The 365 days are 2025-03-16 .. 2026-03-15 (2025-03-15 is a year, 365 days, before now).
  model::apply(s, order("acme", day("2025-03-15") + 23 * kHourMs, 1), r);  // day before: out
  model::apply(s, order("acme", day("2025-03-16"), 10), r);  // first of the 365 days: in
  model::apply(s, order("acme", day("2026-01-10"), 100), r);
  model::apply(s, order("acme", day("2026-03-15") + 20 * kHourMs, 1000), r);  // later today: in
  model::apply(s, order("acme", day("2026-03-16"), 10000), r);  // after now's day: out
  model::apply(s, ticket("acme", day("2026-03-01")), r);
  EXPECT_DOUBLE_EQ(trailing_revenue(s, now), 1110);
  EXPECT_DOUBLE_EQ(trailing_revenue(s, now, {.window = 30 * kDayMs}), 1000);
  EXPECT_DOUBLE_EQ(trailing_revenue(s, now, {.amount_field = "net"}), 0);
  EXPECT_DOUBLE_EQ(trailing_revenue(AccountState{}, now), 0);
}

// ---- Retention and churn ----

TEST(Retention, CohortRetentionBetweenTwoYears) {
  const Period y2025{day("2025-01-01"), day("2026-01-01")};
  const Period y2026{day("2026-01-01"), day("2027-01-01")};
  const model::Retention r;
  std::map<std::string, AccountState> s;
  // a1 orders both years; a2 only 2025 (churned); a3 only 2026 (new); a4 orders in 2025 and
  // only opens tickets in 2026; a5 was last seen in 2024.
  model::apply(s["a1"], order("a1", day("2025-06-01"), 1), r);
  model::apply(s["a1"], order("a1", day("2026-01-01"), 1), r);  // first instant of 2026
  model::apply(s["a2"], order("a2", day("2025-12-31") + kDayMs - 1, 1), r);  // last ms of 2025
  model::apply(s["a3"], order("a3", day("2026-02-01"), 1), r);
  model::apply(s["a4"], order("a4", day("2025-03-01"), 1), r);
  model::apply(s["a4"], ticket("a4", day("2026-04-01")), r);
  model::apply(s["a5"], order("a5", day("2024-05-01"), 1), r);
  const std::vector<const AccountState*> all = pointers(s);

  // Any event counts: earlier cohort a1, a2, a4; a1 and a4 stay. 2/3 retained, 1/3 churn.
  const RetentionRates any = retention_rates(all, y2025, y2026).value();
  EXPECT_EQ(any.active_earlier, 3u);
  EXPECT_EQ(any.active_later, 3u);
  EXPECT_EQ(any.retained, 2u);
  EXPECT_EQ(any.churned, 1u);
  EXPECT_EQ(any.new_accounts, 1u);
  EXPECT_DOUBLE_EQ(any.retention, 2.0 / 3);
  EXPECT_DOUBLE_EQ(any.churn, 1.0 / 3);

  // Only orders count: a4's tickets do not keep it, 1/3 retained.
  const RetentionRates orders =
      retention_rates(all, y2025, y2026, {.types = {"sales.order"}}).value();
  EXPECT_EQ(orders.retained, 1u);
  EXPECT_DOUBLE_EQ(orders.retention, 1.0 / 3);
  EXPECT_DOUBLE_EQ(orders.churn, 2.0 / 3);

  EXPECT_FALSE(active_in(s["a5"], y2025));
  EXPECT_TRUE(active_in(s["a5"], {day("2024-05-01"), day("2024-05-02")}));
  EXPECT_EQ(retention_rates(all, {day("2020-01-01"), day("2021-01-01")}, y2026).error().code,
            "empty_cohort");
  EXPECT_EQ(retention_rates(all, {day("2025-01-01"), day("2025-01-01")}, y2026).error().code,
            "invalid_argument");
}

TEST(Retention, FromActivityFlags) {
  const Activity flags[] = {
      {true, true}, {true, false}, {true, false}, {true, true}, {false, true}};
  const RetentionRates r = retention_rates(flags).value();
  EXPECT_DOUBLE_EQ(r.retention, 0.5);
  EXPECT_DOUBLE_EQ(r.churn, 0.5);
  EXPECT_EQ(r.new_accounts, 1u);
}

// ---- CLV ----

// As in bgnbd_test: `lifetimes`' CDNOW fit, and its E[Y(26)] and E[Y(39)] for the paper's
// customer x = 2, t_x = 30.43, T = 38.86 (weeks).
constexpr BgNbdParams kLifetimes{0.24259292827982182, 4.413532265271819, 0.7928859664406882,
                                 2.42575238262586};
constexpr CustomerSummary kPaperCustomer{2, 30.43, 38.86};
constexpr double kE26 = 0.8615579675729388;
constexpr double kE39 = 1.2259104241743999;

TEST(Clv, DiscountedExpectedPurchasesTimesValue) {
  // One step of 39 weeks at 10%/year: 40 * E[Y(39)] / 1.1^(273/365).
  const ClvOptions one_step{
      .horizon = 273 * kDayMs, .step = 273 * kDayMs, .annual_discount_rate = 0.1};
  EXPECT_NEAR(clv(kLifetimes, kPaperCustomer, kWeekMs, 40, one_step).value(),
              40 * kE39 / std::pow(1.1, 273.0 / 365), 1e-9);
  // Two steps (26 weeks, then 13): each increment discounted at its own end.
  const ClvOptions two_steps{
      .horizon = 273 * kDayMs, .step = 182 * kDayMs, .annual_discount_rate = 0.1};
  EXPECT_NEAR(clv(kLifetimes, kPaperCustomer, kWeekMs, 40, two_steps).value(),
              40 * (kE26 / std::pow(1.1, 182.0 / 365) + (kE39 - kE26) / std::pow(1.1, 273.0 / 365)),
              1e-9);
  // No discount: the increments add up to value * E[Y(39)] whatever the step.
  const ClvOptions monthly{.horizon = 273 * kDayMs, .step = 30 * kDayMs, .annual_discount_rate = 0};
  EXPECT_NEAR(clv(kLifetimes, kPaperCustomer, kWeekMs, 40, monthly).value(), 40 * kE39, 1e-9);
  EXPECT_EQ(clv(kLifetimes, kPaperCustomer, kWeekMs, 40, {.step = 0}).error().code,
            "invalid_argument");
}

TEST(Clv, ValuePerPurchaseDayShrinksTowardThePortfolio) {
  // (1 * 100 + 3 * 40) / (1 + 3) = 55.
  EXPECT_DOUBLE_EQ(shrunk_day_value(40, 3, 100, 1), 55);
  EXPECT_DOUBLE_EQ(shrunk_day_value(40, 3, 100, 0), 40);  // no shrinkage
  EXPECT_DOUBLE_EQ(shrunk_day_value(0, 0, 100, 1), 100);  // no history: the portfolio mean
}

// ---- The portfolio ----

TEST(Portfolio, SmallPortfolioKeepsTiersWhenTheFitIsNotPossible) {
  const model::Retention r;
  std::map<std::string, AccountState> s;
  model::apply(s["big"], order("big", day("2026-01-10"), 900), r);
  model::apply(s["big"], order("big", day("2026-02-10"), 300), r);
  model::apply(s["mid"], order("mid", day("2026-02-01"), 200), r);
  model::apply(s["small"], order("small", day("2026-02-02"), 100), r);
  model::apply(s["none"], ticket("none", day("2026-02-02")), r);
  const std::vector<const AccountState*> all = pointers(s);

  const Portfolio p = score_portfolio(all, day("2026-03-01")).value();
  EXPECT_EQ(p.summary.accounts, 4u);
  EXPECT_EQ(p.summary.accounts_with_revenue, 3u);
  EXPECT_DOUBLE_EQ(p.summary.total_revenue, 1500);
  // big alone is 80% of revenue.
  EXPECT_EQ(p.summary.key_accounts, 1u);
  EXPECT_DOUBLE_EQ(p.summary.key_threshold_revenue, 1200);
  ASSERT_NE(p.find("big"), nullptr);
  EXPECT_TRUE(p.find("big")->key);
  EXPECT_EQ(p.find("small")->rank, 3);
  EXPECT_EQ(p.find("none")->rank, 4);
  EXPECT_FALSE(p.find("none")->orders.has_value());
  EXPECT_EQ(p.accounts.front().account, "big");
  // Three customers cannot identify BG/NBD: reported, not fatal.
  EXPECT_FALSE(p.summary.bgnbd.has_value());
  ASSERT_TRUE(p.summary.bgnbd_error.has_value());
  EXPECT_EQ(p.summary.bgnbd_error->code, "too_few_customers");
  EXPECT_FALSE(p.find("big")->p_alive.has_value());
  // Value per purchase day: 1500 over 4 purchase days; big's own mean 600 shrunk toward it.
  EXPECT_DOUBLE_EQ(p.summary.mean_day_value, 375);
  EXPECT_DOUBLE_EQ(p.find("big")->day_value, (375 + 2 * 600) / 3.0);
  EXPECT_EQ(p.summary.order_accounts, 3u);
}

// The CDNOW sample as a portfolio: figures cross-checked with pandas over the same file.
TEST(Portfolio, CdnowSamplePortfolio) {
  std::map<std::string, AccountState> states;
  int seq = 0;
  for (const testing::CdnowTransaction& t : testing::load_cdnow_sample()) {
    model::apply(states[t.customer], testing::to_order_event(t, ++seq), model::Retention{});
  }
  const std::vector<const AccountState*> all = pointers(states);

  // As of the end of the 39-week calibration period.
  const Portfolio cal = score_portfolio(all, day("1997-09-30")).value();
  const PortfolioSummary& s = cal.summary;
  EXPECT_EQ(s.accounts, 2357u);
  EXPECT_EQ(s.order_accounts, 2357u);
  EXPECT_EQ(s.incomplete_summaries, 0u);
  EXPECT_EQ(s.accounts_with_revenue, 2349u);  // 8 customers bought for $0
  EXPECT_NEAR(s.total_revenue, 173115.55, 1e-6);
  EXPECT_EQ(s.key_accounts, 900u);
  EXPECT_DOUBLE_EQ(s.key_threshold_revenue, 49.68);
  EXPECT_NEAR(s.key_revenue_share, 0.8002236656383553, 1e-12);
  EXPECT_NEAR(s.top_share, 0.6334776974107756, 1e-12);
  EXPECT_NEAR(s.gini, 0.5852772312113108, 1e-12);
  EXPECT_NEAR(s.mean_day_value, 35.96085375986705, 1e-9);  // 4,814 purchase days
  ASSERT_TRUE(s.bgnbd.has_value()) << s.bgnbd_error->to_string();
  EXPECT_NEAR(s.bgnbd->params.r, 0.243, 0.01 * 0.243);
  EXPECT_NEAR(s.bgnbd->params.b, 2.426, 0.01 * 2.426);

  const AccountFigures* id1 = cal.find("0001");  // CDNOW ID 1: x = 2, 30.43 / 38.86 weeks
  ASSERT_NE(id1, nullptr);
  ASSERT_TRUE(id1->p_alive.has_value());
  EXPECT_NEAR(*id1->p_alive, 0.7266, 5e-4);  // lifetimes: 0.726609 (rounded inputs)
  EXPECT_DOUBLE_EQ(*id1->p_alive, p_alive(s.bgnbd->params, id1->orders->bgnbd));
  EXPECT_DOUBLE_EQ(*id1->expected_purchases,
                   expected_purchases(s.bgnbd->params, id1->orders->bgnbd, 90.0 / 7).value());
  EXPECT_GT(*id1->clv, 0);

  // A year later (end of the data): everyone started in Q1 1997, so all were active in the
  // year before 1997-07-01; 812 bought again in the year to 1998-06-30.
  const Portfolio end = score_portfolio(all, day("1998-06-30")).value();
  ASSERT_TRUE(end.summary.retention.has_value());
  EXPECT_EQ(end.summary.retention->active_earlier, 2357u);
  EXPECT_EQ(end.summary.retention->retained, 812u);
  EXPECT_NEAR(end.summary.retention->retention, 812.0 / 2357, 1e-15);
  EXPECT_NEAR(end.summary.retention->churn, 1 - 812.0 / 2357, 1e-15);
  EXPECT_EQ(end.summary.key_accounts, 304u);
  EXPECT_NEAR(end.summary.top_share, 0.9143370452524762, 1e-12);
}

// score_portfolio_each hands out the same figures, in rank order, as score_portfolio keeps, and
// consumes its inputs: what the daemon's portfolio refresh relies on.
TEST(Portfolio, EachHandsOutTheFiguresInRankOrder) {
  std::map<std::string, AccountState> states;
  int seq = 0;
  for (const testing::CdnowTransaction& t : testing::load_cdnow_sample())
    model::apply(states[t.customer], testing::to_order_event(t, ++seq), model::Retention{});
  const TimeMs now = day("1997-09-30");
  std::vector<AccountInputs> inputs;
  for (const auto& [id, st] : states) inputs.push_back(account_inputs(st, now));
  const Portfolio kept = score_portfolio(std::span<const AccountInputs>(inputs), now).value();

  std::vector<AccountFigures> handed;
  auto sum = score_portfolio_each(std::move(inputs), now, {},
                                  [&](AccountFigures&& f) { handed.push_back(std::move(f)); });
  ASSERT_TRUE(sum.ok()) << sum.error().to_string();
  EXPECT_TRUE(inputs.empty());  // consumed
  EXPECT_EQ(sum->key_accounts, kept.summary.key_accounts);
  EXPECT_EQ(sum->accounts_with_revenue, kept.summary.accounts_with_revenue);
  EXPECT_EQ(sum->gini, kept.summary.gini);
  ASSERT_TRUE(sum->bgnbd.has_value());
  EXPECT_EQ(sum->bgnbd->params.r, kept.summary.bgnbd->params.r);
  ASSERT_EQ(handed.size(), kept.accounts.size());
  for (std::size_t i = 0; i < handed.size(); ++i) {
    const AccountFigures& a = handed[i];
    const AccountFigures& b = kept.accounts[i];
    ASSERT_EQ(a.account, b.account) << "at rank position " << i;
    EXPECT_EQ(a.rank, b.rank);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.revenue_share, b.revenue_share);
    EXPECT_EQ(a.p_alive, b.p_alive);
    EXPECT_EQ(a.clv, b.clv);
  }
  // Rank order: revenue descending; the first is rank 1.
  EXPECT_EQ(handed.front().rank, 1);
  for (std::size_t i = 1; i < handed.size(); ++i)
    ASSERT_GE(handed[i - 1].revenue, handed[i].revenue);

  // Cancelled while the figures are handed out (after the fit): an error, and not all handed.
  for (const auto& [id, st] : states) inputs.push_back(account_inputs(st, now));
  PortfolioOptions o;
  o.fit.cancelled = [] { return false; };  // the fit runs to the end
  handed.clear();
  o.cancelled = [&] { return handed.size() >= 1000; };  // polled every 1,024 accounts
  auto cancelled = score_portfolio_each(
      std::move(inputs), now, o, [&](AccountFigures&& f) { handed.push_back(std::move(f)); });
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, "cancelled");
  EXPECT_EQ(handed.size(), 1024u);
}

TEST(Portfolio, CancelledScoringStopsWithCancelled) {
  std::map<std::string, AccountState> states;
  int seq = 0;
  for (const testing::CdnowTransaction& t : testing::load_cdnow_sample())
    model::apply(states[t.customer], testing::to_order_event(t, ++seq), model::Retention{});
  const std::vector<const AccountState*> all = pointers(states);
  PortfolioOptions o;
  int polls = 0;
  o.cancelled = [&] { return ++polls > 3; };  // cancelled during the fit
  auto r = score_portfolio(all, day("1997-09-30"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "cancelled");
  o.cancelled = [] { return true; };  // before anything
  EXPECT_EQ(score_portfolio(all, day("1997-09-30"), o).error().code, "cancelled");
  o.cancelled = [] { return false; };  // never: the same figures as without
  auto kept = score_portfolio(all, day("1997-09-30"), o);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->summary.key_accounts, 900u);
  ASSERT_TRUE(kept->summary.bgnbd.has_value());
  EXPECT_NEAR(kept->summary.bgnbd->params.r, 0.243, 0.01 * 0.243);
}

}  // namespace
}  // namespace kamwatch::scoring

#include "scoring/summary.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cdnow.h"
#include "model/account_state.h"

namespace kamwatch::scoring {
namespace {

using model::AccountState;
using testing::CdnowTransaction;
using testing::parse_cdnow_line;
using testing::to_order_event;

TimeMs day(const char* yyyy_mm_dd) { return parse_date(yyyy_mm_dd).value(); }

// Verbatim from Lifetimes 0.11.3 datasets/CDNOW_master.txt (customer_id date cds dollars):
// single purchase (00001), two orders on one day (00002), several orders on distinct days
// (00003, 00004), and same-day repeats among many orders (00008, 00051).
constexpr const char* kMasterExcerpt = R"(
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00003 19970102  2   20.76
 00003 19970330  2   20.76
 00003 19970402  2   19.54
 00003 19971115  5   57.45
 00003 19971125  4   20.96
 00003 19980528  1   16.99
 00004 19970101  2   29.33
 00004 19970118  2   29.73
 00004 19970802  1   14.96
 00004 19971212  2   26.48
 00008 19970101  1    9.77
 00008 19970213  1   13.97
 00008 19970617  3   45.29
 00008 19970703  2   36.76
 00008 19971116  1    2.99
 00008 19971116  7   50.43
 00008 19971225  1   13.99
 00008 19980329  2   24.46
 00051 19970127  5   71.42
 00051 19970707  8  111.93
 00051 19970901  7  104.60
 00051 19971129  5   53.95
 00051 19971129  1   13.99
 00051 19971201  1   11.49
)";

// Feeds the excerpt through model::apply, one AccountState per customer, as the daemon does.
std::map<std::string, AccountState> master_states(const model::Retention& retention = {}) {
  std::map<std::string, AccountState> states;
  std::istringstream in(kMasterExcerpt);
  std::string line;
  int seq = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const CdnowTransaction t = parse_cdnow_line(line, false);
    model::apply(states[t.customer], to_order_event(t, ++seq), retention);
  }
  return states;
}

struct Expected {
  const char* customer;
  double x, t_x_days, T_days;
  std::int64_t orders;
  double amount;
};

TEST(OrderSummary, CdnowMasterCustomersFromState) {
  const auto states = master_states();
  const TimeMs end = day("1998-06-30") + 15 * kHourMs;  // any time on the last day of the data
  const SummaryOptions days{.unit = kDayMs};
  // Hand-computed: x = distinct purchase days - 1; t_x = last - first purchase day; T = end day
  // - first purchase day. 1997-01-01 -> 1998-06-30 is 364 + 181 = 545 days.
  const Expected expected[] = {
      {"00001", 0, 0, 545, 1, 11.77},
      // Two orders on 1997-01-12: one purchase day, no repeat. T = 545 - 11.
      {"00002", 0, 0, 534, 2, 89.00},
      // 6 days; 1997-01-02 -> 1998-05-28 = 364 + 147 = 511; T = 545 - 1.
      {"00003", 5, 511, 544, 6, 20.76 + 20.76 + 19.54 + 57.45 + 20.96 + 16.99},
      // 4 days; 1997-01-01 -> 1997-12-12 = 345 (day of year 346 - 1).
      {"00004", 3, 345, 545, 4, 29.33 + 29.73 + 14.96 + 26.48},
      // 8 orders on 7 days (two on 1997-11-16); 1997-01-01 -> 1998-03-29 = 364 + 88 = 452.
      {"00008", 6, 452, 545, 8, 9.77 + 13.97 + 45.29 + 36.76 + 2.99 + 50.43 + 13.99 + 24.46},
      // 6 orders on 5 days (two on 1997-11-29); 1997-01-27 -> 1997-12-01 = 334 - 26 = 308;
      // T = 545 - 26 = 519.
      {"00051", 4, 308, 519, 6, 71.42 + 111.93 + 104.60 + 53.95 + 13.99 + 11.49},
  };
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.customer);
    Result<OrderSummary> s = order_summary(states.at(e.customer), end, days);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->bgnbd.x, e.x);
    EXPECT_DOUBLE_EQ(s->bgnbd.t_x, e.t_x_days);
    EXPECT_DOUBLE_EQ(s->bgnbd.T, e.T_days);
    EXPECT_EQ(s->purchase_days, static_cast<std::int64_t>(e.x) + 1);
    EXPECT_EQ(s->day_orders, e.orders);
    EXPECT_NEAR(s->day_amount, e.amount, 1e-9);
    EXPECT_NEAR(s->mean_day_value(), e.amount / (e.x + 1), 1e-9);
    EXPECT_TRUE(s->complete);
    EXPECT_EQ(s->unretained_orders, 0);
  }
}

TEST(OrderSummary, CalibrationEndIgnoresLaterOrdersAndUsesWeeks) {
  const auto states = master_states();
  // CDNOW's calibration period ends 1997-09-30 (39 weeks); summaries in weeks (the default).
  const TimeMs end = day("1997-09-30");
  struct Case {
    const char* customer;
    double x, t_x_days, T_days;
  };
  const Case cases[] = {
      {"00001", 0, 0, 272},    // 1997-01-01 -> 09-30: 272 days
      {"00003", 2, 90, 271},   // 01-02, 03-30, 04-02 (04-02 = day 92, 01-02 = day 2)
      {"00004", 2, 213, 272},  // 01-01, 01-18, 08-02 (day 214): CDNOW summary ID 1, 30.43 / 38.86
      {"00008", 3, 183, 272},  // 01-01, 02-13, 06-17, 07-03 (day 184)
      {"00051", 2, 217, 246},  // 01-27 (day 27), 07-07, 09-01 (day 244); 09-30 = day 273
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.customer);
    Result<OrderSummary> s = order_summary(states.at(c.customer), end);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->bgnbd.x, c.x);
    EXPECT_DOUBLE_EQ(s->bgnbd.t_x, c.t_x_days / 7);
    EXPECT_DOUBLE_EQ(s->bgnbd.T, c.T_days / 7);
  }
  const OrderSummary cdnow_id1 = order_summary(states.at("00004"), end).value();
  EXPECT_NEAR(cdnow_id1.bgnbd.t_x, 30.43, 0.005);
  EXPECT_NEAR(cdnow_id1.bgnbd.T, 38.86, 0.005);
}

TEST(OrderSummary, PrunedDailyBucketsMakeXALowerBound) {
  // Daily retention of 100 days: by 1998-05-28 only that day's bucket is left for 00003.
  const auto states = master_states(model::Retention{8 * kDayMs, 100 * kDayMs});
  Result<OrderSummary> s =
      order_summary(states.at("00003"), day("1998-06-30"), SummaryOptions{.unit = kDayMs});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->complete);
  EXPECT_EQ(s->unretained_orders, 5);
  // First (from first_time) and last purchase day count; the four in between are lost.
  EXPECT_EQ(s->bgnbd.x, 1);
  EXPECT_DOUBLE_EQ(s->bgnbd.t_x, 511);  // still exact
  EXPECT_DOUBLE_EQ(s->bgnbd.T, 544);    // still exact
  EXPECT_EQ(s->bucket_days, 1);
  EXPECT_NEAR(s->mean_day_value(), 16.99, 1e-9);  // from the days still in buckets
}

TEST(OrderSummary, NoPurchasesIsAnError) {
  AccountState none;
  none.id = "quiet";
  model::apply(none, model::Event{"e1", "s", "support.ticket", "quiet", day("1997-03-01"), {}}, {});
  EXPECT_EQ(order_summary(none, day("1997-06-01")).error().code, "no_purchases");
  const auto states = master_states();
  // Before the first order: not yet a customer.
  EXPECT_EQ(order_summary(states.at("00051"), day("1997-01-26")).error().code, "no_purchases");
  // On the first order's day: a new customer, x = 0, T = 0.
  const OrderSummary born = order_summary(states.at("00051"), day("1997-01-27")).value();
  EXPECT_EQ(born.bgnbd, (CustomerSummary{0, 0, 0}));
  EXPECT_EQ(order_summary(states.at("00051"), day("1997-01-27"), {.unit = 0}).error().code,
            "invalid_argument");
}

// End to end: all 6,919 transactions of the 2,357-customer CDNOW sample go through
// model::apply; the summaries read back from state equal the published calibration summary,
// and fitting them reproduces the published estimates.
TEST(OrderSummary, CdnowSampleStateReproducesCalibrationSummaryAndFit) {
  const std::vector<CdnowTransaction> transactions = testing::load_cdnow_sample();
  ASSERT_EQ(transactions.size(), 6919u);
  std::map<std::string, AccountState> states;
  int seq = 0;
  for (const CdnowTransaction& t : transactions) {
    model::apply(states[t.customer], to_order_event(t, ++seq), model::Retention{});
  }
  ASSERT_EQ(states.size(), 2357u);

  const auto published = testing::load_cdnow_summary();
  ASSERT_EQ(published.size(), 2357u);
  std::vector<CustomerSummary> from_state;
  for (const auto& c : published) {
    char id[8];
    std::snprintf(id, sizeof id, "%04d", c.id);
    SCOPED_TRACE(id);
    Result<OrderSummary> s = order_summary(states.at(id), day("1997-09-30"));
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->bgnbd.x, c.summary.x);
    EXPECT_NEAR(s->bgnbd.t_x, c.summary.t_x, 0.005 + 1e-9);  // the file rounds to 2 decimals
    EXPECT_NEAR(s->bgnbd.T, c.summary.T, 0.005 + 1e-9);
    from_state.push_back(s->bgnbd);
  }

  const auto t0 = std::chrono::steady_clock::now();
  Result<BgNbdFit> fit = fit_bgnbd(from_state);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(fit.ok()) << fit.error().to_string();
  const BgNbdParams& p = fit->params;
  std::printf("[ CDNOW    ] from state: r=%.6f alpha=%.6f a=%.6f b=%.6f LL=%.4f fit=%.1f ms\n", p.r,
              p.alpha, p.a, p.b, fit->log_likelihood, ms);
  EXPECT_NEAR(p.r, 0.243, 0.01 * 0.243);
  EXPECT_NEAR(p.alpha, 4.414, 0.01 * 4.414);
  EXPECT_NEAR(p.a, 0.793, 0.01 * 0.793);
  EXPECT_NEAR(p.b, 2.426, 0.01 * 2.426);
}

}  // namespace
}  // namespace kamwatch::scoring

#include "scoring/portfolio_partial.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "simulated_portfolio.h"

namespace kamwatch::scoring {
namespace {

using model::AccountState;

// One simulated portfolio for every test here (simulating and applying takes a few seconds).
struct Sim {
  std::map<std::string, AccountState> states;
  TimeMs now = 0;
};

const Sim& sim_portfolio() {
  static const Sim s = [] {
    sim::SimOptions o;
    o.accounts = 240;
    o.days = 900;  // longer than the daily retention: some summaries are incomplete
    Sim out;
    out.states = testing::simulated_states(o);
    out.now = sim::history_end(o) - kHourMs;
    return out;
  }();
  return s;
}

std::vector<const AccountState*> all_of(const std::map<std::string, AccountState>& states) {
  std::vector<const AccountState*> out;
  for (const auto& [id, s] : states) out.push_back(&s);
  return out;
}

// Partition of an account, as Kafka's default partitioner would spread keys (any fixed
// function of the id does: the property holds for every split).
std::int32_t partition_of(const std::string& id, int partitions) {
  std::uint32_t h = 2166136261u;
  for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return static_cast<std::int32_t>(h % static_cast<std::uint32_t>(partitions));
}

std::map<std::int32_t, std::vector<const AccountState*>> split(
    const std::map<std::string, AccountState>& states, int partitions) {
  std::map<std::int32_t, std::vector<const AccountState*>> out;
  for (const auto& [id, s] : states) out[partition_of(id, partitions)].push_back(&s);
  return out;
}

// Each partition's partial, through the codec as it travels over the summary topic.
std::vector<PortfolioPartial> partials_of(
    const std::map<std::int32_t, std::vector<const AccountState*>>& parts, TimeMs now) {
  std::vector<PortfolioPartial> out;
  for (const auto& [p, accounts] : parts) {
    Result<PortfolioPartial> partial = portfolio_partial(accounts, p, now);
    EXPECT_TRUE(partial.ok()) << partial.error().to_string();
    Result<PortfolioPartial> decoded = decode_partial(encode_partial(*partial));
    EXPECT_TRUE(decoded.ok()) << decoded.error().to_string();
    EXPECT_EQ(*decoded, *partial);
    out.push_back(*decoded);
  }
  return out;
}

void expect_near_relative(double a, double b, const char* what, const std::string& account = {}) {
  EXPECT_NEAR(a, b, 1e-12 * std::max(1.0, std::abs(b))) << what << " " << account;
}

// The single-instance figures, except what only summation order can change (day value,
// CLV): compared to 1e-12 relative.
void expect_same_summary(const PortfolioSummary& got, const PortfolioSummary& want) {
  EXPECT_EQ(got.as_of, want.as_of);
  EXPECT_EQ(got.accounts, want.accounts);
  EXPECT_EQ(got.accounts_with_revenue, want.accounts_with_revenue);
  EXPECT_EQ(got.key_accounts, want.key_accounts);
  EXPECT_EQ(got.total_revenue, want.total_revenue);
  EXPECT_EQ(got.key_threshold_revenue, want.key_threshold_revenue);
  EXPECT_EQ(got.key_revenue_share, want.key_revenue_share);
  EXPECT_EQ(got.top_share, want.top_share);
  EXPECT_EQ(got.gini, want.gini);
  EXPECT_EQ(got.order_accounts, want.order_accounts);
  EXPECT_EQ(got.incomplete_summaries, want.incomplete_summaries);
  expect_near_relative(got.mean_day_value, want.mean_day_value, "mean_day_value");
  ASSERT_EQ(got.bgnbd.has_value(), want.bgnbd.has_value());
  if (want.bgnbd) {
    EXPECT_EQ(got.bgnbd->params, want.bgnbd->params);
    EXPECT_EQ(got.bgnbd->log_likelihood, want.bgnbd->log_likelihood);
    EXPECT_EQ(got.bgnbd->customers, want.bgnbd->customers);
    EXPECT_EQ(got.bgnbd->repeaters, want.bgnbd->repeaters);
  }
  ASSERT_EQ(got.retention.has_value(), want.retention.has_value());
  if (want.retention) {
    EXPECT_EQ(got.retention->active_earlier, want.retention->active_earlier);
    EXPECT_EQ(got.retention->active_later, want.retention->active_later);
    EXPECT_EQ(got.retention->retained, want.retention->retained);
    EXPECT_EQ(got.retention->churned, want.retention->churned);
    EXPECT_EQ(got.retention->new_accounts, want.retention->new_accounts);
    EXPECT_EQ(got.retention->retention, want.retention->retention);
    EXPECT_EQ(got.retention->churn, want.retention->churn);
  }
}

void expect_same_account(const AccountFigures& got, const AccountFigures& want) {
  const std::string& id = want.account;
  EXPECT_EQ(got.account, want.account);
  EXPECT_EQ(got.revenue, want.revenue) << id;
  EXPECT_EQ(got.rank, want.rank) << id;
  EXPECT_EQ(got.revenue_share, want.revenue_share) << id;
  EXPECT_EQ(got.key, want.key) << id;
  ASSERT_EQ(got.orders.has_value(), want.orders.has_value()) << id;
  if (want.orders) {
    EXPECT_EQ(got.orders->bgnbd, want.orders->bgnbd) << id;
    EXPECT_EQ(got.orders->bucket_days, want.orders->bucket_days) << id;
  }
  EXPECT_EQ(got.p_alive, want.p_alive) << id;
  EXPECT_EQ(got.expected_purchases, want.expected_purchases) << id;
  expect_near_relative(got.day_value, want.day_value, "day_value", id);
  ASSERT_EQ(got.clv.has_value(), want.clv.has_value()) << id;
  if (want.clv) {
    expect_near_relative(*got.clv, *want.clv, "clv", id);
  }
}

TEST(PortfolioPartial, SplitPortfolioGivesTheSingleInstanceFigures) {
  const Sim& s = sim_portfolio();
  const std::vector<const AccountState*> all = all_of(s.states);
  const Portfolio single = score_portfolio(all, s.now).value();
  // The simulated portfolio exercises every figure.
  ASSERT_TRUE(single.summary.bgnbd.has_value()) << single.summary.bgnbd_error->to_string();
  ASSERT_TRUE(single.summary.retention.has_value());
  ASSERT_GT(single.summary.key_accounts, 0u);
  ASSERT_GT(single.summary.incomplete_summaries, 0u);

  for (const int partitions : {1, 3, 8, 16}) {
    SCOPED_TRACE("partitions " + std::to_string(partitions));
    const auto parts = split(s.states, partitions);
    const std::vector<PortfolioPartial> partials = partials_of(parts, s.now);
    // Two instances: one owns the first partition, the other all the rest (each computation
    // is a BG/NBD fit, so not every layout is tried; the figures do not depend on it).
    std::vector<std::vector<const AccountState*>> instances(2);
    for (const auto& [p, accounts] : parts) {
      auto& mine = instances[p == parts.begin()->first ? 0 : 1];
      mine.insert(mine.end(), accounts.begin(), accounts.end());
    }

    std::size_t seen = 0;
    for (std::size_t i = 0; i < instances.size(); ++i) {
      Result<Portfolio> got = score_portfolio_from_partials(partials, instances[i], s.now);
      ASSERT_TRUE(got.ok()) << got.error().to_string();
      expect_same_summary(got->summary, single.summary);
      ASSERT_EQ(got->accounts.size(), instances[i].size());
      for (const AccountState* a : instances[i]) {
        const AccountFigures* g = got->find(a->id);
        ASSERT_NE(g, nullptr) << a->id;
        expect_same_account(*g, *single.find(a->id));
      }
      // By rank, then id, as score_portfolio orders them.
      for (std::size_t k = 1; k < got->accounts.size(); ++k) {
        const AccountFigures& x = got->accounts[k - 1];
        const AccountFigures& y = got->accounts[k];
        EXPECT_TRUE(x.rank < y.rank || (x.rank == y.rank && x.account < y.account));
      }
      seen += got->accounts.size();
    }
    EXPECT_EQ(seen, s.states.size());
  }
}

TEST(PortfolioPartial, PartialsArriveInAnyOrderAndInstancesMayHoldNoAccount) {
  const Sim& s = sim_portfolio();
  const Portfolio single = score_portfolio(all_of(s.states), s.now).value();
  std::vector<PortfolioPartial> partials = partials_of(split(s.states, 5), s.now);
  std::reverse(partials.begin(), partials.end());
  // An owned partition without accounts publishes an empty partial: it changes nothing.
  partials.push_back(portfolio_partial(std::span<const AccountInputs>(), 99, s.now).value());
  Result<Portfolio> got =
      score_portfolio_from_partials(partials, std::span<const AccountInputs>(), s.now);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  expect_same_summary(got->summary, single.summary);
  EXPECT_TRUE(got->accounts.empty());
}

TEST(PortfolioPartial, CustomerSummariesAreKeptInWholeDaysAndGrouped) {
  const Sim& s = sim_portfolio();
  const PortfolioPartial p = portfolio_partial(all_of(s.states), 0, s.now).value();
  EXPECT_EQ(p.accounts, static_cast<std::int64_t>(s.states.size()));
  std::int64_t customers = 0;
  for (const PortfolioPartial::Customers& c : p.customers) customers += c.customers;
  EXPECT_EQ(customers, p.order_accounts);
  // Summaries in weeks rebuilt from the days are exactly order_summary's.
  for (const auto& [id, st] : s.states) {
    Result<OrderSummary> o = order_summary(st, s.now);
    if (!o) continue;
    const double t_x_days = o->bgnbd.t_x * 7;
    EXPECT_EQ(static_cast<double>(std::llround(t_x_days) * kDayMs) / kWeekMs, o->bgnbd.t_x);
  }
  // Grouping and the varint layout keep it small: well under 20 bytes an account here.
  const std::string bytes = encode_partial(p);
  EXPECT_LT(bytes.size(), 20 * s.states.size()) << bytes.size();
  std::printf(
      "[ PARTIAL  ] %zu accounts, %zu distinct revenues, %zu distinct summaries: %zu bytes\n",
      s.states.size(), p.revenues.size(), p.customers.size(), bytes.size());
}

PortfolioPartial small_partial() {
  PortfolioPartial p;
  p.partition = 7;
  p.as_of = 1'700'000'000'000;
  p.basis = partial_basis();
  p.accounts = 6;
  p.revenues = {{1500.25, 1}, {300, 2}, {0, 2}, {-12.5, 1}};
  p.retained = 3;
  p.churned = 1;
  p.new_accounts = 1;
  p.order_accounts = 4;
  p.incomplete_summaries = 1;
  p.bucket_days = 40;
  p.day_amount = 2100.75;
  p.customers = {{0, 0, 30, 1}, {3, 200, 400, 2}, {12, 380, 900, 1}};
  return p;
}

TEST(PortfolioPartialCodec, RoundTripsAndIsVersioned) {
  const PortfolioPartial p = small_partial();
  const std::string bytes = encode_partial(p);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), kPartialCodecVersion);
  Result<PortfolioPartial> back = decode_partial(bytes);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, p);
  EXPECT_EQ(decode_partial(encode_partial(PortfolioPartial{})).value(), PortfolioPartial{});

  std::string newer = bytes;
  newer[0] = static_cast<char>(kPartialCodecVersion + 1);
  EXPECT_EQ(decode_partial(newer).error().code, "codec_version");
  EXPECT_EQ(decode_partial("").error().code, "codec_truncated");
}

TEST(PortfolioPartialCodec, RefusesTruncatedAndCorruptInput) {
  const std::string bytes = encode_partial(small_partial());
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    Result<PortfolioPartial> r = decode_partial(bytes.substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_TRUE(r.error().code == "codec_truncated" || r.error().code == "codec_corrupt")
        << r.error().to_string();
  }
  EXPECT_EQ(decode_partial(bytes + "x").error().code, "codec_corrupt");
  // Every single-byte change is refused or decodes to a consistent partial; never a crash.
  for (std::size_t i = 1; i < bytes.size(); ++i) {
    for (const int flip : {0x01, 0x80, 0xff}) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ flip);
      Result<PortfolioPartial> r = decode_partial(b);
      if (r.ok()) {
        EXPECT_EQ(decode_partial(encode_partial(*r)).value(), *r);
      }
    }
  }
  auto corrupt = [](auto change) {
    PortfolioPartial p = small_partial();
    change(p);
    return decode_partial(encode_partial(p)).error().code;
  };
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { p.accounts = 5; }), "codec_corrupt");
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { std::swap(p.revenues[0], p.revenues[1]); }),
            "codec_corrupt");
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { p.revenues[0].revenue = NAN; }), "codec_corrupt");
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { p.customers[1].t_x_days = 401; }), "codec_corrupt");
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { p.customers[0].customers = 2; }), "codec_corrupt");
  EXPECT_EQ(corrupt([](PortfolioPartial& p) { p.new_accounts = 3; }), "codec_corrupt");
}

TEST(PortfolioPartial, RefusesPartialsThatCannotBeCombined) {
  const Sim& s = sim_portfolio();
  const auto parts = split(s.states, 2);
  std::vector<PortfolioPartial> partials = partials_of(parts, s.now);

  std::vector<PortfolioPartial> twice = partials;
  twice.push_back(partials[0]);
  EXPECT_EQ(
      score_portfolio_from_partials(twice, std::span<const AccountInputs>(), s.now).error().code,
      "invalid_argument");

  PortfolioOptions other;
  other.retention_period = 180 * kDayMs;
  EXPECT_NE(partial_basis(other), partial_basis());
  std::vector<PortfolioPartial> mixed = partials;
  mixed[1] = portfolio_partial(parts.at(1), 1, s.now, other).value();
  EXPECT_EQ(
      score_portfolio_from_partials(mixed, std::span<const AccountInputs>(), s.now).error().code,
      "partial_basis");
  // Options that only the global computation uses do not change the basis.
  PortfolioOptions tiers;
  tiers.tiers.key_threshold = 0.5;
  tiers.summary.unit = kDayMs;
  EXPECT_EQ(partial_basis(tiers), partial_basis());

  // A local account whose partition's partial is missing: its revenue is nowhere.
  const AccountState* top = nullptr;
  double best = -1;
  for (const AccountState* a : parts.at(1)) {
    const double r = trailing_revenue(*a, s.now);
    if (r > best) best = r, top = a;
  }
  ASSERT_NE(top, nullptr);
  const std::vector<PortfolioPartial> only0 = {partials[0]};
  const std::vector<const AccountState*> local = {top};
  EXPECT_EQ(score_portfolio_from_partials(only0, local, s.now).error().code,
            "partial_inconsistent");
}

}  // namespace
}  // namespace kamwatch::scoring

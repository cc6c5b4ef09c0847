#include "sim/portfolio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "sim/random.h"

namespace kamwatch::sim {
namespace {

constexpr std::string_view kKams[] = {
    "ana.silva@example.com", "ben.okafor@example.com", "chen.li@example.com",
    "dora.berg@example.com", "emil.novak@example.com", "farah.haddad@example.com",
};
constexpr std::string_view kIndustries[] = {"manufacturing", "logistics",   "retail",
                                            "energy",        "utilities",   "healthcare",
                                            "automotive",    "agriculture", "chemicals"};
constexpr std::string_view kNameHeads[] = {
    "Nord", "Alpen", "Blue",  "Terra", "Vita",  "Orion", "Helio", "Astra", "Kron",  "Luma",
    "Sol",  "Vento", "Rhein", "Atlas", "Polar", "Cedar", "Ferro", "Aqua",  "Silva", "Zenit"};
constexpr std::string_view kNameTails[] = {"tech", "werk", "port", "gen",   "line",
                                           "mark", "tron", "flux", "stone", "field"};
constexpr std::string_view kIndustryWords[] = {"Industries", "Logistics", "Retail",
                                               "Energy",     "Utilities", "Health",
                                               "Automotive", "Agrar",     "Chemie"};

struct Region {
  std::string_view name;
  double weight;
  int business_hour;  // UTC start of the business day
  std::string_view legal_forms[3];
};
constexpr Region kRegions[] = {
    {"EMEA", 0.50, 7, {"GmbH", "AG", "B.V."}},
    {"NA", 0.30, 13, {"Inc.", "LLC", "Corp."}},
    {"APAC", 0.15, 0, {"Pte Ltd", "Pty Ltd", "K.K."}},
    {"LATAM", 0.05, 12, {"S.A.", "Ltda.", "S.A. de C.V."}},
};

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double inverse_normal_cdf(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.next() % i);
    std::swap(v[i - 1], v[j]);
  }
}

TimeMs day_between(Rng& rng, TimeMs lo, TimeMs hi) {
  if (hi <= lo) return lo;
  const auto days = static_cast<int>((hi - lo) / kDayMs);
  return lo + rng.uniform_int(0, days) * kDayMs;
}

TimeMs days(double n) { return static_cast<TimeMs>(std::llround(n)) * kDayMs; }

// Draws an account's static attributes (value is given: it comes from the stratified draw).
AccountPlan draw_account(const SimOptions& o, int index, double value, Rng& rng, TimeMs start,
                         TimeMs end) {
  AccountPlan a;
  a.index = index;
  char id[64];
  std::snprintf(id, sizeof id, "%s-%04d", o.account_prefix.c_str(), index + 1);
  a.id = id;
  a.value = value;

  const Region& region = kRegions[rng.pick(std::array{0.50, 0.30, 0.15, 0.05})];
  a.region = region.name;
  a.business_hour = region.business_hour;
  const int industry = rng.uniform_int(0, std::size(kIndustries) - 1);
  a.industry = kIndustries[industry];
  a.name = std::string(kNameHeads[rng.uniform_int(0, std::size(kNameHeads) - 1)]) +
           std::string(kNameTails[rng.uniform_int(0, std::size(kNameTails) - 1)]) + " " +
           std::string(kIndustryWords[industry]) + " " +
           std::string(region.legal_forms[rng.uniform_int(0, 2)]);
  a.kam = kKams[rng.uniform_int(0, std::size(kKams) - 1)];

  // Revenue split: a subscription (the contract value) and orders on top.
  const double sub_share = rng.uniform(0.25, 0.45);
  a.arr = std::round(value * sub_share / 100) * 100;
  a.order_value = value - a.arr;
  a.order_rate =
      std::clamp(6.0 * std::pow(value / 60000.0, 0.35), 4.0, 80.0) * rng.uniform(0.75, 1.3);

  // Categories bought: one to four, with Dirichlet-like shares.
  const int k = rng.pick(std::array{0.25, 0.40, 0.25, 0.10}) + 1;
  std::vector<int> cats(kCategoryCount);
  std::iota(cats.begin(), cats.end(), 0);
  shuffle(cats, rng);
  double total = 0;
  for (int i = 0; i < k; ++i) {
    a.share[cats[i]] = rng.exponential(1.0) + 0.3;
    total += a.share[cats[i]];
  }
  for (double& s : a.share) s /= total;

  // Seats: roughly one per 3,000 EUR of yearly value.
  a.licensed = static_cast<int>(
      std::clamp(std::round(8 + value / 3000.0 * rng.uniform(0.6, 1.4)), 5.0, 5000.0));
  a.used0 = a.licensed * rng.uniform(0.6, 0.84);
  a.active_ratio = rng.uniform(0.55, 0.8);
  a.drift = rng.uniform(-0.04, 0.12);
  a.tickets_per_day = (0.6 + 0.06 * std::sqrt(a.licensed)) * rng.uniform(0.7, 1.3) / 30.4;
  a.opps_per_year = std::clamp(1.5 * std::pow(value / 60000.0, 0.25), 1.0, 8.0);
  a.nps_mean = rng.uniform(7.2, 9.3);
  a.incumbent = rng.uniform_int(0, kCompetitorCount - 1);
  std::vector<int> features(kFeatureCount);
  std::iota(features.begin(), features.end(), 0);
  shuffle(features, rng);
  features.resize(static_cast<std::size_t>(rng.uniform_int(2, 5)));
  a.features = features;
  a.survey_offset = rng.uniform_int(0, 13);

  a.new_logo = rng.chance(o.new_logo_fraction);
  const TimeMs span = end - start;
  if (a.new_logo) {
    a.start = day_between(rng, start + std::min(days(30), span / 8),
                          start + std::min(days(240), span / 3));
    a.renewal = a.start + days(365);
  } else {
    a.start = start;
    a.renewal = start + days(rng.uniform_int(1, 365));
  }
  return a;
}

// Renewal days of an account in [lo, hi].
std::vector<TimeMs> renewals_between(const AccountPlan& a, TimeMs lo, TimeMs hi) {
  std::vector<TimeMs> out;
  for (TimeMs r = a.renewal; r <= hi; r += days(365))
    if (r >= lo) out.push_back(r);
  return out;
}

void plan_churn(AccountPlan& a, int variant, Rng& rng, TimeMs earliest, TimeMs latest, TimeMs end) {
  ScenarioPlan& s = a.scenario;
  s.signal = Signal::kChurn;
  static constexpr std::string_view kNames[] = {"churn_silent", "churn_service", "churn_champion",
                                                "churn_budget"};
  static constexpr std::uint32_t kPrimary[] = {
      kUsageDecline | kSeatDecline | kMeetingsStop | kOrderSlowdown,
      kUsageDecline | kTicketSurge | kSlaBreaches | kSentimentDecline,
      kUsageDecline | kChampionLeft | kMeetingsStop | kSentimentDecline,
      kUsageDecline | kLateInvoices | kOrderSlowdown | kDowngrade,
  };
  static constexpr std::uint32_t kSecondary[] = {kSeatDecline,      kTicketSurge,   kSlaBreaches,
                                                 kSentimentDecline, kChampionLeft,  kMeetingsStop,
                                                 kLateInvoices,     kOrderSlowdown, kDowngrade};
  s.name = kNames[variant];
  s.symptoms = kPrimary[variant];
  for (const std::uint32_t extra : kSecondary)
    if (rng.chance(0.2)) s.symptoms |= extra;
  s.usage_floor = variant == 0 ? rng.uniform(0.02, 0.12) : rng.uniform(0.05, 0.2);

  const int duration = rng.uniform_int(60, 125);
  bool planned = false;
  if (rng.chance(0.5)) {
    // Non-renewal: the contract is not renewed on a renewal day inside the window.
    const std::vector<TimeMs> rs = renewals_between(a, earliest + days(60), end - days(25));
    if (!rs.empty()) {
      s.outcome = rs[static_cast<std::size_t>(rng.uniform_int(0, rs.size() - 1))];
      s.onset = std::max(earliest, s.outcome - days(duration));
      s.outcome_kind = "non_renewal";
      planned = true;
    }
  }
  if (!planned) {
    s.onset = day_between(rng, earliest, latest);
    s.outcome = std::min(s.onset + days(duration), end - kDayMs);
    s.outcome_kind = "terminated";
  }
  const double span = static_cast<double>(s.outcome - s.onset) / kDayMs;
  s.champion_left = s.onset + days(span * rng.uniform(0.05, 0.35));
  s.downgrade = s.onset + days(span * rng.uniform(0.25, 0.5));
}

// A competitor goes after a category with real, regular spend: a fair share of the account's
// orders and at least three orders a year.
bool contestable(const AccountPlan& a, int c) {
  return a.share[c] >= 0.2 && a.order_rate * a.share[c] >= 3;
}

void plan_competitor(AccountPlan& a, Rng& rng, TimeMs earliest, TimeMs latest, TimeMs end) {
  ScenarioPlan& s = a.scenario;
  s.signal = Signal::kCompetitor;
  s.name = "competitor_displacement";
  s.symptoms = kCategoryShift | kCompetitorMentions | kLostDeals;
  // The category lost is one the account buys regularly (weighted by its share).
  std::array<double, kCategoryCount> w{};
  for (int c = 0; c < kCategoryCount; ++c) w[c] = contestable(a, c) ? a.share[c] : 0;
  s.category = rng.pick(w);
  s.competitor = rng.chance(0.5) ? a.incumbent : rng.uniform_int(0, kCompetitorCount - 1);
  s.onset = day_between(rng, earliest, latest);
  // The shift completes at least two months before the end, so it shows in the data.
  s.ramp_end = std::max(s.onset + days(30),
                        std::min(s.onset + days(rng.uniform_int(60, 120)), end - days(60)));
  s.outcome = s.ramp_end;
  s.outcome_kind = "share_lost";
}

void plan_growth(AccountPlan& a, Rng& rng, TimeMs earliest, TimeMs latest) {
  ScenarioPlan& s = a.scenario;
  s.signal = Signal::kGrowth;
  s.name = "growth_expansion";
  s.symptoms = kSeatsFull | kUsageGrowth | kNewCategory;
  std::array<double, kCategoryCount> w{};
  for (int c = 0; c < kCategoryCount; ++c) w[c] = a.share[c] > 0 ? 0 : 1;
  s.category = rng.pick(w);
  s.onset = day_between(rng, earliest, latest);
  s.ramp_end = s.onset + days(rng.uniform_int(45, 90));
  s.outcome = s.onset + days(rng.uniform_int(30, 90));
  s.outcome_kind = "new_category";
  s.growth_fill = rng.uniform(0.93, 0.985);
  // Room to grow: the account is not already close to full when the growth starts.
  a.used0 = std::min(a.used0, 0.75 * a.licensed);
  a.drift = std::min(a.drift, 0.03);
}

}  // namespace

std::vector<std::string> symptom_names(std::uint32_t symptoms) {
  static constexpr std::string_view kNames[] = {
      "usage_decline",     "seat_decline",  "ticket_surge",   "sla_breaches",
      "sentiment_decline", "champion_left", "meetings_stop",  "late_invoices",
      "order_slowdown",    "downgrade",     "category_shift", "competitor_mentions",
      "lost_deals",        "seats_full",    "usage_growth",   "new_category"};
  std::vector<std::string> out;
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i)
    if (symptoms & (1u << i)) out.emplace_back(kNames[i]);
  return out;
}

std::vector<AccountPlan> plan_portfolio(const SimOptions& o, TimeMs start, TimeMs end) {
  static constexpr int kCategoryIndex[kCategoryCount] = {0, 1, 2, 3};
  Rng rng = Rng::stream(o.seed, 0);
  const int n = o.accounts;

  // Yearly value: lognormal with sigma 1.7 (the top 20% hold about 80%), drawn stratified
  // (one draw per quantile band, then shuffled) so every portfolio has the same shape.
  constexpr double kMedianValue = 60000;
  constexpr double kSigma = 1.7;
  std::vector<double> values(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double u = (i + rng.uniform(0.05, 0.95)) / n;
    values[static_cast<std::size_t>(i)] = std::clamp(
        std::round(kMedianValue * std::exp(kSigma * inverse_normal_cdf(u))), 5000.0, 20e6);
  }
  shuffle(values, rng);

  std::vector<AccountPlan> accounts;
  accounts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Rng arng = Rng::stream(o.seed, 1'000'000 + static_cast<std::uint64_t>(i));
    accounts.push_back(draw_account(o, i, values[static_cast<std::size_t>(i)], arng, start, end));
  }

  // Tiers by value rank: top 5% strategic, next 15% key.
  std::vector<int> by_value(static_cast<std::size_t>(n));
  std::iota(by_value.begin(), by_value.end(), 0);
  std::stable_sort(by_value.begin(), by_value.end(),
                   [&](int x, int y) { return accounts[x].value > accounts[y].value; });
  for (int r = 0; r < n; ++r) {
    AccountPlan& a = accounts[static_cast<std::size_t>(by_value[r])];
    a.tier = r < std::max(1, n * 5 / 100) ? "strategic" : r < n * 20 / 100 ? "key" : "standard";
  }
  // A few standard accounts are subsidiaries of a strategic or key account.
  for (AccountPlan& a : accounts) {
    if (a.tier == "standard" && n >= 20 && rng.chance(0.06))
      a.parent = accounts[static_cast<std::size_t>(by_value[rng.uniform_int(0, n / 5 - 1)])].id;
  }

  // Scenarios: only on accounts with a full baseline (not new logos).
  const TimeMs span = end - start;
  const TimeMs baseline = std::min(days(365), span / 2);
  const TimeMs earliest = start + baseline;
  const TimeMs latest = std::max(earliest, end - days(150));
  std::vector<int> pool;
  for (const AccountPlan& a : accounts)
    if (!a.new_logo) pool.push_back(a.index);
  shuffle(pool, rng);
  const auto want = [&](double f) { return static_cast<int>(std::lround(f * n)); };
  const int n_churn = want(o.churn_fraction);
  const int n_comp = want(o.competitor_fraction);
  const int n_growth = want(o.growth_fraction);
  int churned = 0, displaced = 0, grown = 0;
  std::vector<int> rest;
  for (const int i : pool) {
    AccountPlan& a = accounts[static_cast<std::size_t>(i)];
    Rng srng = Rng::stream(o.seed, 2'000'000 + static_cast<std::uint64_t>(i));
    if (churned < n_churn) {
      plan_churn(a, churned % 4, srng, earliest, latest, end);
      ++churned;
    } else if (displaced < n_comp &&
               std::any_of(std::begin(kCategoryIndex), std::end(kCategoryIndex),
                           [&](int c) { return contestable(a, c); })) {
      plan_competitor(a, srng, earliest, latest, end);
      ++displaced;
    } else {
      rest.push_back(i);
    }
  }
  // Growth needs a category the account does not buy yet.
  for (const int i : rest) {
    if (grown >= n_growth) break;
    AccountPlan& a = accounts[static_cast<std::size_t>(i)];
    if (std::count_if(a.share.begin(), a.share.end(), [](double s) { return s > 0; }) ==
        kCategoryCount)
      continue;
    Rng srng = Rng::stream(o.seed, 2'000'000 + static_cast<std::uint64_t>(i));
    plan_growth(a, srng, earliest, latest);
    ++grown;
  }
  return accounts;
}

}  // namespace kamwatch::sim

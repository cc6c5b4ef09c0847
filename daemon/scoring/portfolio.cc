#include "scoring/portfolio.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "scoring/portfolio_detail.h"

namespace kamwatch::scoring {
namespace {

constexpr double kYearMs = 365.0 * kDayMs;

std::vector<model::Bucket>::const_iterator first_at_or_after(const std::vector<model::Bucket>& b,
                                                             TimeMs start) {
  return std::lower_bound(b.begin(), b.end(), start,
                          [](const model::Bucket& x, TimeMs s) { return x.start < s; });
}

bool counts_as_activity(const ActivityOptions& options, const std::string& type) {
  return options.types.empty() ||
         std::find(options.types.begin(), options.types.end(), type) != options.types.end();
}

}  // namespace

// ---- Revenue and tiering ----

double trailing_revenue(const model::AccountState& state, TimeMs now,
                        const RevenueOptions& options) {
  const auto type = state.types.find(options.order_type);
  if (type == state.types.end()) return 0;
  const auto field = type->second.fields.find(options.amount_field);
  if (field == type->second.fields.end()) return 0;
  const TimeMs last_day = floor_to(now, kDayMs);
  const TimeMs days = std::max<TimeMs>(options.window / kDayMs, 1);
  const TimeMs first_day = last_day - (days - 1) * kDayMs;
  const std::vector<model::Bucket>& daily = field->second.daily;
  double sum = 0;
  for (auto it = first_at_or_after(daily, first_day); it != daily.end() && it->start <= last_day;
       ++it) {
    sum += it->sum;
  }
  return sum;
}

const RankedAccount* Tiering::find(std::string_view account) const {
  for (const RankedAccount& a : accounts)
    if (a.account == account) return &a;
  return nullptr;
}

Result<Tiering> tier_accounts(std::vector<AccountRevenue> accounts, const TierOptions& options) {
  if (!(options.key_threshold > 0 && options.key_threshold <= 1)) {
    return Error{"invalid_argument",
                 "key_threshold must be in (0, 1], got " + std::to_string(options.key_threshold)};
  }
  if (!(options.top_fraction > 0 && options.top_fraction <= 1)) {
    return Error{"invalid_argument",
                 "top_fraction must be in (0, 1], got " + std::to_string(options.top_fraction)};
  }
  for (const AccountRevenue& a : accounts) {
    if (!std::isfinite(a.revenue)) {
      return Error{"invalid_argument", "revenue of " + a.account + " is not finite"};
    }
  }
  std::sort(accounts.begin(), accounts.end(),
            [](const AccountRevenue& x, const AccountRevenue& y) { return x.account < y.account; });
  for (std::size_t i = 1; i < accounts.size(); ++i) {
    if (accounts[i].account == accounts[i - 1].account) {
      return Error{"invalid_argument", "account " + accounts[i].account + " listed twice"};
    }
  }
  std::stable_sort(
      accounts.begin(), accounts.end(),
      [](const AccountRevenue& x, const AccountRevenue& y) { return x.revenue > y.revenue; });

  Tiering t;
  for (const AccountRevenue& a : accounts) t.total_revenue += std::max(a.revenue, 0.0);
  const std::size_t n = accounts.size();
  t.accounts.reserve(n);
  double running = 0;
  for (std::size_t i = 0; i < n; ++i) {
    RankedAccount r;
    r.account = std::move(accounts[i].account);
    r.revenue = accounts[i].revenue;
    // Competition ranking: 1 + the number of accounts with strictly more revenue.
    r.rank = (i > 0 && r.revenue == t.accounts.back().revenue) ? t.accounts.back().rank
                                                               : static_cast<std::int64_t>(i) + 1;
    const double positive = std::max(r.revenue, 0.0);
    const double before = t.total_revenue > 0 ? running / t.total_revenue : 0;
    running += positive;
    r.share = t.total_revenue > 0 ? positive / t.total_revenue : 0;
    r.cumulative_share = t.total_revenue > 0 ? running / t.total_revenue : 0;
    // Key while the accounts ranked above have not yet reached the threshold (the 1e-12 keeps
    // a sum that lands exactly on it from taking one more account through rounding).
    r.key = positive > 0 && before < options.key_threshold - 1e-12;
    if (!r.key && positive > 0 && !t.accounts.empty() && t.accounts.back().key &&
        r.revenue == t.accounts.back().revenue) {
      r.key = true;  // tied with the last key account
    }
    if (r.key) {
      ++t.key_accounts;
      t.key_threshold_revenue = r.revenue;
      t.key_revenue_share += r.share;
    }
    t.accounts.push_back(std::move(r));
  }
  if (n > 0) {
    const double top = std::ceil(options.top_fraction * static_cast<double>(n) - 1e-9);
    const std::size_t k = std::clamp<std::size_t>(static_cast<std::size_t>(top), 1, n);
    t.top_share = t.accounts[k - 1].cumulative_share;
  }
  if (n > 1 && t.total_revenue > 0) {
    // Gini = sum_i (2i - n - 1) y_i / (n sum y) over revenues ascending, i = 1..n.
    double weighted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double y = std::max(t.accounts[n - 1 - i].revenue, 0.0);
      weighted += (2.0 * static_cast<double>(i + 1) - static_cast<double>(n) - 1) * y;
    }
    t.gini = weighted / (static_cast<double>(n) * t.total_revenue);
  }
  return t;
}

// ---- Retention and churn ----

bool active_in(const model::AccountState& state, const Period& period,
               const ActivityOptions& options) {
  const TimeMs start = floor_to(period.start, kDayMs);
  const TimeMs end = floor_to(period.end, kDayMs);
  if (end <= start) return false;
  const auto inside = [&](TimeMs t) { return t >= start && t < end; };
  for (const auto& [type, ts] : state.types) {
    if (ts.count == 0 || !counts_as_activity(options, type)) continue;
    if (inside(ts.first_time) || inside(ts.last_time)) return true;
    const auto it = first_at_or_after(ts.events.daily, start);
    if (it != ts.events.daily.end() && it->start < end) return true;
  }
  return false;
}

Result<RetentionRates> retention_rates(std::span<const Activity> accounts) {
  RetentionRates r;
  for (const Activity& a : accounts) {
    r.active_earlier += a.earlier ? 1 : 0;
    r.active_later += a.later ? 1 : 0;
    r.retained += (a.earlier && a.later) ? 1 : 0;
    r.churned += (a.earlier && !a.later) ? 1 : 0;
    r.new_accounts += (!a.earlier && a.later) ? 1 : 0;
  }
  if (r.active_earlier == 0) {
    return Error{"empty_cohort", "no account was active in the earlier period"};
  }
  r.retention = static_cast<double>(r.retained) / static_cast<double>(r.active_earlier);
  r.churn = 1 - r.retention;
  return r;
}

Result<RetentionRates> retention_rates(std::span<const model::AccountState* const> accounts,
                                       const Period& earlier, const Period& later,
                                       const ActivityOptions& options) {
  for (const Period* p : {&earlier, &later}) {
    if (floor_to(p->end, kDayMs) <= floor_to(p->start, kDayMs)) {
      return Error{"invalid_argument", "a period must span at least one whole UTC day"};
    }
  }
  std::vector<Activity> activity;
  activity.reserve(accounts.size());
  for (const model::AccountState* s : accounts) {
    if (s == nullptr) continue;
    activity.push_back({active_in(*s, earlier, options), active_in(*s, later, options)});
  }
  return retention_rates(activity);
}

// ---- Customer lifetime value ----

double shrunk_day_value(double account_mean, std::int64_t days, double portfolio_mean,
                        double prior_days) {
  const double n = static_cast<double>(std::max<std::int64_t>(days, 0));
  const double k = std::max(prior_days, 0.0);
  if (n + k <= 0) return portfolio_mean;
  return (k * portfolio_mean + n * account_mean) / (k + n);
}

Result<double> clv(const BgNbdParams& params, const CustomerSummary& summary, TimeMs unit,
                   double day_value, const ClvOptions& options) {
  if (unit <= 0 || options.horizon <= 0 || options.step <= 0 ||
      options.horizon / options.step > 100'000 || !(options.annual_discount_rate > -1) ||
      !std::isfinite(day_value)) {
    return Error{"invalid_argument",
                 "CLV needs unit, horizon, step > 0 (at most 100000 steps), discount rate > -1 "
                 "and a finite value per purchase day"};
  }
  double value = 0;
  double e_prev = 0;
  for (TimeMs k = 1;; ++k) {
    const TimeMs t = std::min(k * options.step, options.horizon);
    Result<double> e = expected_purchases(params, summary, static_cast<double>(t) / unit);
    if (!e) return e.error();
    const double discount =
        std::pow(1 + options.annual_discount_rate, static_cast<double>(t) / kYearMs);
    value += day_value * (*e - e_prev) / discount;
    e_prev = *e;
    if (t == options.horizon) break;
  }
  return value;
}

// ---- The portfolio ----

namespace detail {

Result<void> check_options(const PortfolioOptions& options) {
  if (options.summary.unit <= 0 || options.expected_horizon < 0 ||
      options.retention_period < kDayMs) {
    return Error{"invalid_argument",
                 "need summary unit > 0, expected_horizon >= 0, retention_period >= 1 day"};
  }
  return ok();
}

RetentionPeriods retention_periods(TimeMs now, const PortfolioOptions& options) {
  const TimeMs later_end = floor_to(now, kDayMs) + kDayMs;
  const Period later{later_end - options.retention_period, later_end};
  const Period earlier{later.start - options.retention_period, later.start};
  return {earlier, later};
}

void order_figures(AccountFigures& f, const PortfolioSummary& sum,
                   const PortfolioOptions& options) {
  if (!f.orders) return;
  f.day_value = shrunk_day_value(f.orders->mean_day_value(), f.orders->bucket_days,
                                 sum.mean_day_value, options.clv.prior_days);
  if (!sum.bgnbd) return;
  const BgNbdParams& params = sum.bgnbd->params;
  const double unit = static_cast<double>(options.summary.unit);
  const CustomerSummary& c = f.orders->bgnbd;
  f.p_alive = p_alive(params, c);
  if (Result<double> e =
          expected_purchases(params, c, static_cast<double>(options.expected_horizon) / unit);
      e) {
    f.expected_purchases = *e;
  }
  if (Result<double> v = clv(params, c, options.summary.unit, f.day_value, options.clv); v) {
    f.clv = *v;
  }
}

PortfolioSummary tiering_summary(const Tiering& tiers, TimeMs now) {
  PortfolioSummary sum;
  sum.as_of = now;
  sum.accounts = tiers.accounts.size();
  sum.key_accounts = tiers.key_accounts;
  sum.total_revenue = tiers.total_revenue;
  sum.key_threshold_revenue = tiers.key_threshold_revenue;
  sum.key_revenue_share = tiers.key_revenue_share;
  sum.top_share = tiers.top_share;
  sum.gini = tiers.gini;
  for (const RankedAccount& r : tiers.accounts)
    if (r.revenue > 0) ++sum.accounts_with_revenue;
  return sum;
}

}  // namespace detail

const AccountFigures* Portfolio::find(std::string_view account) const {
  const auto it = std::lower_bound(
      by_account.begin(), by_account.end(), account,
      [&](std::uint32_t i, std::string_view id) { return accounts[i].account < id; });
  return it == by_account.end() || accounts[*it].account != account ? nullptr : &accounts[*it];
}

AccountFigures* Portfolio::find(std::string_view account) {
  return const_cast<AccountFigures*>(std::as_const(*this).find(account));
}

void Portfolio::index_accounts() {
  by_account.resize(accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) by_account[i] = static_cast<std::uint32_t>(i);
  std::sort(by_account.begin(), by_account.end(), [&](std::uint32_t a, std::uint32_t b) {
    return accounts[a].account < accounts[b].account;
  });
}

AccountInputs account_inputs(const model::AccountState& state, TimeMs now,
                             const PortfolioOptions& options) {
  AccountInputs in;
  in.account = state.id;
  in.revenue = trailing_revenue(state, now, options.revenue);
  // No orders yet: outside the BG/NBD model, which starts at the first purchase.
  if (Result<OrderSummary> o = order_summary(state, now, options.summary); o) in.orders = *o;
  const detail::RetentionPeriods periods = detail::retention_periods(now, options);
  in.activity = {active_in(state, periods.earlier, options.activity),
                 active_in(state, periods.later, options.activity)};
  return in;
}

Result<Portfolio> score_portfolio(std::span<const model::AccountState* const> accounts, TimeMs now,
                                  const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  std::vector<AccountInputs> inputs;
  inputs.reserve(accounts.size());
  for (const model::AccountState* s : accounts)
    if (s != nullptr) inputs.push_back(account_inputs(*s, now, options));
  return score_portfolio(std::move(inputs), now, options);
}

Result<Portfolio> score_portfolio(std::span<const AccountInputs> accounts, TimeMs now,
                                  const PortfolioOptions& options) {
  return score_portfolio(std::vector<AccountInputs>(accounts.begin(), accounts.end()), now,
                         options);
}

Result<Portfolio> score_portfolio(std::vector<AccountInputs>&& accounts, TimeMs now,
                                  const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  const std::size_t n = accounts.size();
  if (n > std::numeric_limits<std::uint32_t>::max())
    return Error{"invalid_argument", "more than 2^32 accounts"};

  // 1. The figures in input order, the ids and order summaries moved out of the inputs, which
  // are freed before the ranking: a refresh never holds inputs, ranking and figures at once
  // (at a million accounts that was the daemon's peak). What the BG/NBD fit, the value per
  // purchase day and retention read is taken in input order, as before.
  Portfolio p;
  p.accounts.reserve(n);
  std::vector<CustomerSummary> summaries;
  std::vector<Activity> activity;
  activity.reserve(n);
  double amount = 0;
  std::int64_t days = 0;
  std::size_t incomplete = 0;
  for (AccountInputs& a : accounts) {
    AccountFigures& f = p.accounts.emplace_back();
    f.account = std::move(a.account);
    f.revenue = a.revenue;
    if (a.orders) {
      summaries.push_back(a.orders->bgnbd);
      amount += a.orders->day_amount;
      days += a.orders->bucket_days;
      if (!a.orders->complete) ++incomplete;
      f.orders = std::move(a.orders);
    }
    activity.push_back(a.activity);
  }
  std::vector<AccountInputs>().swap(accounts);

  // 2. Ranking and tiering, then the figures in rank order (by rank, then account id).
  Result<Tiering> tiers = [&] {
    std::vector<AccountRevenue> revenues;
    revenues.reserve(n);
    for (const AccountFigures& f : p.accounts) revenues.push_back({f.account, f.revenue});
    return tier_accounts(std::move(revenues), options.tiers);
  }();
  if (!tiers) return tiers.error();
  p.summary = detail::tiering_summary(*tiers, now);
  PortfolioSummary& sum = p.summary;
  p.index_accounts();
  std::vector<std::uint32_t> from(n);  // from[i]: where the i-th ranked account's figures are
  for (std::size_t i = 0; i < n; ++i) {
    const RankedAccount& r = tiers->accounts[i];
    AccountFigures& f = *p.find(r.account);  // every input account was ranked
    f.rank = r.rank;
    f.revenue_share = r.share;
    f.key = r.key;
    from[i] = static_cast<std::uint32_t>(&f - p.accounts.data());
  }
  std::vector<RankedAccount>().swap(tiers->accounts);
  // In place, cycle by cycle (a second vector of figures would be the peak again).
  for (std::size_t i = 0; i < n; ++i) {
    if (from[i] == i) continue;
    AccountFigures held = std::move(p.accounts[i]);
    std::size_t j = i;
    while (from[j] != i) {
      const std::size_t next = from[j];
      p.accounts[j] = std::move(p.accounts[next]);
      from[j] = static_cast<std::uint32_t>(j);
      j = next;
    }
    p.accounts[j] = std::move(held);
    from[j] = static_cast<std::uint32_t>(j);
  }
  std::vector<std::uint32_t>().swap(from);
  p.index_accounts();

  // 3. The BG/NBD fit over the summaries, and each account's order figures.
  sum.order_accounts = summaries.size();
  sum.incomplete_summaries = incomplete;
  sum.mean_day_value = days > 0 ? amount / static_cast<double>(days) : 0;
  Result<BgNbdFit> fit = fit_bgnbd(summaries, detail::fit_options(options));
  if (fit) {
    sum.bgnbd = *fit;
  } else if (fit.error().code == "cancelled") {
    return fit.error();
  } else {
    sum.bgnbd_error = fit.error();
  }
  std::vector<CustomerSummary>().swap(summaries);

  for (std::size_t i = 0; i < p.accounts.size(); ++i) {
    if (detail::cancelled_at(options, i)) return detail::cancelled_error();
    detail::order_figures(p.accounts[i], sum, options);
  }

  if (Result<RetentionRates> r = retention_rates(activity); r) sum.retention = *r;
  return p;
}

}  // namespace kamwatch::scoring

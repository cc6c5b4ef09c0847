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

namespace {

Result<void> check_tier_options(const TierOptions& options) {
  if (!(options.key_threshold > 0 && options.key_threshold <= 1)) {
    return Error{"invalid_argument",
                 "key_threshold must be in (0, 1], got " + std::to_string(options.key_threshold)};
  }
  if (!(options.top_fraction > 0 && options.top_fraction <= 1)) {
    return Error{"invalid_argument",
                 "top_fraction must be in (0, 1], got " + std::to_string(options.top_fraction)};
  }
  return ok();
}

// The ranking as positions into the accounts (4 bytes an account, instead of a copy of every
// id): by revenue descending, then id. Errors: a revenue that is not finite, an id listed twice.
template <class Id, class Revenue>
Result<std::vector<std::uint32_t>> rank_order(std::size_t n, const Id& id, const Revenue& revenue) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    return Error{"invalid_argument", "more than 2^32 accounts"};
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(revenue(i))) {
      return Error{"invalid_argument", "revenue of " + std::string(id(i)) + " is not finite"};
    }
  }
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return id(a) < id(b); });
  for (std::size_t i = 1; i < n; ++i) {
    if (id(order[i]) == id(order[i - 1])) {
      return Error{"invalid_argument", "account " + std::string(id(order[i])) + " listed twice"};
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return revenue(a) > revenue(b); });
  return order;
}

// Walks a ranking (positions by revenue descending): calls each(k, r) with the k-th account's
// revenue, rank, share, cumulative share and key flag in r (its account left empty), and
// returns the portfolio figures (accounts left empty). Call again for the same values.
template <class Revenue, class Each>
Tiering walk_tiers(std::span<const std::uint32_t> order, const Revenue& revenue,
                   const TierOptions& options, const Each& each) {
  Tiering t;
  for (std::uint32_t i : order) t.total_revenue += std::max(revenue(i), 0.0);
  const std::size_t n = order.size();
  const std::size_t top_k =
      n == 0 ? 0
             : std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(
                                           options.top_fraction * static_cast<double>(n) - 1e-9)),
                                       1, n);
  RankedAccount prev, r;
  double running = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double rev = revenue(order[k]);
    // Competition ranking: 1 + the number of accounts with strictly more revenue.
    r.rank = (k > 0 && rev == prev.revenue) ? prev.rank : static_cast<std::int64_t>(k) + 1;
    r.revenue = rev;
    const double positive = std::max(rev, 0.0);
    const double before = t.total_revenue > 0 ? running / t.total_revenue : 0;
    running += positive;
    r.share = t.total_revenue > 0 ? positive / t.total_revenue : 0;
    r.cumulative_share = t.total_revenue > 0 ? running / t.total_revenue : 0;
    // Key while the accounts ranked above have not yet reached the threshold (the 1e-12 keeps
    // a sum that lands exactly on it from taking one more account through rounding).
    r.key = positive > 0 && before < options.key_threshold - 1e-12;
    if (!r.key && positive > 0 && k > 0 && prev.key && rev == prev.revenue) {
      r.key = true;  // tied with the last key account
    }
    if (r.key) {
      ++t.key_accounts;
      t.key_threshold_revenue = rev;
      t.key_revenue_share += r.share;
    }
    if (k + 1 == top_k) t.top_share = r.cumulative_share;
    each(k, r);
    prev.rank = r.rank;
    prev.revenue = r.revenue;
    prev.key = r.key;
  }
  if (n > 1 && t.total_revenue > 0) {
    // Gini = sum_i (2i - n - 1) y_i / (n sum y) over revenues ascending, i = 1..n.
    double weighted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double y = std::max(revenue(order[n - 1 - i]), 0.0);
      weighted += (2.0 * static_cast<double>(i + 1) - static_cast<double>(n) - 1) * y;
    }
    t.gini = weighted / (static_cast<double>(n) * t.total_revenue);
  }
  return t;
}

}  // namespace

Result<Tiering> tier_accounts(std::vector<AccountRevenue> accounts, const TierOptions& options) {
  if (Result<void> valid = check_tier_options(options); !valid) return valid.error();
  auto revenue = [&](std::size_t i) { return accounts[i].revenue; };
  auto order = rank_order(
      accounts.size(), [&](std::size_t i) -> const std::string& { return accounts[i].account; },
      revenue);
  if (!order) return order.error();
  std::vector<RankedAccount> ranked(accounts.size());
  Tiering t = walk_tiers(*order, revenue, options, [&](std::size_t k, const RankedAccount& r) {
    ranked[k] = r;
    ranked[k].account = std::move(accounts[(*order)[k]].account);
  });
  t.accounts = std::move(ranked);
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

PortfolioSummary tiering_summary(const Tiering& tiers, std::size_t accounts,
                                 std::size_t accounts_with_revenue, TimeMs now) {
  PortfolioSummary sum;
  sum.as_of = now;
  sum.accounts = accounts;
  sum.accounts_with_revenue = accounts_with_revenue;
  sum.key_accounts = tiers.key_accounts;
  sum.total_revenue = tiers.total_revenue;
  sum.key_threshold_revenue = tiers.key_threshold_revenue;
  sum.key_revenue_share = tiers.key_revenue_share;
  sum.top_share = tiers.top_share;
  sum.gini = tiers.gini;
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

Result<PortfolioSummary> score_portfolio_each(std::vector<AccountInputs>&& accounts, TimeMs now,
                                              const PortfolioOptions& options,
                                              const std::function<void(AccountFigures&&)>& each) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  if (Result<void> valid = check_tier_options(options.tiers); !valid) return valid.error();
  const std::size_t n = accounts.size();

  // 1. The ranking, as positions into the inputs (no copy of the ids).
  auto revenue = [&](std::size_t i) { return accounts[i].revenue; };
  auto order = rank_order(
      n, [&](std::size_t i) -> const std::string& { return accounts[i].account; }, revenue);
  if (!order) return order.error();
  const auto walk = [&](const auto& fn) { return walk_tiers(*order, revenue, options.tiers, fn); };
  const std::size_t with_revenue = static_cast<std::size_t>(std::count_if(
      accounts.begin(), accounts.end(), [](const AccountInputs& a) { return a.revenue > 0; }));
  PortfolioSummary sum =
      detail::tiering_summary(walk([](std::size_t, const RankedAccount&) {}), n, with_revenue, now);

  // 2. What the BG/NBD fit, the value per purchase day and retention read, in input order.
  std::vector<CustomerSummary> summaries;
  double amount = 0;
  std::int64_t days = 0;
  std::vector<Activity> activity;
  activity.reserve(n);
  for (const AccountInputs& a : accounts) {
    activity.push_back(a.activity);
    if (!a.orders) continue;
    summaries.push_back(a.orders->bgnbd);
    amount += a.orders->day_amount;
    days += a.orders->bucket_days;
    if (!a.orders->complete) ++sum.incomplete_summaries;
  }
  if (Result<RetentionRates> r = retention_rates(activity); r) sum.retention = *r;
  std::vector<Activity>().swap(activity);
  sum.order_accounts = summaries.size();
  sum.mean_day_value = days > 0 ? amount / static_cast<double>(days) : 0;

  // 3. The fit over the summaries.
  Result<BgNbdFit> fit = fit_bgnbd(summaries, detail::fit_options(options));
  if (fit) {
    sum.bgnbd = *fit;
  } else if (fit.error().code == "cancelled") {
    return fit.error();
  } else {
    sum.bgnbd_error = fit.error();
  }
  std::vector<CustomerSummary>().swap(summaries);

  // 4. Each account's figures in rank order, its id and order summary moved out of its inputs.
  bool cancelled = false;
  walk([&](std::size_t k, const RankedAccount& r) {
    if (cancelled || (cancelled = detail::cancelled_at(options, k))) return;
    AccountInputs& a = accounts[(*order)[k]];
    AccountFigures f;
    f.account = std::move(a.account);
    f.revenue = a.revenue;
    f.rank = r.rank;
    f.revenue_share = r.share;
    f.key = r.key;
    f.orders = std::move(a.orders);
    detail::order_figures(f, sum, options);
    each(std::move(f));
  });
  std::vector<AccountInputs>().swap(accounts);  // consumed
  if (cancelled) return detail::cancelled_error();
  return sum;
}

Result<Portfolio> score_portfolio(std::vector<AccountInputs>&& accounts, TimeMs now,
                                  const PortfolioOptions& options) {
  Portfolio p;
  p.accounts.reserve(accounts.size());
  auto sum = score_portfolio_each(std::move(accounts), now, options,
                                  [&](AccountFigures&& f) { p.accounts.push_back(std::move(f)); });
  if (!sum) return sum.error();
  p.summary = std::move(*sum);
  p.index_accounts();
  return p;
}

}  // namespace kamwatch::scoring

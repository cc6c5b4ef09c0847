#include "scoring/portfolio_partial.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "scoring/portfolio_detail.h"

namespace kamwatch::scoring {
namespace {

// Whole days of a BG/NBD time in `unit`: order_summary() builds t_x and T from day-aligned
// instants, so this recovers the exact day count (the double is within an ulp of it).
std::int64_t to_days(double t, TimeMs unit) {
  return std::llround(t * static_cast<double>(unit) / static_cast<double>(kDayMs));
}

// The same double order_summary() computes for `days` whole days in `unit`.
double from_days(std::int64_t days, TimeMs unit) {
  return static_cast<double>(days * kDayMs) / static_cast<double>(unit);
}

// ---- Codec ----

constexpr std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_count(std::string& out, std::int64_t v) {
  put_varint(out, static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0)));
}

void put_u64(std::string& out, std::uint64_t u) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(u >> (8 * i)));
}

// Reads the encoding; the first error sticks (later reads return 0), so a decoder checks
// failed() where a wrong value could mislead it.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  [[nodiscard]] std::size_t left() const { return in_.size() - pos_; }
  [[nodiscard]] bool failed() const { return error_.has_value(); }
  [[nodiscard]] const Error& error() const { return *error_; }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && !failed(); shift += 7) {
      if (pos_ >= in_.size()) return truncated();
      const auto b = static_cast<unsigned char>(in_[pos_++]);
      if (shift == 63 && b > 1) return corrupt("varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return corrupt("varint longer than 10 bytes");
  }
  // A count: a varint within [0, kMaxCount].
  std::int64_t count(const char* what) {
    const std::uint64_t v = varint();
    if (v > kMaxCount) return corrupt(std::string(what) + " out of range");
    return static_cast<std::int64_t>(v);
  }
  std::int64_t svarint() { return unzigzag(varint()); }
  std::uint64_t u64() {
    if (failed()) return 0;
    if (left() < 8) return truncated();
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) {
      u |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_++])) << (8 * i);
    }
    return u;
  }
  double finite(const char* what) {
    const double d = std::bit_cast<double>(u64());
    if (!std::isfinite(d))
      return static_cast<double>(corrupt(std::string(what) + " is not finite"));
    return d;
  }

  // Records the error (unless one is recorded already) and returns 0.
  std::uint64_t truncated() {
    return fail(Error{"codec_truncated", "portfolio partial ends early"});
  }
  std::uint64_t corrupt(const std::string& why) {
    return fail(Error{"codec_corrupt", "portfolio partial: " + why});
  }

  // Limit on every count: keeps a corrupt record from asking for huge allocations.
  static constexpr std::uint64_t kMaxCount = 1ull << 40;

 private:
  std::uint64_t fail(Error e) {
    if (!error_) error_ = std::move(e);
    return 0;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::optional<Error> error_;
};

}  // namespace

std::uint64_t partial_basis(const PortfolioOptions& o) {
  // FNV-1a over a canonical text of the options that shape a partial. summary.unit is not
  // among them: partials carry whole days.
  std::string text = "partial/1\n" + o.revenue.order_type + "\n" + o.revenue.amount_field + "\n" +
                     std::to_string(o.revenue.window) + "\n" + o.summary.order_type + "\n" +
                     o.summary.amount_field + "\n" + std::to_string(o.retention_period) + "\n";
  std::vector<std::string> types = o.activity.types;
  std::sort(types.begin(), types.end());
  for (const std::string& t : types) text += t + "\x1f";
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

namespace {
std::vector<AccountInputs> inputs_of(std::span<const model::AccountState* const> accounts,
                                     TimeMs now, const PortfolioOptions& options) {
  std::vector<AccountInputs> out;
  out.reserve(accounts.size());
  for (const model::AccountState* s : accounts)
    if (s != nullptr) out.push_back(account_inputs(*s, now, options));
  return out;
}
}  // namespace

Result<PortfolioPartial> portfolio_partial(std::span<const model::AccountState* const> accounts,
                                           std::int32_t partition, TimeMs now,
                                           const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  return portfolio_partial(inputs_of(accounts, now, options), partition, now, options);
}

Result<PortfolioPartial> portfolio_partial(std::span<const AccountInputs> accounts,
                                           std::int32_t partition, TimeMs now,
                                           const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  PortfolioPartial out;
  out.partition = partition;
  out.as_of = now;
  out.basis = partial_basis(options);
  std::map<double, std::int64_t, std::greater<>> revenues;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::int64_t> customers;
  for (const AccountInputs& a : accounts) {
    ++out.accounts;
    if (!std::isfinite(a.revenue)) {
      return Error{"invalid_argument", "revenue of " + a.account + " is not finite"};
    }
    ++revenues[a.revenue];
    const bool earlier = a.activity.earlier;
    const bool later = a.activity.later;
    out.retained += earlier && later ? 1 : 0;
    out.churned += earlier && !later ? 1 : 0;
    out.new_accounts += !earlier && later ? 1 : 0;
    const std::optional<OrderSummary>& o = a.orders;
    if (!o) continue;  // no orders yet: outside the BG/NBD population, as in score_portfolio
    ++out.order_accounts;
    if (!o->complete) ++out.incomplete_summaries;
    out.bucket_days += o->bucket_days;
    out.day_amount += o->day_amount;
    ++customers[{static_cast<std::int64_t>(o->bgnbd.x), to_days(o->bgnbd.t_x, options.summary.unit),
                 to_days(o->bgnbd.T, options.summary.unit)}];
  }
  out.revenues.reserve(revenues.size());
  for (const auto& [revenue, n] : revenues) out.revenues.push_back({revenue, n});
  out.customers.reserve(customers.size());
  for (const auto& [key, n] : customers) {
    out.customers.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
  }
  return out;
}

Result<Portfolio> score_portfolio_from_partials(std::span<const PortfolioPartial> partials,
                                                std::span<const model::AccountState* const> local,
                                                TimeMs now, const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  return score_portfolio_from_partials(partials, inputs_of(local, now, options), now, options);
}

Result<Portfolio> score_portfolio_from_partials(std::span<const PortfolioPartial> partials,
                                                std::span<const AccountInputs> local, TimeMs now,
                                                const PortfolioOptions& options) {
  if (Result<void> valid = detail::check_options(options); !valid) return valid.error();
  const std::uint64_t basis = partial_basis(options);
  // Partition order, so sums do not depend on the order partials arrived in.
  std::vector<const PortfolioPartial*> parts;
  parts.reserve(partials.size());
  for (const PortfolioPartial& p : partials) {
    if (p.basis != basis) {
      return Error{"partial_basis", "the partial of partition " + std::to_string(p.partition) +
                                        " was computed with other portfolio options"};
    }
    parts.push_back(&p);
  }
  std::sort(parts.begin(), parts.end(), [](const PortfolioPartial* a, const PortfolioPartial* b) {
    return a->partition < b->partition;
  });
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i]->partition == parts[i - 1]->partition) {
      return Error{"invalid_argument",
                   "two partials for partition " + std::to_string(parts[i]->partition)};
    }
  }

  // Tiering over every account's revenue: ids do not matter to it (ties are decided by value),
  // so every account gets a placeholder id and local accounts are found by their revenue.
  std::vector<AccountRevenue> revenues;
  std::int64_t total_accounts = 0;
  for (const PortfolioPartial* p : parts) total_accounts += p->accounts;
  revenues.reserve(static_cast<std::size_t>(std::max<std::int64_t>(total_accounts, 0)));
  char id[24];
  for (const PortfolioPartial* p : parts) {
    for (const PortfolioPartial::Revenue& r : p->revenues) {
      for (std::int64_t k = 0; k < r.accounts; ++k) {
        std::snprintf(id, sizeof id, "%012zu", revenues.size());
        revenues.push_back({id, r.revenue});
      }
    }
  }
  Result<Tiering> tiers = tier_accounts(std::move(revenues), options.tiers);
  if (!tiers) return tiers.error();

  Portfolio p;
  p.summary = detail::tiering_summary(
      *tiers, tiers->accounts.size(),
      static_cast<std::size_t>(std::count_if(tiers->accounts.begin(), tiers->accounts.end(),
                                             [](const RankedAccount& r) { return r.revenue > 0; })),
      now);
  PortfolioSummary& sum = p.summary;
  // Rank, share and key flag are functions of the revenue: the first account with it has them.
  std::map<double, const RankedAccount*> by_revenue;
  for (const RankedAccount& r : tiers->accounts) by_revenue.emplace(r.revenue, &r);

  // BG/NBD population: every partition's customers, expanded, so the fit is the one
  // score_portfolio makes (it depends only on the multiset of summaries).
  std::vector<CustomerSummary> summaries;
  double amount = 0;
  std::int64_t days = 0;
  for (const PortfolioPartial* part : parts) {
    sum.order_accounts += static_cast<std::size_t>(part->order_accounts);
    sum.incomplete_summaries += static_cast<std::size_t>(part->incomplete_summaries);
    amount += part->day_amount;
    days += part->bucket_days;
    for (const PortfolioPartial::Customers& c : part->customers) {
      const CustomerSummary s{static_cast<double>(c.x), from_days(c.t_x_days, options.summary.unit),
                              from_days(c.T_days, options.summary.unit)};
      summaries.insert(summaries.end(), static_cast<std::size_t>(c.customers), s);
    }
  }
  sum.mean_day_value = days > 0 ? amount / static_cast<double>(days) : 0;
  Result<BgNbdFit> fit = fit_bgnbd(summaries, detail::fit_options(options));
  if (fit) {
    sum.bgnbd = *fit;
  } else if (fit.error().code == "cancelled") {
    return fit.error();
  } else {
    sum.bgnbd_error = fit.error();
  }

  RetentionRates rates;
  for (const PortfolioPartial* part : parts) {
    rates.retained += static_cast<std::size_t>(part->retained);
    rates.churned += static_cast<std::size_t>(part->churned);
    rates.new_accounts += static_cast<std::size_t>(part->new_accounts);
  }
  rates.active_earlier = rates.retained + rates.churned;
  rates.active_later = rates.retained + rates.new_accounts;
  if (rates.active_earlier > 0) {
    rates.retention =
        static_cast<double>(rates.retained) / static_cast<double>(rates.active_earlier);
    rates.churn = 1 - rates.retention;
    sum.retention = rates;
  }

  // The local accounts' own figures.
  std::set<std::string_view> seen;
  for (const AccountInputs& a : local) {
    if (!seen.insert(a.account).second) {
      return Error{"invalid_argument", "account " + a.account + " listed twice"};
    }
    AccountFigures f;
    f.account = a.account;
    f.revenue = a.revenue;
    const auto ranked = by_revenue.find(f.revenue);
    if (ranked == by_revenue.end()) {
      return Error{"partial_inconsistent", "account " + a.account +
                                               " has a revenue no partial holds (its partition's "
                                               "partial is missing or was not computed from it)"};
    }
    f.rank = ranked->second->rank;
    f.revenue_share = ranked->second->share;
    f.key = ranked->second->key;
    f.orders = a.orders;
    if (detail::cancelled_at(options, p.accounts.size())) return detail::cancelled_error();
    detail::order_figures(f, sum, options);
    p.accounts.push_back(std::move(f));
  }
  std::sort(p.accounts.begin(), p.accounts.end(),
            [](const AccountFigures& a, const AccountFigures& b) {
              return a.rank != b.rank ? a.rank < b.rank : a.account < b.account;
            });
  p.index_accounts();
  return p;
}

}  // namespace kamwatch::scoring

namespace kamwatch::scoring {

std::string encode_partial(const PortfolioPartial& p) {
  std::string out;
  out.reserve(32 + 10 * p.revenues.size() + 6 * p.customers.size());
  out.push_back(static_cast<char>(kPartialCodecVersion));
  put_varint(out, zigzag(p.partition));
  put_varint(out, zigzag(p.as_of));
  put_u64(out, p.basis);
  put_count(out, p.accounts);
  put_varint(out, p.revenues.size());
  for (const PortfolioPartial::Revenue& r : p.revenues) {
    put_u64(out, std::bit_cast<std::uint64_t>(r.revenue));
    put_count(out, r.accounts);
  }
  put_count(out, p.retained);
  put_count(out, p.churned);
  put_count(out, p.new_accounts);
  put_count(out, p.order_accounts);
  put_count(out, p.incomplete_summaries);
  put_count(out, p.bucket_days);
  put_u64(out, std::bit_cast<std::uint64_t>(p.day_amount));
  put_varint(out, p.customers.size());
  for (const PortfolioPartial::Customers& c : p.customers) {
    put_count(out, c.x);
    put_count(out, c.t_x_days);
    put_count(out, c.T_days);
    put_count(out, c.customers);
  }
  return out;
}

Result<PortfolioPartial> decode_partial(std::string_view bytes) {
  if (bytes.empty()) return Error{"codec_truncated", "portfolio partial is empty"};
  if (static_cast<std::uint8_t>(bytes[0]) != kPartialCodecVersion) {
    return Error{"codec_version", "portfolio partial version " +
                                      std::to_string(static_cast<std::uint8_t>(bytes[0])) +
                                      " is unknown (this kamwatch reads version " +
                                      std::to_string(kPartialCodecVersion) + ")"};
  }
  Reader in(bytes.substr(1));
  PortfolioPartial p;
  const std::int64_t partition = in.svarint();
  if (partition < 0 || partition > INT32_MAX) in.corrupt("partition out of range");
  p.partition = static_cast<std::int32_t>(partition);
  p.as_of = in.svarint();
  p.basis = in.u64();
  p.accounts = in.count("accounts");
  std::int64_t n = in.count("revenue entries");
  if (static_cast<std::uint64_t>(n) > in.left() / 9) in.truncated();
  if (in.failed()) return in.error();
  p.revenues.reserve(static_cast<std::size_t>(n));
  std::int64_t accounts = 0;
  for (std::int64_t i = 0; i < n && !in.failed(); ++i) {
    PortfolioPartial::Revenue r;
    r.revenue = in.finite("a revenue");
    r.accounts = in.count("accounts of a revenue");
    if (in.failed()) break;
    if (r.accounts == 0) in.corrupt("a revenue with no account");
    if (!p.revenues.empty() && !(r.revenue < p.revenues.back().revenue))
      in.corrupt("revenues not strictly descending");
    accounts += r.accounts;
    p.revenues.push_back(r);
  }
  if (!in.failed() && accounts != p.accounts) in.corrupt("revenue counts do not add up");
  p.retained = in.count("retained");
  p.churned = in.count("churned");
  p.new_accounts = in.count("new accounts");
  if (p.retained + p.churned + p.new_accounts > p.accounts)
    in.corrupt("more active accounts than accounts");
  p.order_accounts = in.count("order accounts");
  p.incomplete_summaries = in.count("incomplete summaries");
  p.bucket_days = in.count("bucket days");
  p.day_amount = in.finite("day amount");
  if (p.order_accounts > p.accounts || p.incomplete_summaries > p.order_accounts)
    in.corrupt("order account counts out of range");
  n = in.count("customer entries");
  if (static_cast<std::uint64_t>(n) > in.left() / 4) in.truncated();
  if (in.failed()) return in.error();
  p.customers.reserve(static_cast<std::size_t>(n));
  std::int64_t customers = 0;
  for (std::int64_t i = 0; i < n && !in.failed(); ++i) {
    PortfolioPartial::Customers c;
    c.x = in.count("x");
    c.t_x_days = in.count("t_x");
    c.T_days = in.count("T");
    c.customers = in.count("customers");
    if (in.failed()) break;
    if (c.customers == 0) in.corrupt("a summary with no customer");
    if (c.t_x_days > c.T_days || (c.x == 0 && c.t_x_days != 0))
      in.corrupt("a summary with t_x outside [0, T]");
    if (!p.customers.empty()) {
      const PortfolioPartial::Customers& b = p.customers.back();
      if (!(std::tie(b.x, b.t_x_days, b.T_days) < std::tie(c.x, c.t_x_days, c.T_days)))
        in.corrupt("summaries not strictly ascending");
    }
    customers += c.customers;
    p.customers.push_back(c);
  }
  if (!in.failed() && customers != p.order_accounts)
    in.corrupt("customer counts do not add up to order accounts");
  if (!in.failed() && in.left() != 0) in.corrupt("trailing bytes");
  if (in.failed()) return in.error();
  return p;
}

}  // namespace kamwatch::scoring

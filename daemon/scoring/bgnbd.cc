#include "scoring/bgnbd.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace kamwatch::scoring {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// glibc's lgamma() writes the global signgam; lgamma_r keeps these functions thread-safe.
double log_gamma(double v) {
#if defined(__GLIBC__) || defined(__APPLE__)
  int sign = 0;
  return ::lgamma_r(v, &sign);
#else
  return std::lgamma(v);
#endif
}

double log_sum_exp(double u, double v) {
  const double m = std::max(u, v);
  if (m == -kInf) return -kInf;
  return m + std::log(std::exp(u - m) + std::exp(v - m));
}

// 1 / (1 + exp(l)) without overflow.
double inverse_one_plus_exp(double l) {
  if (l > 0) {
    const double e = std::exp(-l);
    return e / (1 + e);
  }
  return 1 / (1 + std::exp(l));
}

// Sum over n >= 1 of (a)_n (b)_n / ((c+1)_{n-1} n!) z^n, i.e. c * (2F1(a, b; c; z) - 1).
// Scaling by c keeps it finite as c -> 0, which eq. 10 needs for x = 0 and a + b near 1.
// The tail after term n is bounded by |term_{n+1}| / (1 - q) once the term ratio settles
// below q = max(|ratio|, |z|) (the ratio is monotone in n past the parameters' magnitudes).
Result<double> scaled_hyp2f1_tail(double a, double b, double c, double z) {
  constexpr int kMaxTerms = 100'000;  // ~0.5 ms; beyond it the value is reported as not converging
  constexpr double kEps = 1e-16;
  const double settle = 2 + std::abs(a) + std::abs(b) + std::abs(c);
  double term = a * b * z;
  double sum = 0;
  for (int n = 1; n <= kMaxTerms; ++n) {
    sum += term;
    if (term == 0) return sum;  // a or b is a non-positive integer: the series terminates
    const double ratio = (a + n) * (b + n) * z / ((c + n) * (n + 1));
    const double next = term * ratio;
    if (!std::isfinite(next)) break;
    const double q = std::max(std::abs(ratio), std::abs(z));
    if (n > settle && q < 1) {
      const double tail = std::abs(next) / (1 - q);
      if (tail <= kEps * std::max(std::abs(c + sum), 1e-300)) return sum + next;
    }
    term = next;
  }
  return Error{"hyp2f1_no_convergence",
               "2F1 series did not converge (z = " + std::to_string(z) + " too close to 1)"};
}

// Everything the likelihood needs, grouped by identical summaries: a portfolio has many
// customers with the same (x, t_x, T), and the x-dependent lgamma terms are shared by x.
struct Data {
  struct Group {
    double t_x, T, weight;
    std::size_t xi;  // index into xs
  };
  std::vector<double> xs;  // distinct x, ascending
  std::vector<Group> groups;
  double customers = 0;
};

Data group(std::span<const CustomerSummary> customers) {
  std::map<std::tuple<double, double, double>, double> counts;
  for (const CustomerSummary& s : customers) counts[{s.x, s.t_x, s.T}] += 1;
  Data d;
  for (const auto& [key, n] : counts) {
    const double x = std::get<0>(key);
    if (d.xs.empty() || d.xs.back() != x) d.xs.push_back(x);
    d.groups.push_back({std::get<1>(key), std::get<2>(key), n, d.xs.size() - 1});
    d.customers += n;
  }
  return d;
}

double log_likelihood_of(const BgNbdParams& p, const Data& d) {
  const double common =
      -log_gamma(p.r) + p.r * std::log(p.alpha) + log_gamma(p.a + p.b) - log_gamma(p.b);
  std::vector<double> by_x(d.xs.size());
  std::vector<double> a4_by_x(d.xs.size());
  for (std::size_t i = 0; i < d.xs.size(); ++i) {
    const double x = d.xs[i];
    by_x[i] = log_gamma(p.r + x) + log_gamma(p.b + x) - log_gamma(p.a + p.b + x);
    a4_by_x[i] = x > 0 ? std::log(p.a) - std::log(p.b + x - 1) : -kInf;
  }
  double ll = 0;
  for (const Data::Group& g : d.groups) {
    const double x = d.xs[g.xi];
    const double ln_a3 = -(p.r + x) * std::log(p.alpha + g.T);
    const double ln_a4 = x > 0 ? a4_by_x[g.xi] - (p.r + x) * std::log(p.alpha + g.t_x) : -kInf;
    ll += g.weight * (by_x[g.xi] + log_sum_exp(ln_a3, ln_a4));
  }
  return ll + d.customers * common;
}

using Point = std::array<double, 4>;  // log r, log alpha, log a, log b

BgNbdParams from_log(const Point& v) {
  return {std::exp(v[0]), std::exp(v[1]), std::exp(v[2]), std::exp(v[3])};
}

struct Search {
  Point x;
  double f = kInf;
  int evaluations = 0;
};

// Nelder-Mead (Lagarias et al. 1998 coefficients 1, 2, 1/2, 1/2) from x0 with an axis simplex
// of size step. Stops when both the values and the simplex have collapsed, or at the budget.
template <typename F>
Search nelder_mead(const F& f, const Point& x0, double step, double ftol, int budget) {
  constexpr std::size_t kN = 4;
  constexpr double kXtol = 1e-10;
  std::array<Point, kN + 1> v;
  std::array<double, kN + 1> fv;
  int evals = 0;
  const auto eval = [&](const Point& p) {
    ++evals;
    return f(p);
  };
  for (std::size_t i = 0; i <= kN; ++i) {
    v[i] = x0;
    if (i > 0) v[i][i - 1] += step;
    fv[i] = eval(v[i]);
  }
  std::array<std::size_t, kN + 1> order;
  while (true) {
    for (std::size_t i = 0; i <= kN; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t i, std::size_t j) { return fv[i] < fv[j]; });
    const std::size_t best = order[0];
    const std::size_t worst = order[kN];
    const std::size_t second = order[kN - 1];
    double xspread = 0;
    for (std::size_t i = 0; i <= kN; ++i)
      for (std::size_t k = 0; k < kN; ++k)
        xspread = std::max(xspread, std::abs(v[i][k] - v[best][k]));
    const double fspread = fv[worst] - fv[best];
    if ((fspread <= ftol * (1 + std::abs(fv[best])) && xspread <= kXtol) || evals >= budget) break;

    Point centroid{};
    for (std::size_t i = 0; i <= kN; ++i) {
      if (i == worst) continue;
      for (std::size_t k = 0; k < kN; ++k) centroid[k] += v[i][k] / kN;
    }
    const auto along = [&](double t) {  // centroid + t * (centroid - worst)
      Point p;
      for (std::size_t k = 0; k < kN; ++k) p[k] = centroid[k] + t * (centroid[k] - v[worst][k]);
      return p;
    };
    const Point xr = along(1);
    const double fr = eval(xr);
    if (fr < fv[best]) {
      const Point xe = along(2);
      const double fe = eval(xe);
      if (fe < fr) {
        v[worst] = xe, fv[worst] = fe;
      } else {
        v[worst] = xr, fv[worst] = fr;
      }
      continue;
    }
    if (fr < fv[second]) {
      v[worst] = xr, fv[worst] = fr;
      continue;
    }
    const bool outside = fr < fv[worst];
    const Point xc = along(outside ? 0.5 : -0.5);
    const double fc = eval(xc);
    if (outside ? fc <= fr : fc < fv[worst]) {
      v[worst] = xc, fv[worst] = fc;
      continue;
    }
    for (std::size_t i = 0; i <= kN; ++i) {
      if (i == best) continue;
      for (std::size_t k = 0; k < kN; ++k) v[i][k] = v[best][k] + 0.5 * (v[i][k] - v[best][k]);
      fv[i] = eval(v[i]);
    }
  }
  const std::size_t best =
      static_cast<std::size_t>(std::min_element(fv.begin(), fv.end()) - fv.begin());
  return {v[best], fv[best], evals};
}

}  // namespace

Result<void> validate(const CustomerSummary& s) {
  const bool ok = std::isfinite(s.x) && std::isfinite(s.t_x) && std::isfinite(s.T) && s.x >= 0 &&
                  s.x == std::floor(s.x) && s.t_x >= 0 && s.t_x <= s.T && (s.x > 0 || s.t_x == 0);
  if (ok) return kamwatch::ok();
  return Error{
      "invalid_summary",
      "need whole x >= 0, 0 <= t_x <= T and t_x = 0 when x = 0; got x=" + std::to_string(s.x) +
          " t_x=" + std::to_string(s.t_x) + " T=" + std::to_string(s.T)};
}

double log_likelihood(const BgNbdParams& p, const CustomerSummary& s) {
  const CustomerSummary one[] = {s};
  return log_likelihood(p, one);
}

double log_likelihood(const BgNbdParams& p, std::span<const CustomerSummary> s) {
  return log_likelihood_of(p, group(s));
}

Result<BgNbdFit> fit_bgnbd(std::span<const CustomerSummary> customers, const FitOptions& options) {
  std::size_t repeaters = 0;
  for (const CustomerSummary& s : customers) {
    if (auto v = validate(s); !v) return v.error();
    if (s.x > 0) ++repeaters;
  }
  if (customers.size() < options.min_customers) {
    return Error{"too_few_customers", "BG/NBD needs at least " +
                                          std::to_string(options.min_customers) +
                                          " customers, got " + std::to_string(customers.size())};
  }
  if (repeaters < options.min_repeaters) {
    return Error{"too_few_repeaters",
                 "BG/NBD needs at least " + std::to_string(options.min_repeaters) +
                     " customers with a repeat purchase, got " + std::to_string(repeaters)};
  }
  const Data data = group(customers);
  // Summed over the grouped data, not in input order, so the fit does not depend on the order
  // of the customers (a portfolio assembled from partitions fits exactly as the whole one).
  double rate_sum = 0;  // of x / T, for a data-driven starting alpha
  for (const Data::Group& g : data.groups) {
    if (g.T > 0) rate_sum += g.weight * (data.xs[g.xi] / g.T);
  }
  // Minimise the mean negative log-likelihood, so tolerances do not depend on portfolio size.
  // Parameters beyond e^+-30 are refused to keep lgamma and pow finite.
  bool cancelled = false;  // once true, every evaluation is infinite and cheap: the search ends
  const auto objective = [&](const Point& v) {
    if (cancelled || (options.cancelled && options.cancelled())) {
      cancelled = true;
      return kInf;
    }
    for (double c : v)
      if (!(std::abs(c) < 30)) return kInf;
    const double ll = log_likelihood_of(from_log(v), data);
    return std::isfinite(ll) ? -ll / data.customers : kInf;
  };

  // Mean purchase rate lambda ~ r / alpha; starts cover slow/fast buyers and low/high drop-out.
  const double rate = std::max(rate_sum / static_cast<double>(customers.size()), 1e-6);
  const std::array<BgNbdParams, 4> starts = {{
      {1, 1, 1, 1},  // what `lifetimes` starts from
      {0.5, 0.5 / rate, 1, 3},
      {0.25, 0.25 / rate, 0.5, 1},
      {2, 2 / rate, 2, 10},
  }};
  Search best;
  int evaluations = 0;
  const int n_starts = std::clamp(options.starts, 1, static_cast<int>(starts.size()));
  for (int s = 0; s < n_starts; ++s) {
    const BgNbdParams& p0 = starts[static_cast<std::size_t>(s)];
    Point x0 = {std::log(p0.r), std::log(p0.alpha), std::log(p0.a), std::log(p0.b)};
    Search run = nelder_mead(objective, x0, 0.5, options.tolerance,
                             std::max(options.max_evaluations - evaluations, 1));
    evaluations += run.evaluations;
    // Nelder-Mead can stall on a degenerate simplex; restarting around the best point until
    // the value stops improving is the standard remedy.
    for (int k = 0; k < options.restarts && evaluations < options.max_evaluations; ++k) {
      Search again = nelder_mead(objective, run.x, 0.05, options.tolerance,
                                 options.max_evaluations - evaluations);
      evaluations += again.evaluations;
      const bool improved = again.f < run.f - options.tolerance * (1 + std::abs(run.f));
      if (again.f < run.f) run = again;
      if (!improved) break;
    }
    if (run.f < best.f) best = run;
    if (evaluations >= options.max_evaluations) break;
  }
  if (cancelled) return Error{"cancelled", "the BG/NBD fit was cancelled"};
  if (!std::isfinite(best.f)) {
    return Error{"fit_failed", "BG/NBD likelihood is not finite anywhere the search went"};
  }
  static constexpr const char* kNames[] = {"r", "alpha", "a", "b"};
  for (std::size_t k = 0; k < 4; ++k) {
    if (std::abs(best.x[k]) > 20) {
      return Error{"fit_failed", std::string("BG/NBD parameter ") + kNames[k] + " ran off to " +
                                     std::to_string(std::exp(best.x[k])) +
                                     ": the data cannot identify the model"};
    }
  }

  BgNbdFit fit;
  fit.params = from_log(best.x);
  fit.log_likelihood = -best.f * data.customers;
  fit.customers = customers.size();
  fit.repeaters = repeaters;
  fit.evaluations = evaluations;
  double g2 = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    constexpr double kH = 1e-5;
    Point hi = best.x, lo = best.x;
    hi[k] += kH;
    lo[k] -= kH;
    const double g = (objective(hi) - objective(lo)) / (2 * kH);
    g2 += g * g;
  }
  fit.gradient_norm = std::sqrt(g2);
  return fit;
}

double p_alive(const BgNbdParams& p, const CustomerSummary& s) {
  if (s.x <= 0) return 1;
  const double l = std::log(p.a) - std::log(p.b + s.x - 1) +
                   (p.r + s.x) * std::log((p.alpha + s.T) / (p.alpha + s.t_x));
  return inverse_one_plus_exp(l);
}

Result<double> expected_purchases(const BgNbdParams& p, const CustomerSummary& s, double t) {
  if (!(t >= 0) || !std::isfinite(t)) {
    return Error{"invalid_argument", "horizon must be finite and >= 0, got " + std::to_string(t)};
  }
  if (t == 0) return 0.0;
  // Eq. 10 after Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z):
  //   E = C / (a-1) * [1 - rho^(a-1) 2F1(a+b-1-r, a-1; C; z)] * P(alive),
  // with C = a+b+x-1, rho = (alpha+T)/(alpha+T+t), z = t/(alpha+T+t). The transformed series has
  // O(1) numerator parameters, so it neither overflows nor cancels for large x.
  const auto alive_rate = [&](double a) -> Result<double> {
    const double c = a + p.b + s.x - 1;
    const double rho = (p.alpha + s.T) / (p.alpha + s.T + t);
    const double z = t / (p.alpha + s.T + t);
    Result<double> tail = scaled_hyp2f1_tail(a + p.b - 1 - p.r, a - 1, c, z);
    if (!tail) return tail.error();
    return (c - std::pow(rho, a - 1) * (c + *tail)) / (a - 1);
  };
  double e_alive = 0;
  if (std::abs(p.a - 1) < 1e-7) {
    // a = 1 is a removable singularity of eq. 10: average the two sides.
    Result<double> lo = alive_rate(1 - 1e-7);
    Result<double> hi = alive_rate(1 + 1e-7);
    if (!lo) return lo.error();
    if (!hi) return hi.error();
    e_alive = (*lo + *hi) / 2;
  } else {
    Result<double> e = alive_rate(p.a);
    if (!e) return e.error();
    e_alive = *e;
  }
  return e_alive * p_alive(p, s);
}

Result<double> expected_purchases_new(const BgNbdParams& p, double t) {
  return expected_purchases(p, CustomerSummary{0, 0, 0}, t);
}

Result<double> hyp2f1(double a, double b, double c, double z) {
  if (c <= 0 && c == std::floor(c)) {
    return Error{"invalid_argument", "2F1 is undefined for c = " + std::to_string(c)};
  }
  if (!(std::abs(z) < 1)) {
    return Error{"invalid_argument", "2F1 series needs |z| < 1, got " + std::to_string(z)};
  }
  Result<double> tail = scaled_hyp2f1_tail(a, b, c, z);
  if (!tail) return tail.error();
  return 1 + *tail / c;
}

}  // namespace kamwatch::scoring

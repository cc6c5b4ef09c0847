#pragma once
// BG/NBD "buy till you die" model (Fader, Hardie & Lee 2005, "Counting your customers the easy
// way"): maximum-likelihood fit of (r, alpha, a, b) over a portfolio, then per customer
// P(alive) and expected purchases. All times are in one caller-chosen unit (weeks, days).
// Thread-safety: pure functions of their arguments; safe from any thread.
#include <cstddef>
#include <functional>
#include <span>

#include "core/result.h"

namespace kamwatch::scoring {

// One customer's purchase history, as the model sees it. Time 0 is the first purchase.
struct CustomerSummary {
  double x = 0;    // repeat purchases (purchases after the first)
  double t_x = 0;  // time of the last purchase (0 when x == 0)
  double T = 0;    // age: time from the first purchase to the end of observation
  bool operator==(const CustomerSummary&) const = default;
};

// Purchase rate ~ Gamma(r, alpha) (alpha in time units); drop-out probability ~ Beta(a, b).
struct BgNbdParams {
  double r = 0;
  double alpha = 0;
  double a = 0;
  double b = 0;
  bool operator==(const BgNbdParams&) const = default;
};

struct FitOptions {
  int starts = 4;                  // distinct starting points of the search
  int restarts = 8;                // re-inflations of the simplex around the best point
  int max_evaluations = 50'000;    // of the log-likelihood, over all starts
  double tolerance = 1e-12;        // on the mean log-likelihood, relative
  std::size_t min_customers = 10;  // fewer gives no meaningful population estimate
  std::size_t min_repeaters = 3;   // customers with x > 0; without them a and b are unidentified
  // Polled at every likelihood evaluation: when it returns true the fit stops and fails with
  // "cancelled" (a daemon stopping while a million accounts are being fitted).
  std::function<bool()> cancelled;
};

struct BgNbdFit {
  BgNbdParams params;
  double log_likelihood = 0;  // sum over customers, full paper form (CDNOW: -9582.4)
  double gradient_norm = 0;   // of the mean log-likelihood in log-parameter space, at the optimum
  std::size_t customers = 0;
  std::size_t repeaters = 0;
  int evaluations = 0;
};

// Checks 0 <= x, 0 <= t_x <= T, all finite; error code "invalid_summary" otherwise.
[[nodiscard]] Result<void> validate(const CustomerSummary& s);

// ln L of one customer (paper eq. 6), or summed over customers. Parameters must be > 0.
[[nodiscard]] double log_likelihood(const BgNbdParams& p, const CustomerSummary& s);
[[nodiscard]] double log_likelihood(const BgNbdParams& p, std::span<const CustomerSummary> s);

// Maximum-likelihood estimate (Nelder-Mead in log-parameter space, several starts, restarted
// until it no longer improves). Errors: "invalid_summary", "too_few_customers",
// "too_few_repeaters", "fit_failed" (no finite optimum or parameters running off to 0 or
// infinity, which happens when the data cannot identify the model). The result depends only on
// the multiset of summaries, not on their order.
[[nodiscard]] Result<BgNbdFit> fit_bgnbd(std::span<const CustomerSummary> customers,
                                         const FitOptions& options = {});

// P(still alive | x, t_x, T) (Fader, Hardie & Lee 2008 note "Computing P(alive) using the
// BG/NBD model", eq. 2). 1 when x == 0: the model assumes no drop-out before a repeat purchase.
[[nodiscard]] double p_alive(const BgNbdParams& p, const CustomerSummary& s);

// E[Y(t) | x, t_x, T]: expected purchases in the next t time units (paper eq. 10).
// Error "hyp2f1_no_convergence" only for extreme horizons (t >> alpha + T, see README).
[[nodiscard]] Result<double> expected_purchases(const BgNbdParams& p, const CustomerSummary& s,
                                                double t);

// E[X(t)]: expected purchases in (0, t] of a customer who just made a first purchase
// (paper eq. 9); equals expected_purchases() with x = t_x = T = 0.
[[nodiscard]] Result<double> expected_purchases_new(const BgNbdParams& p, double t);

// Gauss hypergeometric 2F1(a, b; c; z) for |z| < 1 by its power series, summed until a
// bound on the tail is below 1e-16 of the sum. c must not be 0 or a negative integer.
// Error "hyp2f1_no_convergence" when z is too close to 1 for the term budget.
[[nodiscard]] Result<double> hyp2f1(double a, double b, double c, double z);

}  // namespace kamwatch::scoring

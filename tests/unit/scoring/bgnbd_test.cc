#include "scoring/bgnbd.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <vector>

#include "cdnow.h"

namespace kamwatch::scoring {
namespace {

using testing::load_cdnow_summary;

// Published CDNOW estimates (Fader, Hardie & Lee 2005, section 4): r, alpha (weeks), a, b.
constexpr BgNbdParams kPublished{0.243, 4.414, 0.793, 2.426};
// The maximum-likelihood estimate as fitted by Python `lifetimes` 0.11.3
// (BetaGeoFitter().fit(...) on the same file): values below were computed with it.
constexpr BgNbdParams kLifetimes{0.24259292827982182, 4.413532265271819, 0.7928859664406882,
                                 2.42575238262586};

std::vector<CustomerSummary> cdnow_summaries() {
  std::vector<CustomerSummary> out;
  for (const auto& c : load_cdnow_summary()) out.push_back(c.summary);
  return out;
}

void expect_rel_near(double actual, double expected, double rel, const char* what) {
  EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

TEST(Hyp2f1, MatchesClosedForms) {
  for (double z : {-0.9, -0.3, 0.1, 0.5, 0.9, 0.99}) {
    // 2F1(1, 1; 2; z) = -ln(1 - z) / z
    expect_rel_near(hyp2f1(1, 1, 2, z).value(), -std::log1p(-z) / z, 1e-13, "log");
    // 2F1(a, b; b; z) = (1 - z)^-a
    expect_rel_near(hyp2f1(0.7, 3.2, 3.2, z).value(), std::pow(1 - z, -0.7), 1e-13, "power");
  }
  for (double s : {0.2, 0.6, 0.95}) {
    // 2F1(1/2, 1/2; 3/2; s^2) = asin(s) / s
    expect_rel_near(hyp2f1(0.5, 0.5, 1.5, s * s).value(), std::asin(s) / s, 1e-13, "asin");
  }
  // Terminating series (a = -2), a polynomial:
  // 2F1(-2, 3; 4; z) = 1 - 1.5 z + 0.6 z^2
  expect_rel_near(hyp2f1(-2, 3, 4, 0.5).value(), 1 - 0.75 + 0.15, 1e-15, "poly");
  // mpmath, 40 digits.
  expect_rel_near(hyp2f1(0.5, 1.5, 2.5, 0.9).value(), 1.667303469184580214764528809656722, 1e-13,
                  "mpmath 1");
  expect_rel_near(hyp2f1(-0.3, 0.7, 1.2, 0.99).value(), 0.6970029392587502255216675272717435, 1e-12,
                  "mpmath 2");
}

TEST(Hyp2f1, RefusesWhatTheSeriesCannotDo) {
  EXPECT_EQ(hyp2f1(1, 1, -2, 0.5).error().code, "invalid_argument");
  EXPECT_EQ(hyp2f1(1, 1, 2, 1.0).error().code, "invalid_argument");
  EXPECT_EQ(hyp2f1(1, 1, 2, 1 - 1e-9).error().code, "hyp2f1_no_convergence");
}

TEST(BgNbd, LogLikelihoodAtPublishedEstimatesMatchesPaper) {
  // The paper reports LL = -9582.4 at its estimates.
  EXPECT_NEAR(log_likelihood(kPublished, cdnow_summaries()), -9582.4, 0.1);
}

TEST(BgNbd, ReproducesPublishedCdnowEstimates) {
  const std::vector<CustomerSummary> customers = cdnow_summaries();
  ASSERT_EQ(customers.size(), 2357u);

  const auto t0 = std::chrono::steady_clock::now();
  Result<BgNbdFit> fit = fit_bgnbd(customers);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(fit.ok()) << fit.error().to_string();
  const BgNbdParams& p = fit->params;
  std::printf(
      "[ CDNOW    ] r=%.6f alpha=%.6f a=%.6f b=%.6f LL=%.4f |grad|=%.2e customers=%zu "
      "repeaters=%zu evaluations=%d fit=%.1f ms\n",
      p.r, p.alpha, p.a, p.b, fit->log_likelihood, fit->gradient_norm, fit->customers,
      fit->repeaters, fit->evaluations, ms);

  // Within 1% of the published (3-digit) estimates...
  expect_rel_near(p.r, kPublished.r, 0.01, "r");
  expect_rel_near(p.alpha, kPublished.alpha, 0.01, "alpha");
  expect_rel_near(p.a, kPublished.a, 0.01, "a");
  expect_rel_near(p.b, kPublished.b, 0.01, "b");
  // ... and converged tightly: the same optimum as `lifetimes` to 5 digits.
  expect_rel_near(p.r, kLifetimes.r, 1e-5, "r vs lifetimes");
  expect_rel_near(p.alpha, kLifetimes.alpha, 1e-5, "alpha vs lifetimes");
  expect_rel_near(p.a, kLifetimes.a, 1e-5, "a vs lifetimes");
  expect_rel_near(p.b, kLifetimes.b, 1e-5, "b vs lifetimes");
  EXPECT_NEAR(fit->log_likelihood, -9582.43, 0.01);
  EXPECT_LT(fit->gradient_norm, 1e-6);
  EXPECT_GE(fit->log_likelihood, log_likelihood(kLifetimes, customers) - 1e-6);
  EXPECT_EQ(fit->customers, 2357u);
  EXPECT_EQ(fit->repeaters, 946u);
}

struct Reference {
  CustomerSummary s;
  double p_alive, e39, e52;
};

// From `lifetimes` 0.11.3 with kLifetimes: conditional_probability_alive and
// conditional_expected_number_of_purchases_up_to_time(39 / 52, ...). CDNOW IDs 1, 2, 3, 100,
// 1516 (the heaviest buyer), 1891, and one synthetic customer.
const Reference kReferences[] = {
    {{2, 30.43, 38.86}, 0.726609136799059, 1.2259104241743999, 1.5585837617716687},
    {{1, 1.71, 38.86}, 0.2122273880722099, 0.20325062425619006, 0.2599070794084924},
    {{0, 0.0, 38.86}, 1.0, 0.1947808579394776, 0.25166572540727083},
    {{1, 23.86, 38.29}, 0.6469884214257884, 0.6267951461314717, 0.8012121846884039},
    {{26, 30.86, 31.0}, 0.9689197159692103, 20.750570498763963, 25.759474717124164},
    {{2, 20.57, 29.29}, 0.6882598842529867, 1.431294233869961, 1.8048002912680714},
    {{7, 35.0, 38.0}, 0.8620075054964217, 4.556215302058847, 5.7287650251406514},
};

TEST(BgNbd, PAliveAndExpectedPurchasesMatchLifetimes) {
  for (const Reference& ref : kReferences) {
    SCOPED_TRACE(::testing::Message()
                 << "x=" << ref.s.x << " t_x=" << ref.s.t_x << " T=" << ref.s.T);
    expect_rel_near(p_alive(kLifetimes, ref.s), ref.p_alive, 1e-12, "P(alive)");
    expect_rel_near(expected_purchases(kLifetimes, ref.s, 39).value(), ref.e39, 1e-10, "E[Y(39)]");
    expect_rel_near(expected_purchases(kLifetimes, ref.s, 52).value(), ref.e52, 1e-10, "E[Y(52)]");
  }
  // Unconditional E[X(39)] (paper eq. 9), lifetimes' expected_number_of_purchases_up_to_time.
  expect_rel_near(expected_purchases_new(kLifetimes, 39).value(), 1.1950162284461952, 1e-10,
                  "E[X(39)]");
}

TEST(BgNbd, ExpectedPurchasesMatchPaperAndMpmath) {
  // Paper, section 4: customer with x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in
  // the next 39 weeks. mpmath (40 digits) evaluating eq. 10 as printed: 1.2260281747671444.
  expect_rel_near(expected_purchases(kPublished, {2, 30.43, 38.86}, 39).value(), 1.2260281747671444,
                  1e-12, "paper customer");
  // Large x: the untransformed 2F1 would overflow; eq. 10 via mpmath.
  const BgNbdParams p{2, 10, 0.5, 5};
  expect_rel_near(expected_purchases(p, {300, 700, 730}, 365).value(), 0.30383765589471977, 1e-10,
                  "x=300");
  expect_rel_near(p_alive(p, {300, 700, 730}), 0.0022644408682473591, 1e-12, "P(alive) x=300");
  expect_rel_near(expected_purchases(p, {300, 600, 730}, 365).value(), 3.7429584511559376e-21, 1e-9,
                  "x=300 long silent");
  // a + b < 1 and x = 0: the 2F1's c = a + b - 1 is negative.
  expect_rel_near(expected_purchases({0.3, 2, 0.3, 0.5}, {0, 0, 10}, 50).value(),
                  0.80624697393517686, 1e-10, "c < 0");
  // a = 1 is a removable singularity; close to it the value is continuous.
  expect_rel_near(expected_purchases({0.243, 4.414, 1.0, 2.426}, {2, 30.43, 38.86}, 39).value(),
                  1.1021367859853328, 1e-6, "a = 1");
  // A horizon far beyond alpha + T (z = 0.9989) still converges.
  expect_rel_near(expected_purchases(kPublished, {0, 0, 1}, 5000).value(), 11.17281130535446, 1e-10,
                  "long horizon");
}

TEST(BgNbd, ExpectedPurchasesGrowWithHorizonAndFallWithSilence) {
  double last = 0;
  for (double t : {0.0, 1.0, 4.0, 13.0, 52.0, 104.0}) {
    const double e = expected_purchases(kPublished, {5, 30, 39}, t).value();
    EXPECT_GE(e, last);
    last = e;
  }
  EXPECT_GT(p_alive(kPublished, {5, 38, 39}), p_alive(kPublished, {5, 20, 39}));
  EXPECT_EQ(expected_purchases(kPublished, {5, 30, 39}, -1).error().code, "invalid_argument");
}

TEST(BgNbd, FitRefusesDataThatCannotIdentifyTheModel) {
  std::vector<CustomerSummary> few(5, CustomerSummary{1, 2, 10});
  EXPECT_EQ(fit_bgnbd(few).error().code, "too_few_customers");

  std::vector<CustomerSummary> no_repeats(50, CustomerSummary{0, 0, 20});
  no_repeats[0] = {3, 10, 20};
  EXPECT_EQ(fit_bgnbd(no_repeats).error().code, "too_few_repeaters");

  std::vector<CustomerSummary> bad(50, CustomerSummary{1, 2, 10});
  bad[7] = {1, 12, 10};  // last purchase after the end of observation
  const Result<BgNbdFit> fit = fit_bgnbd(bad);
  EXPECT_EQ(fit.error().code, "invalid_summary");
  EXPECT_EQ(validate({1.5, 1, 2}).error().code, "invalid_summary");
  EXPECT_EQ(validate({0, 1, 2}).error().code, "invalid_summary");
  EXPECT_TRUE(validate({0, 0, 0}).ok());
}

TEST(BgNbd, FitOnSimulatedPortfolioRecoversParameters) {
  // Deterministic portfolio from the model itself: a large sample of known (r, alpha, a, b)
  // should fit back close to them. Simple LCG so the test does not depend on <random>'s
  // distribution implementations.
  const BgNbdParams truth{0.8, 6.0, 0.6, 3.0};
  std::uint64_t state = 42;
  const auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;
  };
  // Gamma(shape k, scale 1) by Marsaglia-Tsang (k >= 1) with the k < 1 boost.
  const auto normal = [&] {
    return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * std::numbers::pi * uniform());
  };
  const auto gamma = [&](double k) {
    double boost = 1;
    if (k < 1) {
      boost = std::pow(uniform(), 1 / k);
      k += 1;
    }
    const double d = k - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    while (true) {
      double x = normal(), v = 1 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      if (std::log(uniform()) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * boost;
    }
  };
  std::vector<CustomerSummary> customers;
  for (int i = 0; i < 6000; ++i) {
    const double lambda = gamma(truth.r) / truth.alpha;
    const double ga = gamma(truth.a), gb = gamma(truth.b);
    const double p = ga / (ga + gb);
    const double T = 20 + 20 * uniform();
    double t = 0, t_x = 0, x = 0;
    while (true) {
      t += -std::log(uniform()) / lambda;
      if (t > T) break;
      x += 1;
      t_x = t;
      if (uniform() < p) break;  // drops out after this purchase
    }
    customers.push_back({x, t_x, T});
  }
  Result<BgNbdFit> fit = fit_bgnbd(customers);
  ASSERT_TRUE(fit.ok()) << fit.error().to_string();
  EXPECT_NEAR(fit->params.r, truth.r, 0.15 * truth.r);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.2 * truth.alpha);
  EXPECT_NEAR(fit->params.a, truth.a, 0.3 * truth.a);
  EXPECT_NEAR(fit->params.b, truth.b, 0.4 * truth.b);
  EXPECT_GE(fit->log_likelihood, log_likelihood(truth, customers));
}

}  // namespace
}  // namespace kamwatch::scoring

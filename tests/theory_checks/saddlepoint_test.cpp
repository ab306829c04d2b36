// The saddlepoint z of a mean of replicates (theory_checks/saddlepoint.h) against tails
// known in closed form, and the false-alarm rate it gives the bias row it was built for.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/poisson.hpp>

#include "src/counter_rng.h"
#include "theory_checks/replicates.h"
#include "theory_checks/saddlepoint.h"

namespace disa::theory {
namespace {

const boost::math::normal kStandardNormal;
double phi(double z) { return boost::math::cdf(kStandardNormal, z); }

// r*'s tail has relative error O(1/m) (saddlepoint.h). With no constant to hand, the
// tolerance is 5/m: a z without r*'s log(v/w)/w term is off by about skewness z^2 / 6
// (0.75 in z at a 1e-6 tail of Gamma(100)), a factor of 5 or more in probability.
double relative_tolerance(std::int64_t m) { return 5.0 / static_cast<double>(m); }

TEST(SaddlepointZ, MatchesTheBinomialTailOnALattice) {
  // A two-point law: the sum of m draws is Binomial(m, p), a lattice, where the
  // continuity correction applies.
  const double p = 0.1;
  const std::int64_t m = 400;
  const DiscreteLaw law{{0.0, 1.0}, {1.0 - p, p}};
  const boost::math::binomial_distribution<double> sum(static_cast<double>(m), p);
  for (const int k : {5, 10, 20, 25, 58, 60, 70, 80}) {
    SCOPED_TRACE(k);
    const double z = saddlepoint_z(law, k / static_cast<double>(m), m);
    const bool lower = k < p * m;
    const double exact = lower ? boost::math::cdf(sum, k) : boost::math::cdf(boost::math::complement(sum, k - 1));
    const double approx = lower ? phi(z) : phi(-z);
    EXPECT_LT(exact, 1e-2);  // a tail, not the bulk
    EXPECT_NEAR(approx / exact, 1.0, relative_tolerance(m)) << "exact " << exact << " approx " << approx;
  }
}

TEST(SaddlepointZ, MatchesTheGammaTailOfAnExponentialSum) {
  // Exponential(1) on a grid of 1e-3 (bin midpoints, mass e^{-ih}(1 - e^{-h})): the mean
  // of m draws is Gamma(m, 1/m) up to the grid, a far smaller error than the tolerance.
  const double h = 1e-3;
  DiscreteLaw law;
  for (int i = 0; i * h < 45.0; ++i) {
    law.value.push_back((i + 0.5) * h);
    law.probability.push_back(std::exp(-i * h) * -std::expm1(-h));
  }
  const std::int64_t m = 100;
  const boost::math::gamma_distribution<double> sum(static_cast<double>(m), 1.0);
  for (const double mean : {0.62, 0.66, 0.7, 1.35, 1.45, 1.6, 1.8}) {
    SCOPED_TRACE(mean);
    const double z = saddlepoint_z(law, mean, m);
    const double exact =
        mean < 1.0 ? boost::math::cdf(sum, mean * m) : boost::math::cdf(boost::math::complement(sum, mean * m));
    const double approx = mean < 1.0 ? phi(z) : phi(-z);
    EXPECT_LT(exact, 1e-2);
    EXPECT_GT(exact, 1e-12);
    EXPECT_NEAR(approx / exact, 1.0, relative_tolerance(m)) << "exact " << exact << " approx " << approx;
    // The normal z the rule used before misses these tails by far more.
    const double normal = (mean - 1.0) * std::sqrt(static_cast<double>(m));
    const double normal_tail = mean < 1.0 ? phi(normal) : phi(-normal);
    EXPECT_GT(std::fabs(std::log(normal_tail / exact)), std::fabs(std::log(approx / exact)));
  }
}

TEST(SaddlepointZ, EdgesOfTheSupportAndNoSpread) {
  const DiscreteLaw law{{0.0, 1.0}, {0.1, 0.9}};
  // Every draw at 0: probability 0.1^10 = 1e-10.
  EXPECT_NEAR(saddlepoint_z(law, 0.0, 10), boost::math::quantile(kStandardNormal, 1e-10), 1e-9);
  EXPECT_NEAR(saddlepoint_z(law, 1.0, 10), -boost::math::quantile(kStandardNormal, std::pow(0.9, 10)), 1e-9);
  EXPECT_EQ(saddlepoint_z(law, -0.01, 10), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(saddlepoint_z(law, 1.01, 10), std::numeric_limits<double>::infinity());
  EXPECT_EQ(saddlepoint_z(law, 0.0, 400), -std::numeric_limits<double>::infinity());  // 1e-400 underflows
  EXPECT_TRUE(std::isnan(saddlepoint_z(DiscreteLaw{{2.0, 2.0}, {0.5, 0.5}}, 2.0, 10)));
  // Near the mean it is the normal z.
  EXPECT_NEAR(saddlepoint_z(law, 0.9 + 0.1 * 0.3 / std::sqrt(10.0), 10), 0.1, 1e-12);
  EXPECT_THROW(saddlepoint_z(DiscreteLaw{{1.0}, {0.5, 0.5}}, 1.0, 10), std::invalid_argument);
  EXPECT_THROW(saddlepoint_z(law, 0.5, 0), std::invalid_argument);
}

TEST(SaddlepointZ, FarPointsOfTinyProbabilityKeepTheTail) {
  // exact_law keeps points down to 5e-324: the cumulants were shifted by the largest s x
  // alone, so at a lower-tail s such a point set the scale, every point with mass
  // underflowed, and z was NaN (a review's reproducer; check_03's row 58 at N = 4096 and
  // check_14's N = 1024 rows fell back to the normal z that way). The far point's mass is
  // nil: z is that of the symmetric two-point law, -1 at -1 standard error.
  const DiscreteLaw law{{-0.18, -1e-4, 1e-4}, {4.94e-324, 0.5, 0.5}};
  const double se = 1e-4 / std::sqrt(256.0);
  for (const double sd : {-1.0, -3.0, -4.5, 1.0, 3.0}) {
    const double z = saddlepoint_z(law, sd * se, 256);
    EXPECT_NEAR(z, sd, 0.01 * std::fabs(sd)) << sd;
  }
}

TEST(SaddlepointZ, NearTheMeanAfterTheContinuityCorrectionItIsTheNormalZ) {
  // A lattice whose half step puts the corrected mean at 1e-9 of the law's: w was rounding
  // noise there and r* came out 69662 (exact: 0.27, from P(S >= 1) = 0.394).
  const double p = 0.5 / 512 * (1 - 1e-6);
  const double z = saddlepoint_z(DiscreteLaw{{0.0, 1.0}, {1 - p, p}}, 1.0 / 512, 512);
  EXPECT_LT(std::fabs(z), 0.5);
  // An edge of probability above 1/2 stays on its side of 0: all 512 draws at 0, below the
  // mean, gave +0.25.
  EXPECT_LE(saddlepoint_z(DiscreteLaw{{0.0, 1.0}, {0.999, 0.001}}, 0.0, 512), 0.0);
  EXPECT_GE(saddlepoint_z(DiscreteLaw{{0.0, 1.0}, {0.001, 0.999}}, 1.0, 512), 0.0);
}

// Draws the mean of m replicates from `law` by inverting its CDF with `rng`'s stream.
double sampled_mean(const DiscreteLaw& law, const std::vector<double>& cdf, const CounterRng& rng, std::int64_t m) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < m; ++i) {
    const double u = rng.uniform(static_cast<std::uint64_t>(i)) * cdf.back();
    const auto at = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    sum +=
        law.value[static_cast<std::size_t>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(cdf.size()) - 1))];
  }
  return sum / static_cast<double>(m);
}

TEST(SaddlepointZ, GivesTheBetaEightBiasRowItsStatedFalseAlarmRate) {
  // check_03's bias row at strategies, beta 8, q = pi_ref, N = 64, M = 512 (--quick): its
  // normal z fell below -4 at seed 123. Under the row's exact law, R runs of M replicates:
  // the count beyond each |z| = 3 is Poisson(R Phi(-3) = 27) for a calibrated z. Bounds:
  // that Poisson's 5e-5 and 1 - 5e-5 quantiles, so the four judged counts (two tails,
  // two checks below) raise a false alarm with probability below 4e-4.
  const Case c = make_case(standard_tree("strategies"), 8.0, "reference");
  const std::optional<ExactLaw> law = exact_law(c, 64);
  ASSERT_TRUE(law);
  const DiscreteLaw& one = law->controlled_law;
  std::vector<double> cdf;
  double total = 0.0, mean = 0.0;
  for (std::size_t i = 0; i < one.value.size(); ++i) {
    total += one.probability[i];
    mean += one.probability[i] * one.value[i];
    cdf.push_back(total);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_NEAR(mean, law->bias + c.hole_mass, 1e-12);
  const std::int64_t m = 512, runs = 20000;
  const double se = std::sqrt(law->var_controlled / static_cast<double>(m));
  std::int64_t saddle_low = 0, saddle_high = 0, normal_low = 0;
  for (std::int64_t run = 0; run < runs; ++run) {
    const double observed = sampled_mean(one, cdf, CounterRng(20261207, static_cast<std::uint64_t>(run)), m);
    const double z = saddlepoint_z(one, observed, m);
    saddle_low += z < -3.0;
    saddle_high += z > 3.0;
    normal_low += (observed - mean) / se < -3.0;
  }
  const boost::math::poisson_distribution<double> count(static_cast<double>(runs) * phi(-3.0));
  const double lowest = boost::math::quantile(count, 5e-5), highest = boost::math::quantile(count, 1.0 - 5e-5);
  EXPECT_GE(saddle_low, lowest);
  EXPECT_LE(saddle_low, highest);
  EXPECT_GE(saddle_high, lowest);
  EXPECT_LE(saddle_high, highest);
  // The normal z's lower tail is what the saddlepoint replaces: far heavier here.
  EXPECT_GT(normal_low, highest) << "the row's law is no longer skewed enough to need the saddlepoint";
  std::printf("runs %lld: saddlepoint z < -3: %lld, > 3: %lld; normal z < -3: %lld; Poisson(%.1f) bounds [%g, %g]\n",
              static_cast<long long>(runs), static_cast<long long>(saddle_low), static_cast<long long>(saddle_high),
              static_cast<long long>(normal_low), static_cast<double>(runs) * phi(-3.0), lowest, highest);
}

}  // namespace
}  // namespace disa::theory

// Tests src/is_estimator.h: the importance-sampled log Zhat and its diagnostics
// (THEORY.md items 1-4), deterministic cases only (label cpu). The statistical
// laws (unbiasedness, chi2/N, ESS, delta-method bias, CI coverage, PSIS tail
// recovery) are in is_estimator_statistical_test.cpp.
//
// Against:
//   - exact identities: q = p* makes every weight equal Z, so log Zhat = log Z,
//     ESS = N, chi2_hat = 0 up to round-off (strategies tree, AliasSampler draws);
//   - hand-derived values ({1, 3}: Zhat = 2, ESS = 1.6, max weight 3/4, chi2_hat =
//     0.25, delta-method se = 1/2), and log-weights at +-1e300 where exp would
//     overflow or underflow without the rescaling;
//   - invariances: permutation (to round-off; k_hat bit for bit, since the tail is
//     sorted), shift equivariance (bit for bit on a dyadic grid where x + c is
//     exact), segmented == per-segment bit for bit at 1 and 2 threads;
//   - the documented errors and flags (N = 0, NaN, +inf naming the index; all
//     weights zero; single sample; k_hat unavailable; ESS below 10);
//   - PSIS mechanics: the tail is at most the M = ceil(min(N/5, 3 sqrt N)) largest,
//     the rest untouched bit for bit, ranks and the largest weight never increased.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <boost/math/distributions/normal.hpp>
#include <gtest/gtest.h>

#include "src/counter_rng.h"
#include "src/input_error.h"
#include "src/is_estimator.h"
#include "tests/util/errors.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/sampler.h"

namespace disa {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();

bool has_flag(const IsEstimate& e, const std::string& flag) {
  return std::find(e.flags.begin(), e.flags.end(), flag) != e.flags.end();
}

// Bit-for-bit equality (NaN == NaN of the same payload, -0 != +0).
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

::testing::AssertionResult identical(const IsEstimate& a, const IsEstimate& b) {
  const std::pair<const char*, std::pair<double, double>> fields[] = {
      {"log_z_hat", {a.log_z_hat, b.log_z_hat}}, {"ess", {a.ess, b.ess}},
      {"ess_fraction", {a.ess_fraction, b.ess_fraction}}, {"max_weight", {a.max_weight, b.max_weight}},
      {"chi2_hat", {a.chi2_hat, b.chi2_hat}}, {"k_hat", {a.k_hat, b.k_hat}},
      {"log_z_psis", {a.log_z_psis, b.log_z_psis}}, {"ci_low", {a.ci_low, b.ci_low}},
      {"ci_high", {a.ci_high, b.ci_high}}};
  if (a.n != b.n) return ::testing::AssertionFailure() << "n " << a.n << " vs " << b.n;
  for (const auto& [name, v] : fields) {
    if (!same_bits(v.first, v.second)) {
      return ::testing::AssertionFailure() << name << ": " << v.first << " vs " << v.second;
    }
  }
  if (a.ci_method != b.ci_method) return ::testing::AssertionFailure() << "ci_method differs";
  if (a.flags != b.flags) return ::testing::AssertionFailure() << "flags differ";
  return ::testing::AssertionSuccess();
}

// N log-weights sigma * z_i, z_i ~ N(0, 1) from stream `stream`, rounded to the
// dyadic grid 2^-20 (so that adding a multiple of 2^-20 below 2^30 is exact).
std::vector<double> gaussian_log_weights(std::int64_t n, double sigma, std::uint64_t stream) {
  const CounterRng rng(2024, stream);
  std::vector<double> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x[i] = std::ldexp(std::round(std::ldexp(sigma * rng.normal(i), 20)), -20);
  return x;
}

// ---- exactness at q = p* -------------------------------------------------------

// With q = p*, w(y) = pi_ref(y) e^{beta r(y)} / p*(y) = Z for every y: each log w_i
// equals log Z up to the rounding of the path sums (a few eps times the size of
// the terms, |log pi| + beta r <~ 20), so log Zhat = log Z, ESS = N, chi2_hat = 0.
TEST(IsEstimatorExactness, ProposalEqualToTargetGivesEveryWeightZ) {
  const Tree tree = make_trees("strategies", {{"horizon", "4"}}, 7)[0];
  const double beta = 3.0;
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const std::vector<double> log_ref = leaf_log_probs(ref);
  const double log_z = log_partition(tree, beta);
  const std::int64_t n = 2000;
  const SampleBatch batch = AliasSampler(target).sample(11, n);
  std::vector<double> log_w(n);
  double spread = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t y = batch.leaf[i];
    log_w[i] = log_ref[y] - batch.log_prob[i] + beta * tree.reward[y];
    spread = std::max(spread, std::fabs(log_w[i] - log_z));
  }
  ASSERT_LT(spread, 1e-12) << "the weights themselves are not Z: sampler or target is off";
  const IsEstimate e = estimate_log_partition(log_w);
  EXPECT_EQ(e.n, n);
  EXPECT_NEAR(e.log_z_hat, log_z, 2e-12);
  // ESS/N = 1 / (1 + relative variance of the weights); that variance is <= spread^2.
  EXPECT_NEAR(e.ess, static_cast<double>(n), 1e-9 * n);
  EXPECT_NEAR(e.ess_fraction, 1.0, 1e-9);
  EXPECT_NEAR(e.chi2_hat, 0.0, 1e-9);
  EXPECT_NEAR(e.max_weight, 1.0 / n, 1e-9 / n);
  EXPECT_TRUE(e.ci_high - e.ci_low < 1e-9) << "[" << e.ci_low << ", " << e.ci_high << "]";
  // Smoothed tail weights stay in [cutoff, largest raw weight], all Z to round-off.
  if (!std::isnan(e.log_z_psis)) {
    EXPECT_NEAR(e.log_z_psis, log_z, 2e-12);
  }
  // Equal weights are the best case, never flagged as an unreliable estimate.
  EXPECT_TRUE(e.reliable()) << "k_hat = " << e.k_hat;
  EXPECT_FALSE(has_flag(e, kKHatAboveThreshold)) << "k_hat = " << e.k_hat;
}

// Exactly constant log-weights: Zhat is that constant, ESS = N, chi2_hat = 0 exactly.
TEST(IsEstimatorExactness, ConstantLogWeights) {
  for (double c : {-745.5, -3.25, 0.0, 2.5, 800.0, 1e300}) {
    const std::vector<double> log_w(1000, c);
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_NEAR(e.log_z_hat, c, 4 * kEps * std::max(1.0, std::fabs(c))) << c;
    EXPECT_NEAR(e.ess, 1000.0, 1e-10);
    EXPECT_NEAR(e.chi2_hat, 0.0, 1e-12);
    EXPECT_TRUE(e.reliable()) << c;
  }
}

// ---- hand cases ------------------------------------------------------------------

// w = {1, 3}: Zhat = 2, ESS = 16/10, max weight 3/4, chi2_hat = 2/1.6 - 1 = 1/4.
// Delta method: sd(w) = sqrt(2) (N - 1 denominator), se = sd / (sqrt(N) mean) = 1/2.
TEST(IsEstimatorHandCases, TwoWeights) {
  const std::vector<double> log_w{0.0, std::log(3.0)};
  const IsEstimate e = estimate_log_partition(log_w);
  EXPECT_EQ(e.n, 2);
  EXPECT_NEAR(e.log_z_hat, std::log(2.0), 4 * kEps);
  EXPECT_NEAR(e.ess, 1.6, 8 * kEps);
  EXPECT_NEAR(e.ess_fraction, 0.8, 8 * kEps);
  EXPECT_NEAR(e.max_weight, 0.75, 4 * kEps);
  EXPECT_NEAR(e.chi2_hat, 0.25, 16 * kEps);
  EXPECT_EQ(e.ci_method, "delta");
  const double z = boost::math::quantile(boost::math::normal(), 0.975);
  EXPECT_NEAR(e.ci_low, std::log(2.0) - z * 0.5, 1e-14);
  EXPECT_NEAR(e.ci_high, std::log(2.0) + z * 0.5, 1e-14);
  // N = 2 has no Pareto tail.
  EXPECT_TRUE(std::isnan(e.k_hat));
  EXPECT_TRUE(std::isnan(e.log_z_psis));
  EXPECT_TRUE(has_flag(e, "k_hat_unavailable"));
}

TEST(IsEstimatorHandCases, CiLevelChangesTheWidth) {
  const std::vector<double> log_w{0.0, std::log(3.0), 1.0, -0.5};
  IsOptions o;
  o.ci_level = 0.5;
  const IsEstimate narrow = estimate_log_partition(log_w, o);
  const IsEstimate wide = estimate_log_partition(log_w);
  const double z50 = boost::math::quantile(boost::math::normal(), 0.75);
  const double z95 = boost::math::quantile(boost::math::normal(), 0.975);
  EXPECT_NEAR((narrow.ci_high - narrow.ci_low) / (wide.ci_high - wide.ci_low), z50 / z95, 1e-12);
  EXPECT_NEAR(narrow.ci_low + narrow.ci_high, 2 * narrow.log_z_hat, 1e-12);
}

// Hand cases far outside exp's range: only the rescaling by the maximum gets these.
TEST(IsEstimatorHandCases, LogWeightsSpanningPlusMinus1e300) {
  {
    // 1e300 - 1 rounds to 1e300 (the ulp there is ~1e284), and the log(...) term is
    // far below that ulp, so the exact answer rounds to 1e300.
    const std::vector<double> log_w{1e300, 1e300 - 1};
    const double expected = 1e300 + std::log((1 + std::exp(-1.0)) / 2);
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_NEAR(e.log_z_hat, expected, 1e-15 * 1e300);
    EXPECT_NEAR(e.ess, 2.0, 1e-15);
  }
  {
    const std::vector<double> log_w{-1e300, -1e300};
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_TRUE(std::isfinite(e.log_z_hat));
    EXPECT_EQ(e.log_z_hat, -1e300);
    EXPECT_NEAR(e.ess, 2.0, 1e-15);
  }
  {
    // One weight dominates completely: Zhat = w_max / 2, ESS = 1, chi2_hat = N - 1 = 1.
    const std::vector<double> log_w{-1e300, 1e300};
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_EQ(e.log_z_hat, 1e300);
    EXPECT_EQ(e.ess, 1.0);
    EXPECT_EQ(e.max_weight, 1.0);
    EXPECT_EQ(e.chi2_hat, 1.0);
  }
  {
    // Where the differences are representable: exp(720) overflows, exp(-800) underflows.
    const std::vector<double> hi{700.0, 710.0, 720.0};
    EXPECT_NEAR(estimate_log_partition(hi).log_z_hat,
                720.0 + std::log1p(std::exp(-10.0) + std::exp(-20.0)) - std::log(3.0), 4 * kEps * 720);
    const std::vector<double> lo{-800.0, -790.0};
    const IsEstimate e = estimate_log_partition(lo);
    EXPECT_NEAR(e.log_z_hat, -790.0 + std::log1p(std::exp(-10.0)) - std::log(2.0), 4 * kEps * 800);
    const double r = std::exp(-10.0);
    EXPECT_NEAR(e.ess, (1 + r) * (1 + r) / (1 + r * r), 1e-14);
  }
}

TEST(IsEstimatorHandCases, SingleSample) {
  for (double x : {-3.5, 0.0, 1e300}) {
    const std::vector<double> log_w{x};
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_EQ(e.n, 1);
    EXPECT_EQ(e.log_z_hat, x);
    EXPECT_EQ(e.ess, 1.0);
    EXPECT_EQ(e.chi2_hat, 0.0);
    EXPECT_EQ(e.max_weight, 1.0);
    EXPECT_TRUE(has_flag(e, "single_sample"));
    EXPECT_FALSE(e.reliable());
    EXPECT_TRUE(std::isnan(e.k_hat));
  }
}

// A random shuffle leaves every statistic unchanged up to the summation order;
// k_hat depends on the sorted tail only, so it is identical bit for bit.
TEST(IsEstimatorInvariance, Permutation) {
  for (std::int64_t n : {30, 500, 5000}) {
    const std::vector<double> log_w = gaussian_log_weights(n, 1.5, static_cast<std::uint64_t>(n));
    std::vector<double> shuffled = log_w;
    const CounterRng rng(99, static_cast<std::uint64_t>(n));
    for (std::int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      const auto j = static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(i)) * (i + 1));
      std::swap(shuffled[i], shuffled[j]);
    }
    ASSERT_NE(shuffled, log_w);
    const IsEstimate a = estimate_log_partition(log_w), b = estimate_log_partition(shuffled);
    // Summation in another order: relative error <= N eps on each sum.
    const double tol = 2.0 * n * kEps;
    EXPECT_NEAR(a.log_z_hat, b.log_z_hat, tol) << n;
    EXPECT_NEAR(a.ess / b.ess, 1.0, 3 * tol) << n;
    EXPECT_NEAR(a.chi2_hat, b.chi2_hat, 3 * tol * (1 + a.chi2_hat)) << n;
    EXPECT_NEAR(a.max_weight / b.max_weight, 1.0, tol) << n;
    ASSERT_FALSE(std::isnan(a.k_hat)) << n;
    EXPECT_TRUE(same_bits(a.k_hat, b.k_hat)) << a.k_hat << " vs " << b.k_hat;
    EXPECT_NEAR(a.log_z_psis, b.log_z_psis, tol) << n;
    EXPECT_EQ(a.flags, b.flags);
  }
}

// log w + c: log Zhat + c, everything else unchanged. On the 2^-20 grid with
// |x|, |c| < 2^30, x + c and (x + c) - (max + c) are exact, so the rescaled weights
// are the same numbers: ESS, chi2_hat, max weight and k_hat agree bit for bit.
TEST(IsEstimatorInvariance, ShiftEquivarianceExactOnAGrid) {
  const std::vector<double> log_w = gaussian_log_weights(1000, 2.0, 5);
  for (double c : {-1000.0, 0.5, 123456.75}) {
    std::vector<double> shifted = log_w;
    for (double& x : shifted) x += c;
    const IsEstimate a = estimate_log_partition(log_w), b = estimate_log_partition(shifted);
    EXPECT_NEAR(b.log_z_hat, a.log_z_hat + c, 4 * kEps * (std::fabs(c) + 10)) << c;
    EXPECT_NEAR(b.log_z_psis, a.log_z_psis + c, 4 * kEps * (std::fabs(c) + 10)) << c;
    EXPECT_NEAR(b.ci_low, a.ci_low + c, 4 * kEps * (std::fabs(c) + 10)) << c;
    EXPECT_TRUE(same_bits(a.ess, b.ess)) << c;
    EXPECT_TRUE(same_bits(a.chi2_hat, b.chi2_hat)) << c;
    EXPECT_TRUE(same_bits(a.max_weight, b.max_weight)) << c;
    EXPECT_TRUE(same_bits(a.k_hat, b.k_hat)) << c;
    EXPECT_EQ(a.flags, b.flags);
  }
}

// Off the grid the shift rounds each log-weight (relative eps of |c|).
TEST(IsEstimatorInvariance, ShiftEquivarianceToRoundOff) {
  std::vector<double> log_w = gaussian_log_weights(1000, 2.0, 6);
  for (double& x : log_w) x *= 1.0 + 1e-7;  // off the grid
  const double c = 1e6 * std::acos(-1.0);
  std::vector<double> shifted = log_w;
  for (double& x : shifted) x += c;
  const IsEstimate a = estimate_log_partition(log_w), b = estimate_log_partition(shifted);
  const double tol = 4 * kEps * c;  // ~3e-9: the rounding of each x + c
  EXPECT_NEAR(b.log_z_hat - c, a.log_z_hat, tol);
  EXPECT_NEAR(b.ess / a.ess, 1.0, 4 * tol);
  EXPECT_NEAR(b.k_hat, a.k_hat, 1e-6);
}

// ---- errors and flags --------------------------------------------------------------

TEST(IsEstimatorErrors, EmptyInput) {
  const std::vector<double> none;
  const std::string msg = test::input_error_message([&] { estimate_log_partition(none); });
  EXPECT_TRUE(test::contains_all(msg, {"N = 0"}));
}

TEST(IsEstimatorErrors, NaNNamesTheIndex) {
  std::vector<double> log_w{0.1, 0.2, 0.3, kNaN, 0.5};
  const std::string msg = test::input_error_message([&] { estimate_log_partition(log_w); });
  EXPECT_TRUE(test::contains_all(msg, {"[3]", "NaN"}));
}

TEST(IsEstimatorErrors, PlusInfNamesTheIndex) {
  std::vector<double> log_w{0.1, 0.2, kInf, 0.4};
  const std::string msg = test::input_error_message([&] { estimate_log_partition(log_w); });
  EXPECT_TRUE(test::contains_all(msg, {"[2]", "inf"}));
}

TEST(IsEstimatorErrors, AllWeightsZero) {
  for (std::size_t n : {1u, 2u, 100u}) {
    const std::vector<double> log_w(n, -kInf);
    const IsEstimate e = estimate_log_partition(log_w);
    EXPECT_EQ(e.log_z_hat, -kInf);
    EXPECT_TRUE(has_flag(e, "all_weights_zero"));
    EXPECT_FALSE(e.reliable());
    EXPECT_EQ(e.n, static_cast<std::int64_t>(n));
  }
}

// -inf log-weights are samples of weight 0 (outside the target's support): they
// count in N and in nothing else. {1, 0, 3, 0}: Zhat = 4/4, ESS = 16/10,
// chi2_hat = 4/1.6 - 1 = 1.5.
TEST(IsEstimatorErrors, SomeWeightsZero) {
  const std::vector<double> log_w{0.0, -kInf, std::log(3.0), -kInf};
  const IsEstimate e = estimate_log_partition(log_w);
  EXPECT_NEAR(e.log_z_hat, 0.0, 4 * kEps);
  EXPECT_NEAR(e.ess, 1.6, 8 * kEps);
  EXPECT_NEAR(e.chi2_hat, 1.5, 16 * kEps);
  EXPECT_NEAR(e.max_weight, 0.75, 4 * kEps);
  EXPECT_TRUE(std::isfinite(e.ci_low) && std::isfinite(e.ci_high));
  EXPECT_TRUE(e.reliable());
  // With a tail: half the samples at weight 0, k_hat still computed and finite.
  std::vector<double> mixed = gaussian_log_weights(400, 1.0, 8);
  for (std::size_t i = 0; i < mixed.size(); i += 2) mixed[i] = -kInf;
  const IsEstimate m = estimate_log_partition(mixed);
  EXPECT_TRUE(std::isfinite(m.log_z_hat));
  EXPECT_TRUE(std::isfinite(m.k_hat));
  EXPECT_TRUE(std::isfinite(m.log_z_psis));
  EXPECT_LE(m.ess, 200.0);
}

// M = ceil(min(N/5, 3 sqrt N)) tail samples; fewer than 5 (N <= 20) -> no k_hat.
TEST(IsEstimatorFlags, KHatUnavailableForSmallN) {
  for (std::int64_t n : {2, 5, 10, 20}) {
    const IsEstimate e = estimate_log_partition(gaussian_log_weights(n, 1.0, 100 + n));
    EXPECT_TRUE(std::isnan(e.k_hat)) << n;
    EXPECT_TRUE(std::isnan(e.log_z_psis)) << n;
    EXPECT_TRUE(has_flag(e, "k_hat_unavailable")) << n;
  }
  for (std::int64_t n : {25, 26, 100, 1000}) {
    const IsEstimate e = estimate_log_partition(gaussian_log_weights(n, 1.0, 100 + n));
    EXPECT_TRUE(std::isfinite(e.k_hat)) << n;
    EXPECT_TRUE(std::isfinite(e.log_z_psis)) << n;
    EXPECT_FALSE(has_flag(e, "k_hat_unavailable")) << n;
  }
}

// Vehtari et al. 2024, eq. 13: min(1 - 1/log10 N, 0.7).
TEST(IsEstimatorFlags, KHatThresholdIsThePapersSampleSizeRuleCappedAt07) {
  EXPECT_NEAR(k_hat_threshold(32), 1.0 - 1.0 / std::log10(32.0), 1e-15);
  EXPECT_NEAR(k_hat_threshold(32), 0.3356, 1e-4);
  EXPECT_NEAR(k_hat_threshold(256), 0.5847, 1e-4);
  EXPECT_DOUBLE_EQ(k_hat_threshold(100), 0.5);
  EXPECT_LT(k_hat_threshold(2154), 0.7);  // 1 - 1/log10 N reaches 0.7 at N = 10^(10/3) = 2154.4
  EXPECT_DOUBLE_EQ(k_hat_threshold(2155), 0.7);
  EXPECT_DOUBLE_EQ(k_hat_threshold(1000000), 0.7);
  EXPECT_LE(k_hat_threshold(10), 0.0);
}

// The flag is set exactly when k_hat exceeds the cut for the estimate's own N, over tails
// from light to infinite-mean and N from 25 to 5000; a k_hat between the cut at N = 32
// (0.34) and 0.7, which the fixed 0.7 let through, makes the estimate unreliable.
TEST(IsEstimatorFlags, KHatAboveThresholdFlagsByTheSampleSize) {
  int flagged_below_07 = 0;
  for (const std::int64_t n : {25, 32, 64, 256, 5000}) {
    for (const double k : {0.1, 0.4, 0.7, 0.9, 1.2}) {
      for (std::uint64_t seed = 0; seed < 8; ++seed) {
        const CounterRng rng(4000 + seed, static_cast<std::uint64_t>(n));
        std::vector<double> log_w(n);
        for (std::int64_t i = 0; i < n; ++i) log_w[i] = -k * std::log(rng.uniform(i));  // w = U^-k: GPD tail k
        const IsEstimate e = estimate_log_partition(log_w);
        ASSERT_TRUE(std::isfinite(e.k_hat)) << n;
        const bool above = e.k_hat > k_hat_threshold(n);
        EXPECT_EQ(has_flag(e, kKHatAboveThreshold), above) << "n " << n << " k " << k << " k_hat " << e.k_hat;
        EXPECT_EQ(e.reliable(), !above) << "n " << n << " k " << k << " k_hat " << e.k_hat;
        flagged_below_07 += above && e.k_hat <= 0.7;
      }
    }
  }
  EXPECT_GT(flagged_below_07, 0) << "no case between the sample-size cut and 0.7: the test does not test the change";
}

// Files written before the sample-size cut carry "k_hat_above_0.7": still unreliable.
TEST(IsEstimatorFlags, TheOldKHatFlagStillMakesAnEstimateUnreliable) {
  IsEstimate e;
  e.flags = {"k_hat_above_0.7"};
  EXPECT_FALSE(e.reliable());
}

TEST(IsEstimatorFlags, PsisOffLeavesKHatNaNAndTheRestUnchanged) {
  const std::vector<double> log_w = gaussian_log_weights(300, 1.0, 9);
  IsOptions off;
  off.psis = false;
  const IsEstimate a = estimate_log_partition(log_w), b = estimate_log_partition(log_w, off);
  EXPECT_TRUE(std::isnan(b.k_hat));
  EXPECT_TRUE(std::isnan(b.log_z_psis));
  EXPECT_TRUE(same_bits(a.log_z_hat, b.log_z_hat));
  EXPECT_TRUE(same_bits(a.ess, b.ess));
  EXPECT_TRUE(same_bits(a.ci_low, b.ci_low));
  EXPECT_TRUE(same_bits(a.ci_high, b.ci_high));
}

TEST(IsEstimatorFlags, EssBelow10) {
  std::vector<double> log_w(1000, 0.0);
  log_w[17] = 20.0;  // one weight e^20 times the others: ESS ~ 1
  const IsEstimate e = estimate_log_partition(log_w);
  EXPECT_LT(e.ess, 10.0);
  EXPECT_TRUE(has_flag(e, "ess_below_10"));
  EXPECT_NEAR(e.max_weight, 1.0 / (1.0 + 999 * std::exp(-20.0)), 1e-12);
  EXPECT_FALSE(has_flag(estimate_log_partition(gaussian_log_weights(1000, 1.0, 10)), "ess_below_10"));
}

// ---- PSIS mechanics --------------------------------------------------------------

TEST(ParetoSmooth, OnlyTheTailChangesAndNothingGrows) {
  for (std::int64_t n : {25, 100, 1000, 20000}) {
    const std::vector<double> raw = gaussian_log_weights(n, 2.0, 200 + n);
    std::vector<double> smoothed = raw;
    const double k = pareto_smooth(smoothed);
    ASSERT_TRUE(std::isfinite(k)) << n;
    const auto tail = static_cast<std::int64_t>(std::ceil(std::min(0.2 * n, 3.0 * std::sqrt(double(n)))));
    std::vector<double> sorted = raw;
    std::sort(sorted.begin(), sorted.end());
    const double cutoff = sorted[n - tail - 1];
    const double raw_max = sorted.back();
    std::int64_t changed = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (raw[i] <= cutoff) {
        EXPECT_TRUE(same_bits(raw[i], smoothed[i])) << "n " << n << " index " << i << " below the cut-off";
      } else {
        changed += smoothed[i] != raw[i];
        EXPECT_GE(smoothed[i], cutoff) << n;  // the GPD lives above the cut-off
        EXPECT_LE(smoothed[i], raw_max) << n;  // truncated at the largest raw weight
      }
    }
    EXPECT_GT(changed, 0) << n;
    EXPECT_LE(*std::max_element(smoothed.begin(), smoothed.end()), raw_max) << n;
    // Ranks are kept: the smoothed tail is the expected order statistics in order.
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j : {std::int64_t{0}, n / 2, n - 1}) {
        if (raw[i] < raw[j] && raw[i] > cutoff) {
          EXPECT_LE(smoothed[i], smoothed[j]) << n;
        }
      }
    }
    EXPECT_EQ(estimate_log_partition(raw).k_hat, k);  // same fit inside the estimator
  }
}

TEST(ParetoSmooth, TooFewTailSamplesLeavesTheInputUnchanged) {
  for (std::int64_t n : {1, 4, 20}) {
    const std::vector<double> raw = gaussian_log_weights(n, 1.0, 300 + n);
    std::vector<double> smoothed = raw;
    EXPECT_TRUE(std::isnan(pareto_smooth(smoothed))) << n;
    EXPECT_EQ(smoothed, raw) << n;
  }
}

// A tail of ties (tabular proposals give few distinct weights) has no meaningful
// GPD fit: fewer than 5 distinct tail values -> NaN and the input unchanged.
// N = 1000: tail M = ceil(min(200, 3 sqrt 1000)) = 95 above 905 smaller values.
TEST(ParetoSmooth, TailOfFewDistinctValuesHasNoKHat) {
  for (int distinct : {1, 2, 4, 5, 6}) {
    std::vector<double> raw = gaussian_log_weights(1000, 1.0, 500 + distinct);
    for (double& x : raw) x = -20.0 + 0.001 * x;  // 905 of these stay below the tail
    for (int i = 0; i < 95; ++i) raw[7 * i] = 0.5 * (i % distinct);
    std::vector<double> smoothed = raw;
    const double k = pareto_smooth(smoothed);
    const IsEstimate e = estimate_log_partition(raw);
    if (distinct < 5) {
      EXPECT_TRUE(std::isnan(k)) << distinct;
      EXPECT_EQ(smoothed, raw) << distinct;
      EXPECT_TRUE(has_flag(e, "k_hat_unavailable")) << distinct;
      EXPECT_TRUE(std::isnan(e.log_z_psis)) << distinct;
    } else {
      EXPECT_TRUE(std::isfinite(k)) << distinct;
      EXPECT_FALSE(has_flag(e, "k_hat_unavailable")) << distinct;
    }
  }
}

// A GPD fit on five or more points returns finite numbers with sigma > 0.
TEST(ParetoSmooth, GpdFitOnSmallSamplesIsFinite) {
  const std::vector<double> x{0.1, 0.2, 0.4, 0.9, 3.0};
  const GpdFit f = fit_generalized_pareto(x);
  EXPECT_TRUE(std::isfinite(f.k));
  EXPECT_GT(f.sigma, 0.0);
}

// Bad options are InputErrors naming the option (not a Boost exception, not UB).
TEST(IsEstimatorErrors, BadOptions) {
  const std::vector<double> log_w = gaussian_log_weights(50, 1.0, 12);
  for (double level : {0.0, 1.0, -0.5, 1.5, kNaN}) {
    IsOptions o;
    o.ci_level = level;
    EXPECT_TRUE(test::contains_all(test::input_error_message([&] { estimate_log_partition(log_w, o); }),
                                   {"ci_level"}))
        << level;
  }
  for (int b : {0, -3}) {
    IsOptions o;
    o.bootstrap = true;
    o.bootstrap_replicates = b;
    EXPECT_TRUE(test::contains_all(test::input_error_message([&] { estimate_log_partition(log_w, o); }),
                                   {"bootstrap_replicates"}))
        << b;
  }
}

// The GPD fit reads the lower quartile x[round(n/4) - 1]: no exceedance is an
// InputError, one or two are a (poor) fit, never an out-of-bounds read.
TEST(ParetoSmooth, GpdFitOnTinySamples) {
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([] { fit_generalized_pareto(std::vector<double>{}); }), {"exceedances"}));
  for (const std::vector<double>& x : {std::vector<double>{0.7}, std::vector<double>{0.2, 1.5}}) {
    const GpdFit f = fit_generalized_pareto(x);
    EXPECT_TRUE(std::isfinite(f.k)) << x.size();
    EXPECT_TRUE(std::isfinite(f.sigma)) << x.size();
  }
}

// ---- bootstrap CI ----------------------------------------------------------------

TEST(IsEstimatorCi, BootstrapIsDeterministicAndContainsTheEstimate) {
  const std::vector<double> log_w = gaussian_log_weights(256, 1.0, 11);
  IsOptions o;
  o.bootstrap = true;
  o.bootstrap_replicates = 500;
  o.bootstrap_seed = 42;
  const IsEstimate a = estimate_log_partition(log_w, o), b = estimate_log_partition(log_w, o);
  EXPECT_EQ(a.ci_method, "bootstrap");
  EXPECT_TRUE(same_bits(a.ci_low, b.ci_low));
  EXPECT_TRUE(same_bits(a.ci_high, b.ci_high));
  EXPECT_LT(a.ci_low, a.log_z_hat);
  EXPECT_GT(a.ci_high, a.log_z_hat);
  // Same point estimate as the delta method; a similar width (weights ~ lognormal(1)).
  const IsEstimate d = estimate_log_partition(log_w);
  EXPECT_TRUE(same_bits(a.log_z_hat, d.log_z_hat));
  EXPECT_NEAR((a.ci_high - a.ci_low) / (d.ci_high - d.ci_low), 1.0, 0.3);
  // Another seed, another resample.
  o.bootstrap_seed = 43;
  const IsEstimate c = estimate_log_partition(log_w, o);
  EXPECT_FALSE(same_bits(a.ci_low, c.ci_low) && same_bits(a.ci_high, c.ci_high));
  // The same at 1 and 2 threads in the segmented entry point.
  const std::vector<std::int64_t> offset{0, 256};
  omp_set_num_threads(1);
  const IsEstimate s1 = estimate_log_partition_segmented(log_w, offset, o)[0];
  omp_set_num_threads(2);
  const IsEstimate s2 = estimate_log_partition_segmented(log_w, offset, o)[0];
  EXPECT_TRUE(identical(s1, c));
  EXPECT_TRUE(identical(s2, c));
}

// The endpoints are the nearest-rank percentiles of the bootstrap replicates, at the
// level asked for. The replicates are recomputed here from the scheme src/is_estimator.h
// documents (replicate b of segment 0 = CounterRng(splitmix64(seed ^ tag), b), index i
// drawn as floor(u_i N)): the tag is pinned below, so a change of it (which changes every
// published bootstrap interval for a given seed) fails here, by name. B = 401 makes every
// percentile index alpha (B - 1) an integer, so the expected indices are exact and need no
// rounding convention: a bootstrap branch ignoring ci_level, or off by one in the index,
// gives a different order statistic.
TEST(IsEstimatorCi, BootstrapEndpointsAreTheNearestRankPercentilesOfTheReplicates) {
  constexpr std::uint64_t kBootstrapTag = 0xB0075D2A9ull;  // src/is_estimator.cpp
  const std::vector<double> log_w = gaussian_log_weights(100, 1.0, 13);
  const std::int64_t n = static_cast<std::int64_t>(log_w.size());
  constexpr int kReplicates = 401;
  const std::uint64_t seed = 7;
  const double m = *std::max_element(log_w.begin(), log_w.end());
  std::vector<double> boot;
  for (int b = 0; b < kReplicates; ++b) {
    const CounterRng rng(splitmix64(seed ^ kBootstrapTag), static_cast<std::uint64_t>(b));
    double s = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto j = std::min(static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(i)) * n), n - 1);
      s += std::exp(log_w[static_cast<std::size_t>(j)] - m);
    }
    boot.push_back(m + std::log(s / static_cast<double>(n)));
  }
  std::sort(boot.begin(), boot.end());
  ASSERT_LT(boot[2], boot[398]);  // the replicates differ, so each level picks other values
  struct Level {
    double level;
    std::size_t low, high;  // alpha (B - 1) and (1 - alpha) (B - 1), alpha = (1 - level) / 2
  };
  for (const Level l :
       {Level{0.5, 100, 300}, Level{0.8, 40, 360}, Level{0.9, 20, 380}, Level{0.95, 10, 390}, Level{0.99, 2, 398}}) {
    IsOptions o;
    o.bootstrap = true;
    o.bootstrap_replicates = kReplicates;
    o.bootstrap_seed = seed;
    o.ci_level = l.level;
    const IsEstimate e = estimate_log_partition(log_w, o);
    EXPECT_DOUBLE_EQ(e.ci_low, boot[l.low]) << "level " << l.level;
    EXPECT_DOUBLE_EQ(e.ci_high, boot[l.high]) << "level " << l.level;
  }
}

// The bootstrap interval's width scales with the normal quantile of the level. With
// log-weights ~ N(0, 0.1^2) at N = 256, log Zhat's bootstrap distribution is normal to
// within skewness ~ 3 * 0.1 / sqrt(256) = 0.02 (Cornish-Fisher changes to the widths
// ~ skewness^2 / 10 < 1e-4), so the 90% over 95% width ratio is z_0.95 / z_0.975 =
// 1.6449 / 1.9600 = 0.8392 up to the Monte Carlo error of sample quantiles over B
// replicates: Var(qhat_p) = p (1 - p) / (B f(z_p)^2), Cov(qhat_p, qhat_r) = p (1 - r) /
// (B f f) for p < r; the delta method on the ratio gives sd = 0.610 / sqrt(B) (checked by
// simulating 3000 ratios of B = 2001 normal draws: sd 0.0135 against 0.0136), 0.0096 at
// B = 4001. Tolerance 4 sd = 0.039: false-alarm rate 6.3e-5 over seeds (normal limit). An
// ignored ci_level gives a ratio of 1; the one-sided alpha = 1 - level gives z_0.9 / z_0.95
// = 0.779 (6 sd away).
TEST(IsEstimatorCi, BootstrapWidthFollowsTheLevel) {
  const std::vector<double> log_w = gaussian_log_weights(256, 0.1, 21);
  IsOptions o;
  o.bootstrap = true;
  o.bootstrap_replicates = 4001;
  o.bootstrap_seed = 5;
  o.ci_level = 0.95;
  const IsEstimate e95 = estimate_log_partition(log_w, o);
  o.ci_level = 0.90;
  const IsEstimate e90 = estimate_log_partition(log_w, o);
  EXPECT_GT(e90.ci_low, e95.ci_low);
  EXPECT_LT(e90.ci_high, e95.ci_high);
  const double z95 = 1.959963984540054, z90 = 1.6448536269514722;
  const double sd = 0.610 / std::sqrt(4001.0);
  EXPECT_NEAR((e90.ci_high - e90.ci_low) / (e95.ci_high - e95.ci_low), z90 / z95, 4.0 * sd);
}

// ---- segmented -------------------------------------------------------------------

TEST(IsEstimatorSegmented, EqualsPerSegmentAndIndependentOfThreads) {
  const std::vector<std::int64_t> sizes{1, 2, 30, 500, 7, 1000, 64, 3, 2000, 25};
  std::vector<std::int64_t> offset{0};
  std::vector<double> log_w;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const std::vector<double> seg = gaussian_log_weights(sizes[s], 0.5 + 0.3 * s, 400 + s);
    log_w.insert(log_w.end(), seg.begin(), seg.end());
    offset.push_back(static_cast<std::int64_t>(log_w.size()));
  }
  for (int i = 0; i < 2; ++i) log_w[offset[7] + i] = -kInf;  // a segment of 3 with two zero weights
  for (int i = 0; i < 2; ++i) log_w[offset[1] + i] = -kInf;  // an all-zero segment
  for (const bool bootstrap : {false, true}) {
    IsOptions o;
    o.bootstrap = bootstrap;
    o.bootstrap_replicates = 200;
    omp_set_num_threads(1);
    const std::vector<IsEstimate> one = estimate_log_partition_segmented(log_w, offset, o);
    omp_set_num_threads(2);
    const std::vector<IsEstimate> two = estimate_log_partition_segmented(log_w, offset, o);
    ASSERT_EQ(one.size(), sizes.size());
    ASSERT_EQ(two.size(), sizes.size());
    for (std::size_t s = 0; s < sizes.size(); ++s) {
      const std::span<const double> seg(log_w.data() + offset[s], static_cast<std::size_t>(sizes[s]));
      IsOptions segment_options = o;
      segment_options.bootstrap_segment = s;  // segment s resamples on its own streams
      const IsEstimate single = estimate_log_partition(seg, segment_options);
      EXPECT_TRUE(identical(one[s], single)) << "segment " << s;
      EXPECT_TRUE(identical(two[s], single)) << "segment " << s;
    }
    EXPECT_TRUE(has_flag(one[1], "all_weights_zero"));
    EXPECT_TRUE(has_flag(one[0], "single_sample"));
  }
}

TEST(IsEstimatorSegmented, BadOffsetsAndBadValuesNameTheSegment) {
  const std::vector<double> log_w(10, 0.0);
  {
    const std::vector<std::int64_t> offset{0, 3, 3, 10};
    const std::string msg = test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset); });
    EXPECT_TRUE(test::contains_all(msg, {"segment 1"}));
  }
  {
    const std::vector<std::int64_t> offset{0, 3, 9};  // does not cover the array
    EXPECT_NE(test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset); }),
              "<no exception thrown>");
  }
  {
    const std::vector<std::int64_t> offset{0, 6, 4, 10};  // decreasing
    const std::string msg = test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset); });
    EXPECT_TRUE(test::contains_all(msg, {"segment 1"}));
  }
  {
    std::vector<double> bad = log_w;
    bad[5] = kNaN;  // segment 1 = [3, 7), its index 2
    const std::vector<std::int64_t> offset{0, 3, 7, 10};
    const std::string msg = test::input_error_message([&] { estimate_log_partition_segmented(bad, offset); });
    EXPECT_TRUE(test::contains_all(msg, {"segment 1", "NaN"}));
  }
}

TEST(IsEstimatorSegmented, TheFirstBadSegmentIsReportedWhateverTheSchedule) {
  // 200 segments of 10, bad values in segments 150 and 60 (and 199): with dynamic
  // scheduling a later one may fail first in time; the message must still name 60,
  // as a name when names are given, at any thread count.
  const std::int64_t segments = 200, n = 10;
  std::vector<double> log_w(static_cast<std::size_t>(segments * n), 0.0);
  log_w[150 * n + 3] = kNaN;
  log_w[60 * n + 7] = std::numeric_limits<double>::infinity();
  log_w[199 * n] = kNaN;
  std::vector<std::int64_t> offset;
  std::vector<std::string> names;
  for (std::int64_t s = 0; s <= segments; ++s) offset.push_back(s * n);
  for (std::int64_t s = 0; s < segments; ++s) names.push_back("p" + std::to_string(s));
  for (const int threads : {1, 2, 4}) {
    omp_set_num_threads(threads);
    for (int repeat = 0; repeat < 20; ++repeat) {
      EXPECT_TRUE(test::contains_all(
          test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset); }), {"segment 60: "}))
          << threads << " threads";
      EXPECT_TRUE(test::contains_all(
          test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset, {}, names); }),
          {"prompt 'p60': ", "[7]"}))
          << threads << " threads";
    }
  }
  omp_set_num_threads(2);
  names.pop_back();
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { estimate_log_partition_segmented(log_w, offset, {}, names); }),
      {"names: 199 for 200 segments"}));
}

// ---- self-normalised expectation ---------------------------------------------------

TEST(SelfNormalisedExpectation, HandCasesAndErrors) {
  const std::vector<double> log_w{0.0, std::log(3.0)};
  EXPECT_NEAR(self_normalised_expectation(log_w, std::vector<double>{1.0, 0.0}), 0.25, 4 * kEps);
  EXPECT_NEAR(self_normalised_expectation(log_w, std::vector<double>{2.0, 2.0}), 2.0, 4 * kEps);
  // Far outside exp's range.
  const std::vector<double> big{1e300, 1e300 + 0.0, -1e300};
  EXPECT_NEAR(self_normalised_expectation(big, std::vector<double>{1.0, 0.0, 5.0}), 0.5, 4 * kEps);
  EXPECT_TRUE(std::isnan(self_normalised_expectation(std::vector<double>{-kInf, -kInf},
                                                     std::vector<double>{1.0, 0.0})));
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] {
                                   self_normalised_expectation(log_w, std::vector<double>{1.0});
                                 }),
                                 {"f"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] {
                                   self_normalised_expectation(std::vector<double>{0.0, kNaN},
                                                               std::vector<double>{1.0, 1.0});
                                 }),
                                 {"[1]", "NaN"}));
  EXPECT_NE(test::input_error_message([&] {
              self_normalised_expectation(std::vector<double>{}, std::vector<double>{});
            }),
            "<no exception thrown>");
}

}  // namespace
}  // namespace disa

namespace disa {
namespace {

// Two prompts with the same samples get independent bootstrap resamples (their CI errors
// are not one draw shared by every prompt), and the delta method, which draws nothing,
// gives both the same interval.
TEST(IsEstimatorSegmented, SegmentsResampleIndependently) {
  const std::vector<double> seg = gaussian_log_weights(200, 1.0, 77);
  std::vector<double> log_w(seg);
  log_w.insert(log_w.end(), seg.begin(), seg.end());
  const std::vector<std::int64_t> offset{0, 200, 400};
  IsOptions o;
  o.bootstrap_replicates = 200;
  o.bootstrap_seed = 5;
  const std::vector<IsEstimate> delta = estimate_log_partition_segmented(log_w, offset, o);
  EXPECT_EQ(delta[0].ci_low, delta[1].ci_low);
  o.bootstrap = true;
  const std::vector<IsEstimate> boot = estimate_log_partition_segmented(log_w, offset, o);
  EXPECT_EQ(boot[0].log_z_hat, boot[1].log_z_hat);
  EXPECT_NE(boot[0].ci_low, boot[1].ci_low);
  EXPECT_NE(boot[0].ci_high, boot[1].ci_high);
}

// Equal weights have no spread, so the CI has width 0: flagged, whatever the method.
TEST(IsEstimator, ConstantWeightsAreFlagged) {
  for (const bool bootstrap : {false, true}) {
    IsOptions o;
    o.bootstrap = bootstrap;
    const std::vector<double> equal(50, 3.0);
    const IsEstimate e = estimate_log_partition(equal, o);
    EXPECT_DOUBLE_EQ(e.log_z_hat, 3.0);
    EXPECT_EQ(e.ci_low, e.ci_high);
    EXPECT_TRUE(has_flag(e, "weights_constant"));
    std::vector<double> almost(equal);
    almost[17] = std::nextafter(3.0, 4.0);
    EXPECT_FALSE(has_flag(estimate_log_partition(almost, o), "weights_constant"));
  }
  EXPECT_FALSE(has_flag(estimate_log_partition(std::vector<double>{3.0}), "weights_constant"));  // single_sample
}

TEST(IsEstimator, NoRewardObservedIsUnreliable) {
  IsEstimate e = estimate_log_partition(std::vector<double>(20, 0.0));
  EXPECT_TRUE(e.reliable());  // constant weights alone: q may be p*
  e.flags.push_back(kNoRewardObserved);
  EXPECT_FALSE(e.reliable());
}

}  // namespace
}  // namespace disa

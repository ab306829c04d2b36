// Statistical tests of src/is_estimator.h (label statistical): the laws of
// THEORY.md items 1-4 on exact trees, the delta-method CI's coverage, the
// self-normalised estimator, and the PSIS tail fit.
//
// Setting: a strategies tree (K = 4, horizon 3, 64 leaves, reference accuracy 1/2)
// at beta = 3; proposals from toy_envs/proposals.h. Tilted proposals give only two
// distinct weights (w = Z(lambda beta) e^{(1-lambda) beta r}), so every law is also
// checked under a per-node interpolated proposal whose weights vary leaf by leaf.
// All moments are exact, by enumerating the leaves: with X = p*(y)/q(y) = w/Z,
// E_q[X^k] = sum_y p*(y)^k / q(y)^(k-1); chi2 = E X^2 - 1 is checked against
// chi_square_divergence (the G-recursion). Replicate r of a size-N experiment is
// AliasSampler::sample(seed, N, r N): disjoint blocks of one counter-based stream.
//
// Tolerances, all from the CLT over the M replicates (M >= 400, weights bounded, so
// the normal limit is accurate): each check is |statistic - prediction| < 4 sd
// (+ the next term of the expansion where the prediction is asymptotic in N), a
// two-sided false-alarm rate of 6.3e-5 per check for a correct estimator (3.2e-5 for
// the one-sided ones). One exception: the delta-method CI's coverage under the interp
// proposal (IsCi.DeltaMethodCoverage) is judged against the nominal 0.95, which it reaches
// only as N grows; its measured finite-N offset makes that check's rate 4.7e-4 (see there).
// About 47 such checks run, so a correct implementation fails this file with probability
// ~3e-3 over seeds; the seeds are fixed, so every run is the same. (The PSIS thresholds
// k_hat < 0.5 for lognormal(0.5) weights and |log_z_psis - log_z_hat| < se are not
// CLT-derived: they hold with a wide margin, k_hat = 0.09 and a shift of 2e-6 against
// se = 5e-4 at the fixed seed.)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <optional>
#include <vector>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>
#include <gtest/gtest.h>

#include "src/counter_rng.h"
#include "src/is_estimator.h"
#include "toy_envs/divergences.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/sampler.h"

namespace disa {
namespace {

constexpr double kSigmas = 4.0;  // two-sided normal tail 6.3e-5
constexpr double kBeta = 3.0;

struct Mean {
  double mean = 0.0, var = 0.0;  // sample mean and variance (M - 1)
  double se() const { return std::sqrt(var / n); }
  double n = 0.0;
};
Mean mean_of(const std::vector<double>& x) {
  Mean m;
  m.n = static_cast<double>(x.size());
  for (double v : x) m.mean += v;
  m.mean /= m.n;
  for (double v : x) m.var += (v - m.mean) * (v - m.mean);
  m.var /= m.n - 1.0;
  return m;
}

// A proposal on the test tree, with the exact moments of X = p*/q under q.
struct Proposal {
  Tree tree;
  double log_z = 0.0;
  std::vector<double> log_ref, log_target, log_q;  // per leaf
  TabularPolicy target, q;
  double ex2 = 0, ex3 = 0, ex4 = 0;  // E_q[X^k]
  double chi2 = 0, m3c = 0, m4c = 0;  // central moments of X: chi2 = Var X
  std::string spec;

  std::vector<double> log_weights(const SampleBatch& b) const {
    std::vector<double> lw(b.leaf.size());
    for (std::size_t i = 0; i < lw.size(); ++i) {
      const std::int64_t y = b.leaf[i];
      lw[i] = log_ref[y] - b.log_prob[i] + kBeta * tree.reward[y];
    }
    return lw;
  }
};

Proposal make_setup(const std::string& spec) {
  Proposal s;
  s.spec = spec;
  s.tree = make_trees("strategies", {{"horizon", "3"}}, 3)[0];
  const TabularPolicy ref = reference_policy(s.tree);
  s.log_z = log_partition(s.tree, kBeta);
  s.target = target_policy(s.tree, ref, kBeta);
  s.q = make_policy(s.tree, kBeta, parse_policy_spec(spec, "test"));
  s.log_ref = leaf_log_probs(ref);
  s.log_target = leaf_log_probs(s.target);
  s.log_q = leaf_log_probs(s.q);
  for (std::size_t y = 0; y < s.log_q.size(); ++y) {
    const double lx = s.log_target[y] - s.log_q[y];
    const double pt = std::exp(s.log_target[y]);
    s.ex2 += pt * std::exp(lx);
    s.ex3 += pt * std::exp(2 * lx);
    s.ex4 += pt * std::exp(3 * lx);
  }
  s.chi2 = s.ex2 - 1.0;
  s.m3c = s.ex3 - 3 * s.ex2 + 2;
  s.m4c = s.ex4 - 4 * s.ex3 + 6 * s.ex2 - 3;
  return s;
}

// One size-N estimate per replicate, from disjoint blocks of the stream `seed`.
struct Replicates {
  std::vector<double> ratio;     // Zhat / Z
  std::vector<double> log_err;   // log Zhat - log Z
  std::vector<double> ess_frac;  // ESS / N
  std::vector<IsEstimate> est;
};
Replicates run_replicates(const Proposal& s, std::int64_t n, std::int64_t m, std::uint64_t seed, bool psis = false) {
  const AliasSampler sampler(s.q);
  Replicates r;
  IsOptions o;
  o.psis = psis;
  for (std::int64_t rep = 0; rep < m; ++rep) {
    const std::vector<double> lw = s.log_weights(sampler.sample(seed, n, rep * n));
    IsEstimate e = estimate_log_partition(lw, o);
    r.log_err.push_back(e.log_z_hat - s.log_z);
    r.ratio.push_back(std::exp(e.log_z_hat - s.log_z));
    r.ess_frac.push_back(e.ess_fraction);
    r.est.push_back(std::move(e));
  }
  return r;
}

class IsLaws : public ::testing::TestWithParam<const char*> {};

TEST_P(IsLaws, ExactMomentsMatchTheGRecursion) {
  const Proposal s = make_setup(GetParam());
  const ChiSquare c = chi_square_divergence(s.target, s.q);
  EXPECT_NEAR(s.chi2, c.value, 1e-10 * (1 + c.value));
  EXPECT_GT(s.chi2, 0.05);  // a real mismatch, not a near-exact proposal
  RecordProperty("chi2", std::to_string(s.chi2));
}

// Items 1-3 at N = 16 over M = 4000 replicates.
//   Unbiased: mean(Zhat/Z) - 1 has sd sqrt(chi2 / (N M)).
//   Variance: the sample variance of Zhat/Z estimates chi2/N; its own variance is
//     mu4/M - sigma^4 (M-3)/(M(M-1)), with sigma^2 = chi2/N and the exact 4th central
//     moment of a mean of N draws, mu4 = (m4 + 3 (N-1) chi2^2) / N^3.
//   Log bias: D = log(Zhat/Z) - (Zhat/Z - 1) has mean E[log Zhat] - log Z (the
//     control variate Zhat/Z - 1 has mean exactly 0, item 1) and sd ~ chi2/(N sqrt 2),
//     far below sd(log Zhat). Expanding log(1 + eps) with the exact moments of
//     eps = Zhat/Z - 1: E = -chi2/(2N) + (m3/3 - 3 chi2^2/4)/N^2 + t3/N^3 + O(N^-4),
//     t3 = -(m4 - 3 chi2^2)/4 + 2 m3 chi2 - 5 chi2^3/2; t3/N^3 is added to the tolerance.
//   Jensen: E[log Zhat] <= log Z, one-sided on the plain mean of log Zhat - log Z.
void check_laws(const Proposal& s, std::int64_t n, std::int64_t m, std::uint64_t seed) {
  const Replicates r = run_replicates(s, n, m, seed);
  const double N = static_cast<double>(n), M = static_cast<double>(m);
  const double c = s.chi2;

  const Mean ratio = mean_of(r.ratio);
  const double se_ratio = std::sqrt(c / (N * M));
  EXPECT_NEAR(ratio.mean, 1.0, kSigmas * se_ratio) << "E[Zhat] != Z (item 1), chi2 = " << c;

  const double sigma2 = c / N;
  const double mu4 = (s.m4c + 3.0 * (N - 1.0) * c * c) / (N * N * N);
  const double var_s2 = mu4 / M - sigma2 * sigma2 * (M - 3.0) / (M * (M - 1.0));
  EXPECT_NEAR(ratio.var, sigma2, kSigmas * std::sqrt(var_s2))
      << "Var[Zhat/Z] != chi2/N (item 2): chi2 = " << c << ", N = " << n;

  std::vector<double> d(r.ratio.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = r.log_err[i] - (r.ratio[i] - 1.0);
  const Mean bias = mean_of(d);
  const double t2 = s.m3c / 3.0 - 0.75 * c * c;
  const double t3 = -(s.m4c - 3 * c * c) / 4.0 + 2.0 * s.m3c * c - 2.5 * c * c * c;
  const double predicted = -c / (2 * N) + t2 / (N * N);
  EXPECT_NEAR(bias.mean, predicted, kSigmas * bias.se() + std::fabs(t3) / (N * N * N))
      << "E[log Zhat] - log Z vs -chi2/(2N) (item 3): -chi2/(2N) = " << -c / (2 * N) << ", N^-2 term "
      << t2 / (N * N) << ", sd of the estimate " << bias.se();
  EXPECT_LT(bias.mean, 0.0);  // implied by the above (the bias is > 10 sd), stated for the reader

  const Mean log_err = mean_of(r.log_err);
  EXPECT_LT(log_err.mean, kSigmas * log_err.se()) << "E[log Zhat] > log Z (Jensen, item 3)";

  // Var[log Zhat] = chi2/N + (5 chi2^2/2 - m3)/N^2 + O(N^-3) (same expansion: E eps^2
  // - E eps^3 + (11/12) E eps^4 - (E log)^2). The sample variance's own sd comes from
  // the replicates' 4th central moment, sqrt((mu4 - s^4)/M); the O(N^-3) allowance is
  // (|m4| + 10 |m3| chi2 + 10 chi2^3 + 3 chi2^2)/N^3 (the size of the next terms).
  double mu4_log = 0.0;
  for (double e : r.log_err) mu4_log += std::pow(e - log_err.mean, 4);
  mu4_log /= M;
  const double sd_var = std::sqrt(std::max(mu4_log - log_err.var * log_err.var, 0.0) / M);
  const double var_pred = c / N + (2.5 * c * c - s.m3c) / (N * N);
  const double var_allow = (std::fabs(s.m4c) + 10 * std::fabs(s.m3c) * c + 10 * c * c * c + 3 * c * c) / (N * N * N);
  EXPECT_NEAR(log_err.var, var_pred, kSigmas * sd_var + var_allow)
      << "Var[log Zhat] vs chi2/N (item 3)";
}

TEST_P(IsLaws, UnbiasedVarianceAndLogBiasAtN16) { check_laws(make_setup(GetParam()), 16, 4000, 101); }
TEST_P(IsLaws, UnbiasedVarianceAndLogBiasAtN1024) { check_laws(make_setup(GetParam()), 1024, 1000, 102); }

// Item 4: ESS/N -> 1/(1 + chi2). With A = mean X, B = mean X^2 (E A = 1, E B = b =
// 1 + chi2), ESS/N = A^2/B; its second-order expansion gives
//   E[ESS/N] = 1/b + [Var X / b - 2 Cov(X, X^2) / b^2 + Var(X^2) / b^3] / N + O(N^-2),
// so |mean - 1/b| must be within that O(1/N) term plus 4 sd (sd from the replicates),
// and the two-term prediction must hold to 4 sd + an O(N^-2) allowance of
// 10 E[X^4] / N^2 (about 1e-6 here, against an sd of ~1e-4).
TEST_P(IsLaws, EssFractionAtN4096) {
  const Proposal s = make_setup(GetParam());
  const std::int64_t n = 4096, m = 400;
  const Replicates r = run_replicates(s, n, m, 103);
  const double N = static_cast<double>(n), b = 1.0 + s.chi2;
  const double first = (s.chi2 / b - 2.0 * (s.ex3 - b) / (b * b) + (s.ex4 - b * b) / (b * b * b)) / N;
  const Mean ess = mean_of(r.ess_frac);
  const double allowance = 10.0 * s.ex4 / (N * N);
  EXPECT_NEAR(ess.mean, 1.0 / b, std::fabs(first) + kSigmas * ess.se() + allowance)
      << "E[ESS]/N vs 1/(1 + chi2) (item 4), chi2 = " << s.chi2;
  EXPECT_NEAR(ess.mean, 1.0 / b + first, kSigmas * ess.se() + allowance)
      << "E[ESS]/N vs 1/(1 + chi2) + O(1/N) term " << first;
  // chi2_hat = N/ESS - 1 is the sample chi2: close to chi2 at this N.
  std::vector<double> chi2_hat;
  for (const IsEstimate& e : r.est) chi2_hat.push_back(e.chi2_hat);
  const Mean ch = mean_of(chi2_hat);
  EXPECT_NEAR(ch.mean, s.chi2, kSigmas * ch.se() + 10.0 * s.ex4 / N) << "mean chi2_hat vs chi2";
}

INSTANTIATE_TEST_SUITE_P(Proposals, IsLaws, ::testing::Values("tilted:lambda=0.3", "interp:lambda=0.3"),
                         [](const auto& info) {
                           return std::string(info.param).substr(0, std::string(info.param).find(':'));
                         });

// Coverage of the delta-method 95% interval at N = 256, M = 2000 replicates, judged
// against 4 binomial sd of the coverage it should have (0.0195 at 0.95). The interval
// reaches 0.95 only as N grows, so the centre is not simply 0.95:
//  - tilted:lambda=0.2 has two distinct weights, so the interval depends on the sample only
//    through K ~ Binomial(N, q(correct)), the number of high weights: its exact coverage at
//    N is a sum over K (two_point_exact_coverage: the interval contains log Z for K in
//    [148, 178], probability 0.954592), and that is the test's centre. False-alarm rate
//    7.1e-5 (exact binomial tail of the M = 2000 count beyond 4 sd; 6.3e-5 in the normal
//    approximation, the count of misses is a little skewed). Centred on 0.95 it would have
//    been 4.5e-4.
//  - interp:lambda=0.2 has weights varying leaf by leaf and no exact coverage (nor an
//    Edgeworth correction derived here): the test is centred on 0.95 and carries the finite-N
//    offset, with a higher false-alarm rate than the file's 6.3e-5. Measured
//    (DISABLED_CoverageAtLargeM below: M = 200,000 replicates of N = 256 from seed 999, which
//    the test's seed 104 does not share): coverage 0.947905 +- 0.000497, 0.43 sd of the
//    M = 2000 test below 0.95, so the false-alarm rate is 4.7e-4 (exact binomial tail at
//    that coverage; 3.2e-4 to 6.8e-4 at +-1 se of it; ~1.8e-4 in the normal approximation).
//    The same run gives tilted 0.953685 +- 0.000470, 1.9 se from its exact 0.954592 (per K,
//    the sampled intervals cover exactly where the enumeration says).
// A proposal with chi2 ~ 0.4-0.8 (moderate weights; the normal approximation of log Zhat
// has skewness ~ m3 / (chi2^1.5 sqrt N), small at N = 256).
constexpr double kCiLevel = 0.95;

// The two values a proposal's log-weights take (to 1e-9) and q's mass on the higher one;
// nullopt when they take more than two.
struct TwoPointWeights {
  double lo, hi, q_hi;
};
std::optional<TwoPointWeights> two_point_weights(const Proposal& s) {
  std::vector<double> lw(s.log_q.size());
  for (std::size_t y = 0; y < lw.size(); ++y) lw[y] = s.log_ref[y] - s.log_q[y] + kBeta * s.tree.reward[y];
  const double lo = *std::min_element(lw.begin(), lw.end()), hi = *std::max_element(lw.begin(), lw.end());
  double q_hi = 0.0;
  for (std::size_t y = 0; y < lw.size(); ++y) {
    if (std::fabs(lw[y] - hi) < 1e-9) {
      q_hi += std::exp(s.log_q[y]);
    } else if (std::fabs(lw[y] - lo) >= 1e-9) {
      return std::nullopt;
    }
  }
  return TwoPointWeights{lo, hi, q_hi};
}

// The exact coverage at N of estimate_log_partition's delta-method interval for a proposal
// whose log-weights take two values (to 1e-9): the interval is computed, by the estimator
// itself, for each K = 0..N high weights, weighted by Binomial(N, q(high))(K). NaN when the
// proposal has more than two distinct weights.
double two_point_exact_coverage(const Proposal& s, std::int64_t n) {
  const std::optional<TwoPointWeights> w = two_point_weights(s);
  if (!w) return std::nan("");
  const double lo = w->lo, hi = w->hi, q_hi = w->q_hi;
  IsOptions o;
  o.psis = false;
  o.ci_level = kCiLevel;
  double coverage = 0.0;
  const double N = static_cast<double>(n);
  for (std::int64_t k = 0; k <= n; ++k) {
    std::vector<double> sample(static_cast<std::size_t>(n), lo);
    std::fill(sample.begin(), sample.begin() + k, hi);
    const IsEstimate e = estimate_log_partition(sample, o);
    if (!(e.ci_low <= s.log_z && s.log_z <= e.ci_high)) continue;
    const double kk = static_cast<double>(k);
    coverage += std::exp(std::lgamma(N + 1) - std::lgamma(kk + 1) - std::lgamma(N - kk + 1) + kk * std::log(q_hi) +
                         (N - kk) * std::log1p(-q_hi));
  }
  return coverage;
}

struct Coverage {
  double fraction = 0.0;
  std::int64_t below = 0;  // log Z above the interval
};
Coverage coverage_of(const Proposal& s, const Replicates& r) {
  Coverage c;
  std::int64_t covered = 0;
  for (const IsEstimate& e : r.est) {
    covered += e.ci_low <= s.log_z && s.log_z <= e.ci_high;
    c.below += s.log_z > e.ci_high;
  }
  c.fraction = static_cast<double>(covered) / static_cast<double>(r.est.size());
  return c;
}

TEST(IsCi, DeltaMethodCoverage) {
  for (const char* spec : {"tilted:lambda=0.2", "interp:lambda=0.2"}) {
    const Proposal s = make_setup(spec);
    ASSERT_GT(s.chi2, 0.2) << spec;
    ASSERT_LT(s.chi2, 1.0) << spec;
    const std::int64_t n = 256, m = 2000;
    const double exact = two_point_exact_coverage(s, n);
    const bool tilted = std::string(spec).rfind("tilted", 0) == 0;
    ASSERT_EQ(tilted, !std::isnan(exact)) << spec << ": two distinct weights exactly when tilted";
    const double centre = tilted ? exact : kCiLevel;
    const Coverage c = coverage_of(s, run_replicates(s, n, m, 104));
    EXPECT_NEAR(c.fraction, centre, kSigmas * std::sqrt(centre * (1 - centre) / m))
        << spec << ": chi2 = " << s.chi2 << (tilted ? ", exact coverage at N " : ", nominal ") << centre
        << "; misses above the interval " << c.below << " of " << m - std::llround(c.fraction * m);
    RecordProperty(std::string("coverage_") + spec, std::to_string(c.fraction));
  }
}

// Coverage of the percentile-bootstrap interval (B = 201 replicates) at levels 0.8 and
// 0.95, N = 256, M = 1000 replicates, under the two-weight proposal tilted:lambda=0.2,
// whose bootstrap coverage is exact: given K high weights among N, a resample holds K* ~
// Binomial(N, K / N) of them (the resampling indices are independent of the data: each
// replicate has its own bootstrap_seed), and a replicate's log Zhat increases with K*, so
// with F = P(replicate <= log Z) (no replicate value equals log Z) the interval
// [X_(lo), X_(hi)] (0-based nearest-rank order statistics, lo = alpha (B - 1), hi = (1 -
// alpha) (B - 1), integers for B = 201) covers log Z with probability
// BinomialCdf(hi; B, F) - BinomialCdf(lo; B, F); averaged over K ~ Binomial(N, q(high)).
// Judged within 4 binomial sd of that exact coverage: two-sided false-alarm rate 6.3e-5
// per level (normal approximation of the M = 1000 count). A bootstrap that ignored
// ci_level (0.95 at level 0.8: coverage ~0.95 against 0.8 +- 0.05) fails.
double two_point_exact_bootstrap_coverage(const Proposal& s, std::int64_t n, int replicates, double level) {
  const std::optional<TwoPointWeights> w = two_point_weights(s);
  if (!w) return std::nan("");
  const double lo = w->lo, hi = w->hi, q_hi = w->q_hi;
  const double alpha = (1.0 - level) / 2.0;
  const double low_index = std::round(alpha * (replicates - 1)),
               high_index = std::round((1 - alpha) * (replicates - 1));
  const double N = static_cast<double>(n);
  const auto log_binomial = [](double n, double k, double p) {
    if (p <= 0.0) return k == 0 ? 0.0 : -std::numeric_limits<double>::infinity();
    if (p >= 1.0) return k == n ? 0.0 : -std::numeric_limits<double>::infinity();
    return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1) + k * std::log(p) +
           (n - k) * std::log1p(-p);
  };
  double coverage = 0.0;
  for (std::int64_t k = 0; k <= n; ++k) {
    // F = P(K* <= k_max), k_max the largest count whose replicate value is <= log Z.
    double f = 0.0;
    for (std::int64_t ks = 0; ks <= n; ++ks) {
      const double value = std::log((ks * std::exp(hi) + (n - ks) * std::exp(lo)) / N);
      if (value <= s.log_z) f += std::exp(log_binomial(N, static_cast<double>(ks), static_cast<double>(k) / N));
    }
    f = std::clamp(f, 0.0, 1.0);
    const boost::math::binomial_distribution<double> boot(replicates, f);
    const double cover = boost::math::cdf(boot, high_index) - boost::math::cdf(boot, low_index);
    coverage += std::exp(log_binomial(N, static_cast<double>(k), q_hi)) * cover;
  }
  return coverage;
}

TEST(IsCi, BootstrapCoverageIsTheExactTwoPointCoverage) {
  const Proposal s = make_setup("tilted:lambda=0.2");
  const std::int64_t n = 256, m = 1000;
  constexpr int kReplicates = 201;
  const AliasSampler sampler(s.q);
  std::vector<std::vector<double>> samples;
  for (std::int64_t rep = 0; rep < m; ++rep) samples.push_back(s.log_weights(sampler.sample(105, n, rep * n)));
  for (const double level : {0.8, 0.95}) {
    const double exact = two_point_exact_bootstrap_coverage(s, n, kReplicates, level);
    ASSERT_FALSE(std::isnan(exact)) << "tilted proposals have two distinct weights";
    IsOptions o;
    o.psis = false;
    o.bootstrap = true;
    o.bootstrap_replicates = kReplicates;
    o.ci_level = level;
    std::int64_t covered = 0;
    for (std::int64_t rep = 0; rep < m; ++rep) {
      o.bootstrap_seed = static_cast<std::uint64_t>(rep);
      const IsEstimate e = estimate_log_partition(samples[static_cast<std::size_t>(rep)], o);
      covered += e.ci_low <= s.log_z && s.log_z <= e.ci_high;
    }
    const double fraction = static_cast<double>(covered) / static_cast<double>(m);
    EXPECT_NEAR(fraction, exact, kSigmas * std::sqrt(exact * (1 - exact) / m))
        << "level " << level << ": exact coverage " << exact;
    RecordProperty("bootstrap_coverage_" + std::to_string(level), std::to_string(fraction));
  }
}

// The measurement behind the interp case's stated false-alarm rate (not run by default):
//   build/tests/is_estimator_statistical_test --gtest_also_run_disabled_tests --gtest_filter='*CoverageAtLargeM'
// prints the coverage over M = 200,000 replicates of seed 999 with its binomial se (tilted
// 0.953685, interp 0.947905, each +- 0.0005; 12 s here), and checks the tilted one against
// the exact coverage (0.954592) within 4 se.
TEST(IsCi, DISABLED_CoverageAtLargeM) {
  for (const char* spec : {"tilted:lambda=0.2", "interp:lambda=0.2"}) {
    const Proposal s = make_setup(spec);
    const std::int64_t n = 256, m = 200000;
    const Coverage c = coverage_of(s, run_replicates(s, n, m, 999));
    const double se = std::sqrt(c.fraction * (1 - c.fraction) / m);
    const double exact = two_point_exact_coverage(s, n);
    std::printf(
        "%s: coverage %.6f +- %.6f over %lld replicates of N = %lld (exact %.6f); offset from %.2f: %+.2f sd of "
        "the M = 2000 test\n",
        spec, c.fraction, se, static_cast<long long>(m), static_cast<long long>(n), exact, kCiLevel,
        (c.fraction - kCiLevel) / std::sqrt(kCiLevel * (1 - kCiLevel) / 2000));
    if (!std::isnan(exact)) {
      EXPECT_NEAR(c.fraction, exact, kSigmas * se) << spec;
    }
  }
}

// Self-normalised IS (E_{p*}[f] with f = 1[correct]) from q = pi_ref. Its error is
// asymptotically normal with variance E_q[X^2 (f - mu)^2] / N and bias
// -E_q[X^2 (f - mu)] / N (delta method on a ratio of means), both exact here.
TEST(SelfNormalisedExpectationLaw, ConvergesToTheTargetAccuracy) {
  const Proposal s = make_setup("reference");
  const double mu = accuracy(s.tree, s.target);
  double v = 0.0, bias = 0.0;
  for (std::size_t y = 0; y < s.log_q.size(); ++y) {
    const double x2q = std::exp(2 * s.log_target[y] - s.log_q[y]);  // q X^2
    const double f = is_correct(s.tree.reward[y]) ? 1.0 : 0.0;
    v += x2q * (f - mu) * (f - mu);
    bias -= x2q * (f - mu);
  }
  const std::int64_t n = 100000;
  const SampleBatch b = AliasSampler(s.q).sample(105, n);
  const std::vector<double> lw = s.log_weights(b);
  std::vector<double> f(n);
  for (std::int64_t i = 0; i < n; ++i) f[i] = is_correct(s.tree.reward[b.leaf[i]]) ? 1.0 : 0.0;
  const double est = self_normalised_expectation(lw, f);
  EXPECT_NEAR(est, mu + bias / n, kSigmas * std::sqrt(v / n)) << "target accuracy " << mu;
  EXPECT_GT(mu - accuracy(s.tree, s.q), 10 * std::sqrt(v / n));  // the reweighting does move it
}

// With q = p* every weight is Z (to round-off), so the estimate is the plain sample
// mean of f, itself within 4 binomial sd of the target accuracy.
TEST(SelfNormalisedExpectationLaw, AtTheTargetItIsTheSampleMean) {
  const Proposal s = make_setup("target");
  const double mu = accuracy(s.tree, s.target);
  const std::int64_t n = 20000;
  const SampleBatch b = AliasSampler(s.q).sample(106, n);
  std::vector<double> f(n);
  double mean = 0.0;
  for (std::int64_t i = 0; i < n; ++i) mean += f[i] = is_correct(s.tree.reward[b.leaf[i]]) ? 1.0 : 0.0;
  mean /= n;
  const double est = self_normalised_expectation(s.log_weights(b), f);
  EXPECT_NEAR(est, mean, 1e-12);
  EXPECT_NEAR(est, mu, kSigmas * std::sqrt(mu * (1 - mu) / n));
}

// ---- PSIS --------------------------------------------------------------------------

// Exact GPD draws x = sigma ((1 - u)^-k - 1) / k, n = 2000: the fit's k has
// asymptotic sd (1 + k)/sqrt(n) (maximum likelihood; Zhang-Stephens is close to
// it), sigma's relative sd sqrt(2 (1 + k) / n). The weak prior moves k to
// (n k + 10 * 0.5) / (n + 10).
TEST(GpdFit, RecoversKnownShape) {
  const std::int64_t n = 2000;
  const double sigma = 2.5;
  int stream = 0;
  for (double k : {0.1, 0.3, 0.5, 0.7, 0.9}) {
    const CounterRng rng(107, static_cast<std::uint64_t>(++stream));
    std::vector<double> x(n);
    for (std::int64_t i = 0; i < n; ++i) x[i] = sigma * std::expm1(-k * std::log1p(-rng.uniform(i))) / k;
    std::sort(x.begin(), x.end());
    const GpdFit fit = fit_generalized_pareto(x);
    const double expected = (n * k + 5.0) / (n + 10.0);
    EXPECT_NEAR(fit.k, expected, kSigmas * (1 + k) / std::sqrt(double(n))) << "k = " << k;
    EXPECT_NEAR(fit.sigma / sigma, 1.0, kSigmas * std::sqrt(2 * (1 + k) / n)) << "k = " << k;
  }
}

// Weights with a known tail, N = 10^6 (tail M = 3 sqrt N = 3000):
//  - Pareto(alpha = 1.2): exceedances over any threshold are exactly GPD with
//    k = 1/alpha = 0.833 (infinite variance): k_hat within 4 sd (1.83/sqrt 3000 =
//    0.033) of 0.833, hence > 0.7 (3.9 sd), flagged and not reliable;
//  - lognormal sigma = 0.5 (all moments finite): k_hat < 0.5, and PSIS moves the
//    estimate by less than its own standard error; both within 4 se of the exact
//    log E[w] = sigma^2/2.
TEST(Psis, KHatSeparatesHeavyFromLightTails) {
  const std::int64_t n = 1000000;
  const double alpha = 1.2;
  const CounterRng rng(108, 1);
  std::vector<double> pareto(n), lognormal(n);
  for (std::int64_t i = 0; i < n; ++i) {
    pareto[i] = -std::log1p(-rng.uniform(i)) / alpha;
    lognormal[i] = 0.5 * rng.normal(n + i);
  }
  const IsEstimate heavy = estimate_log_partition(pareto);
  const double m = 3.0 * std::sqrt(double(n));
  const double k_true = 1.0 / alpha, k_expected = (m * k_true + 5.0) / (m + 10.0);
  EXPECT_NEAR(heavy.k_hat, k_expected, kSigmas * (1 + k_true) / std::sqrt(m));
  EXPECT_GT(heavy.k_hat, 0.7);
  EXPECT_NE(std::find(heavy.flags.begin(), heavy.flags.end(), kKHatAboveThreshold), heavy.flags.end());
  EXPECT_FALSE(heavy.reliable());
  EXPECT_TRUE(std::isfinite(heavy.log_z_psis));

  const IsEstimate light = estimate_log_partition(lognormal);
  EXPECT_LT(light.k_hat, 0.5);
  EXPECT_TRUE(light.reliable());
  const double z = boost::math::quantile(boost::math::normal(), 0.975);
  const double se = (light.ci_high - light.ci_low) / (2 * z);
  EXPECT_LT(std::fabs(light.log_z_psis - light.log_z_hat), se);
  EXPECT_NEAR(light.log_z_hat, 0.125, kSigmas * se);
  EXPECT_NEAR(light.log_z_psis, 0.125, kSigmas * se);
}

}  // namespace
}  // namespace disa

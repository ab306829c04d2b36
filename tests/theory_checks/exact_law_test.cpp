// The exact laws of log Zhat_N (theory_checks/replicates.h) that check_03, check_04,
// check_07 and check_14 judge sampled rows against, and whose moments give those rows'
// standard errors: when the weight takes few values (q = pi_ref or tilted q_lambda on
// binary rewards: two; a three-valued reward: three) the multinomial law over the counts
// must equal the enumeration over all leaves (N = 1) and all pairs of leaves (N = 2),
// every moment. Two independent derivations of the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "theory_checks/check_util.h"
#include "theory_checks/replicates.h"
#include "toy_envs/leaf_distribution.h"

namespace disa::theory {
namespace {

void expect_same_law(const ExactLaw& binomial, const ExactLaw& enumerated, const char* what) {
  SCOPED_TRACE(what);
  const auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-12 + 1e-9 * std::fabs(b); };
  EXPECT_PRED2(near, binomial.bias, enumerated.bias);
  EXPECT_PRED2(near, binomial.var_log, enumerated.var_log);
  EXPECT_PRED2(near, binomial.ess_fraction, enumerated.ess_fraction);
  EXPECT_PRED2(near, binomial.mu4_log, enumerated.mu4_log);
  EXPECT_PRED2(near, binomial.var_controlled, enumerated.var_controlled);
  EXPECT_PRED2(near, binomial.var_ess_fraction, enumerated.var_ess_fraction);
}

void expect_atoms_law_equals_enumeration(const Case& c, std::size_t atoms) {
  ASSERT_EQ(c.weight_atoms.size(), atoms);
  double mass = 0.0;
  for (const Case::WeightAtom& a : c.weight_atoms) mass += a.q_mass;
  EXPECT_NEAR(mass, 1.0, 1e-12);
  Case enumerated = c;
  enumerated.weight_atoms.clear();  // exact_law then enumerates leaves / pairs
  for (const std::int64_t n : {1, 2}) {
    const std::optional<ExactLaw> a = exact_law(c, n), b = exact_law(enumerated, n);
    ASSERT_TRUE(a && b);
    expect_same_law(*a, *b, n == 1 ? "N = 1" : "N = 2");
    // A distribution's fourth central moment is at least its variance squared.
    EXPECT_GE(a->mu4_log, a->var_log * a->var_log * (1 - 1e-12));
    // N = 1: E[log Zhat] - log Z = -KL(q || p*).
    if (n == 1) {
      EXPECT_NEAR(a->bias, -c.kl_q_target, 1e-12);
    }
  }
}

TEST(ExactLaw, BinomialLawEqualsLeafEnumerationAtNOneAndTwo) {
  for (const double beta : {1.0, 4.0, 8.0}) {
    SCOPED_TRACE(beta);
    expect_atoms_law_equals_enumeration(make_case(standard_tree("strategies"), beta, "reference"), 2);
  }
}

TEST(ExactLaw, TiltedProposalsOnBinaryRewardsHaveTheBinomialLaw) {
  // u = Z_lambda e^{(1 - lambda) beta r} / Z: two values for every lambda != 1, one at q = p*.
  for (const double lambda : {0.25, 0.5, 1.5, 2.0}) {
    SCOPED_TRACE(lambda);
    const Case c = make_case(standard_tree("strategies"), 4.0, "tilted:lambda=" + std::to_string(lambda));
    expect_atoms_law_equals_enumeration(c, 2);
    // The atoms are the closed form's two values (to the flows' round-off).
    const Case reference = make_case(standard_tree("strategies"), 4.0, "reference");
    const double log_gap = c.weight_atoms[1].log_u - c.weight_atoms[0].log_u;
    EXPECT_NEAR(log_gap, std::fabs(1.0 - lambda) * 4.0, 1e-9);
    EXPECT_NEAR(reference.weight_atoms[1].log_u - reference.weight_atoms[0].log_u, 4.0, 1e-9);
  }
  const Case target = make_case(standard_tree("strategies"), 4.0, "tilted:lambda=1");
  ASSERT_EQ(target.weight_atoms.size(), 1u);
  const std::optional<ExactLaw> law = exact_law(target, 64);
  ASSERT_TRUE(law);
  EXPECT_NEAR(law->bias, 0.0, 1e-9);
  EXPECT_NEAR(law->var_log, 0.0, 1e-18);
  EXPECT_NEAR(law->ess_fraction, 1.0, 1e-12);
}

TEST(ExactLaw, TiltedLawMatchesTheBinomialClosedFormAtLargeN) {
  // Independent of the atoms: with acc = P_{pi_ref}(r = 1), q_lambda draws a correct leaf
  // with probability a = acc e^{lambda beta} / Z_lambda, Z_lambda = 1 - acc + acc e^{lambda beta},
  // and Zhat_N = Z_lambda ((N - K) + K e^{(1 - lambda) beta}) / N with K ~ Binomial(N, a).
  const NamedTree tree = standard_tree("strategies");
  const TabularPolicy ref = reference_policy(tree.tree);
  const std::vector<double> leaf_log_ref = leaf_log_probs(ref);
  double acc = 0.0;
  for (std::size_t y = 0; y < leaf_log_ref.size(); ++y) acc += tree.tree.reward[y] * std::exp(leaf_log_ref[y]);
  const double beta = 4.0;
  for (const double lambda : {0.0, 0.5, 2.0}) {
    const Case c = make_case(tree, beta, "tilted:lambda=" + std::to_string(lambda));
    const double z_lambda = 1.0 - acc + acc * std::exp(lambda * beta);
    const double a = acc * std::exp(lambda * beta) / z_lambda, log_z = std::log(1.0 - acc + acc * std::exp(beta));
    for (const std::int64_t n : {64, 1024}) {
      SCOPED_TRACE(testing::Message() << "lambda " << lambda << ", N " << n);
      double mean = 0.0, second = 0.0;
      for (std::int64_t k = 0; k <= n; ++k) {
        const double p = std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) +
                                  double(k) * std::log(a) + double(n - k) * std::log1p(-a));
        const double x = std::log(z_lambda * (double(n - k) + double(k) * std::exp((1.0 - lambda) * beta)) / double(n)) -
                         log_z;
        mean += p * x;
        second += p * x * x;
      }
      const std::optional<ExactLaw> law = exact_law(c, n);
      ASSERT_TRUE(law);
      EXPECT_NEAR(law->bias, mean, 1e-10);
      EXPECT_NEAR(law->var_log, second - mean * mean, 1e-10 + 1e-8 * law->var_log);
    }
  }
}

TEST(ExactLaw, ThreeValuedRewardGivesTheMultinomialLaw) {
  NamedTree three = standard_tree("strategies");
  for (std::size_t y = 0; y < three.tree.reward.size(); y += 3) three.tree.reward[y] = 0.5;
  const Case c = make_case("three_valued", std::make_shared<const Tree>(three.tree), 4.0, "reference",
                           reference_policy(three.tree));
  expect_atoms_law_equals_enumeration(c, 3);
  // Beyond kMaxLawPoints count vectors (C(N + 2, 2) > 2^22 from N ~ 2900) there is no law.
  EXPECT_TRUE(exact_law(c, 1024).has_value());
  EXPECT_FALSE(exact_law(c, 4096).has_value());
}

TEST(ExactLaw, TheBiasRowOfAProposalWithAHoleMeasuresTheBias) {
  // q = pi_ref without the root's action 0: p*'s mass there (0.85 at beta 4) is a hole,
  // E[Zhat/Z] = 1 - hole (item 6). The weight still takes two values, so the law exists at
  // every N, and the bias row's control variate must be centred at E[Zhat/Z], not at 1.
  const NamedTree tree = standard_tree("strategies");
  std::vector<double> logits = reference_policy(tree.tree).log_prob;
  logits[0] = -INFINITY;  // the root is node 0
  const TabularPolicy q = TabularPolicy::from_logits(tree.tree.shape, logits);
  const Case c = make_case(tree.name, std::make_shared<const Tree>(tree.tree), 4.0, "reference without root action 0", q);
  ASSERT_GT(c.hole_mass, 0.5);
  ASSERT_EQ(c.weight_atoms.size(), 2u);
  const std::int64_t n = 16, m = 4096;
  const std::optional<ExactLaw> law = exact_law(c, n);
  ASSERT_TRUE(law);
  const LogSpaceRows rows = log_space_rows(c, n, m, 7, run_replicates(c, n, m, 7), law);
  // |z| <= 4: a two-sided false alarm of 6.3e-5 (with the hole mass left in, z was ~10^3).
  EXPECT_LT(std::fabs(rows.bias.measured - law->bias), 4.0 * rows.bias.se)
      << "measured " << rows.bias.measured << ", exact " << law->bias << ", hole " << c.hole_mass;
}

// The strategies tree with its rewards replaced: leaf y gets values[y % values.size()].
Case case_with_rewards(const std::vector<double>& values, double beta) {
  NamedTree t = standard_tree("strategies");
  for (std::size_t y = 0; y < t.tree.reward.size(); ++y) t.tree.reward[y] = values[y % values.size()];
  return make_case("rewards", std::make_shared<const Tree>(t.tree), beta, "reference", reference_policy(t.tree));
}

TEST(ExactLaw, AtomsAreFewWellSeparatedValues) {
  // With q = pi_ref, log u = beta r - log Z: one atom per distinct reward.
  const Case four = case_with_rewards({0.0, 0.25, 0.5, 1.0}, 4.0);
  expect_atoms_law_equals_enumeration(four, 4);
  EXPECT_TRUE(exact_law(four, 64).has_value());              // C(67, 3) = 47,905 count vectors
  EXPECT_TRUE(case_with_rewards({0.0, 0.25, 0.5, 0.75, 1.0}, 4.0).weight_atoms.empty());  // five: too many
  // Values closer than kWeightAtomWidth are one value (round-off); between the width and
  // kWeightAtomGap they are neither one nor clearly two, so there is no law.
  EXPECT_EQ(case_with_rewards({0.0, 1.0, 1.0 + 1e-10}, 4.0).weight_atoms.size(), 2u);  // 4e-10 apart in log u
  EXPECT_TRUE(case_with_rewards({0.0, 1.0, 1.0 + 1e-8}, 4.0).weight_atoms.empty());    // 4e-8 apart
  EXPECT_EQ(case_with_rewards({0.0, 1.0, 1.0 + 1e-6}, 4.0).weight_atoms.size(), 3u);   // 4e-6 apart
  // One atom (q = p*): one point at any N, no table of N log-factorials.
  const Case target = make_case(standard_tree("strategies"), 4.0, "target");
  ASSERT_EQ(target.weight_atoms.size(), 1u);
  const std::optional<ExactLaw> law = exact_law(target, std::int64_t{1} << 40);
  ASSERT_TRUE(law);
  EXPECT_EQ(law->var_log, 0.0);
  EXPECT_NEAR(law->bias, 0.0, 1e-12);
}

TEST(ExactLaw, ContinuousWeightsHaveNoAtoms) {
  // The per-node interpolation makes u vary leaf by leaf: no few-valued law beyond N = 2.
  const Case c = make_case(standard_tree("random"), 4.0, "interp:lambda=0.5");
  EXPECT_TRUE(c.weight_atoms.empty());
  EXPECT_FALSE(exact_law(c, 64).has_value());
  EXPECT_TRUE(exact_law(c, 2).has_value());
}

TEST(ExactLaw, HeavyTailedCaseHasTheKurtosisThatMotivatesExactErrors) {
  // strategies at beta 8, q = pi_ref (accuracy 0.1): few correct draws dominate log Zhat.
  // Its law's kurtosis is far above a normal's 3, so a sample fourth moment from M draws
  // usually misses the tail: the reason log_space_rows uses these moments.
  const Case c = make_case(standard_tree("strategies"), 8.0, "reference");
  const std::optional<ExactLaw> law = exact_law(c, 64);
  ASSERT_TRUE(law);
  EXPECT_GT(law->mu4_log / (law->var_log * law->var_log), 10.0);
  // The control variate shrinks the spread of the bias statistic.
  EXPECT_LT(law->var_controlled, law->var_log);
}

}  // namespace
}  // namespace disa::theory

// Tests toy_envs/divergences.h: chi2, KL, entropy and expectations by one
// backward pass each.
//
// Against: direct sums over the leaves of brute-force enumeration
// (tests/util/brute_force.h) for RapidCheck-generated trees and pairs of
// policies; KL's defining properties (>= 0, zero iff equal); THEORY.md item 5's
// bound chi2(p* || pi_ref) <= (1 - acc) / acc for binary rewards; and item 6
// (a proposal missing mass of p gives chi2 = KL = +inf).
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/log_sum_exp.h"
#include "tests/util/brute_force.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"

namespace disa {
namespace {

using test::kRoundOff;

// chi2 = G - 1 with G = sum_y p^2/q >= 1 a sum of positive terms, so both sides
// agree to kRoundOff relative in G: |chi2 - chi2_brute| <= kRoundOff (1 + chi2).
void check_chi_square(const TabularPolicy& p, const TabularPolicy& q) {
  const double expected = test::chi_square(test::enumerate(p).prob, test::enumerate(q).prob);
  const ChiSquare got = chi_square_divergence(p, q);
  RC_ASSERT(std::fabs(got.value - expected) <= kRoundOff * (1.0 + expected));
  RC_ASSERT(std::fabs(got.log1p_value - std::log1p(expected)) <= kRoundOff);
  RC_ASSERT(got.value >= -kRoundOff);  // Cauchy-Schwarz: G >= 1
  RC_ASSERT(std::fabs(got.expected_ess_fraction() - 1.0 / (1.0 + got.value)) == 0.0);
}

RC_GTEST_PROP(Divergences, ChiSquareMatchesEnumerationForAnyPolicies, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy p = *test::gen_policy_on(shape);
  const TabularPolicy q = *test::gen_policy_on(shape);
  check_chi_square(p, q);
}

RC_GTEST_PROP(Divergences, ChiSquareOfTargetAgainstReferenceMatchesEnumeration, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy ref = reference_policy(tree);
  check_chi_square(target_policy(tree, ref, beta), ref);
}

// KL's terms p (log p - log q) have both signs; the tolerance scales with
// sum_y p (|log p| + |log q|), the size of what is summed.
RC_GTEST_PROP(Divergences, KlMatchesEnumerationAndIsNonNegative, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy p = *test::gen_policy_on(shape);
  const TabularPolicy q = *test::gen_policy_on(shape);
  const std::vector<double> pp = test::enumerate(p).prob, qq = test::enumerate(q).prob;
  const double got = kl_divergence(p, q);
  RC_ASSERT(std::fabs(got - test::kl(pp, qq)) <= kRoundOff * (1.0 + test::kl_scale(pp, qq)));
  RC_ASSERT(got >= -kRoundOff * (1.0 + test::kl_scale(pp, qq)));
}

// KL(p, p) = 0 exactly (every term has log p - log p = 0), and a perturbation of
// one node's distribution gives KL > 0: exactly P(reach s) KL(p(.|s) || q(.|s)),
// the only node where the two differ.
RC_GTEST_PROP(Divergences, KlIsZeroIffEqual, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy p = *test::gen_policy_on(shape);
  RC_ASSERT(kl_divergence(p, p) == 0.0);
  const std::int64_t node = *rc::gen::inRange<std::int64_t>(0, shape.num_internal());
  const int V = shape.vocab();
  std::vector<double> logits = p.log_prob;
  logits[node * V + *rc::gen::inRange(0, V)] += 1.0;  // changes that node's distribution
  const TabularPolicy q = TabularPolicy::from_logits(shape, logits);
  const double got = kl_divergence(p, q);
  RC_ASSERT(got > 0.0);
  // Independent value: reach probability times the KL of the two rows.
  const std::vector<double> reach = test::subtree_sums(shape, test::enumerate(p).prob);
  const std::vector<double> pr = test::softmax_row(p.node(node)), qr = test::softmax_row(q.node(node));
  const double expected = reach[node] * test::kl(pr, qr);
  RC_ASSERT(std::fabs(got - expected) <= kRoundOff * (1.0 + expected));
}

RC_GTEST_PROP(Divergences, EntropyMatchesEnumeration, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy p = *test::gen_policy_on(shape);
  const double expected = test::entropy(test::enumerate(p).prob);
  RC_ASSERT(std::fabs(entropy(p) - expected) <= kRoundOff * (1.0 + expected));
  RC_ASSERT(entropy(p) <= std::log(static_cast<double>(shape.num_leaves())) + kRoundOff);
}

// E_p[r] and P_p(r >= 1/2): sums of p(y) v(y) with |v| <= 1.
RC_GTEST_PROP(Divergences, ExpectedRewardAndAccuracyMatchEnumeration, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy ref = reference_policy(tree);
  for (const TabularPolicy& p : {ref, target_policy(tree, ref, beta), *test::gen_policy_on(tree.shape)}) {
    const std::vector<double> pp = test::enumerate(p).prob;
    RC_ASSERT(std::fabs(expected_reward(tree, p) - test::expectation(pp, tree.reward)) <= kRoundOff);
    RC_ASSERT(std::fabs(accuracy(tree, p) - test::accuracy(pp, tree.reward)) <= kRoundOff);
  }
}

// THEORY.md item 5: with binary rewards, chi2(p* || pi_ref) = Z(2 beta)/Z(beta)^2 - 1
// <= (1 - acc)/acc for every beta (the beta -> infinity limit).
RC_GTEST_PROP(Divergences, BinaryRewardChiSquareBound, ()) {
  const Tree tree = *test::gen_tree(test::RewardKind::kBinary);
  const TabularPolicy ref = reference_policy(tree);
  const double acc = test::accuracy(test::enumerate(ref).prob, tree.reward);
  RC_PRE(acc > 0.0);
  const double bound = (1.0 - acc) / acc;
  for (double beta : {*test::gen_beta(), 1.0, 20.0, 200.0}) {
    const double chi2 = chi_square_divergence(target_policy(tree, ref, beta), ref).value;
    // Near the bound (large beta) the log-space terms reach 2 beta in magnitude,
    // so log G carries an absolute rounding error up to kRoundOff (1 + beta).
    RC_ASSERT(chi2 <= bound + kRoundOff * (1.0 + beta) * (1.0 + bound));
  }
  // And the bound is approached: at beta = 200 the gap is O(e^-200 / acc).
  const double chi2_200 = chi_square_divergence(target_policy(tree, ref, 200.0), ref).value;
  RC_ASSERT(std::fabs(chi2_200 - bound) <= 1e-9 * (1.0 + bound));
}

// THEORY.md item 6: q with zero mass where p has mass: chi2 = KL = +inf,
// reported, not averaged away. The reverse direction stays finite.
TEST(Divergences, MissingMassGivesInfinity) {
  const TreeShape shape = TreeShape::make(3, 3, 2);
  std::vector<double> logits(static_cast<std::size_t>(shape.num_internal() * 3), 0.0);
  const TabularPolicy p = TabularPolicy::from_logits(shape, logits);
  logits[3 * 2 + 1] = kNegInf;  // node 2 (prefix [1]) never takes action 1
  const TabularPolicy q = TabularPolicy::from_logits(shape, logits);
  const ChiSquare chi2 = chi_square_divergence(p, q);
  EXPECT_EQ(chi2.value, kPosInf);
  EXPECT_EQ(chi2.log1p_value, kPosInf);
  EXPECT_EQ(chi2.expected_ess_fraction(), 0.0);
  EXPECT_EQ(kl_divergence(p, q), kPosInf);
  // q -> p: q's support is inside p's, so finite and equal to enumeration.
  const std::vector<double> pp = test::enumerate(p).prob, qq = test::enumerate(q).prob;
  EXPECT_NEAR(chi_square_divergence(q, p).value, test::chi_square(qq, pp), kRoundOff);
  EXPECT_NEAR(kl_divergence(q, p), test::kl(qq, pp), kRoundOff);
  EXPECT_NEAR(entropy(q), test::entropy(qq), kRoundOff);
}

// The same above an action whose probability underflows: p*(1|root) = e^-800 / Z > 0 is 0
// in double, and below it q never takes an action p* takes. KL(p*||q) is +inf like chi2
// (which the log-space recursion already gave), not 0 * inf = NaN.
TEST(Divergences, MissingMassBelowAnUnderflowingActionIsStillInfinite) {
  Tree tree = Tree::zeros(TreeShape::make(2, 2));  // leaves [0,0], [0,1], [1,0], [1,1]
  tree.reward = {0.0, 0.0, -400.0, -400.0};
  const TabularPolicy ref = reference_policy(tree), target = target_policy(tree, ref, 2.0);
  ASSERT_GT(target.log_prob[1], kNegInf);
  ASSERT_EQ(std::exp(target.log_prob[1]), 0.0);  // the case: the action's mass underflows
  TabularPolicy q = ref;
  q.log_prob[2 * 2 + 0] = 0.0;  // node [1] always takes action 0, never action 1
  q.log_prob[2 * 2 + 1] = kNegInf;
  EXPECT_EQ(chi_square_divergence(target, q).value, kPosInf);
  EXPECT_EQ(kl_divergence(target, q), kPosInf);
  EXPECT_TRUE(std::isfinite(kl_divergence(target, ref)));
  // The reviewer's first case: p's logit -800 at the root, q missing a leaf below it.
  const TreeShape shape = TreeShape::make(2, 2);
  const TabularPolicy p2 = TabularPolicy::from_logits(shape, std::vector<double>{0, -800, 0, 0, 0, 0});
  const TabularPolicy q2 = TabularPolicy::from_logits(shape, std::vector<double>{0, 0, 0, 0, 0, kNegInf});
  EXPECT_EQ(kl_divergence(p2, q2), kPosInf);
  EXPECT_EQ(chi_square_divergence(p2, q2).value, kPosInf);
}

TEST(Divergences, PoliciesOnDifferentShapesAreRefused) {
  const TabularPolicy a = TabularPolicy::from_logits(TreeShape::make(2, 2), std::vector<double>(6, 0.0));
  const TabularPolicy b = TabularPolicy::from_logits(TreeShape::make(3, 1), std::vector<double>(3, 0.0));
  EXPECT_THROW(chi_square_divergence(a, b), std::invalid_argument);
  EXPECT_THROW(kl_divergence(a, b), std::invalid_argument);
}

}  // namespace
}  // namespace disa

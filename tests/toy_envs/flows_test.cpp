// Tests toy_envs/flows.h: log flows, log Z and the target policy p*.
//
// Against: brute-force enumeration over RapidCheck-generated trees
// (tests/util/brute_force.h: Z = sum_y pi_ref(y) e^{beta r(y)}, flows as subtree
// sums, p*(y) = pi_ref(y) e^{beta r(y)} / Z), the binary-reward closed form
// Z = 1 + (e^beta - 1) acc (THEORY.md, Notation), and, for beta r up to 700 and
// beyond (THEORY.md "everything in log space"), analytic values of log Z derived
// in the comments.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/input_error.h"
#include "src/log_sum_exp.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"

namespace disa {
namespace {

using test::kRoundOff;

RC_GTEST_PROP(Flows, LogPartitionMatchesEnumeration, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const test::Enumeration ref = test::enumerate_reference(tree);
  const double z = test::partition(ref.prob, tree.reward, beta);
  // |log a - log b| <= kRoundOff is a relative error kRoundOff on Z.
  RC_ASSERT(std::fabs(log_partition(tree, beta) - std::log(z)) <= kRoundOff);
  RC_ASSERT(log_partition(tree, reference_policy(tree), beta) == log_partition(tree, beta));
}

// Every node's flow F(s) = sum_{y below s} pi_ref(y | s) e^{beta r(y)}
//                        = [sum_{y below s} pi_ref(y) e^{beta r(y)}] / P_ref(reach s).
RC_GTEST_PROP(Flows, EveryNodeFlowMatchesSubtreeSums, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const test::Enumeration ref = test::enumerate_reference(tree);
  std::vector<double> weighted(ref.prob.size());
  for (std::size_t y = 0; y < weighted.size(); ++y) weighted[y] = ref.prob[y] * std::exp(beta * tree.reward[y]);
  const std::vector<double> num = test::subtree_sums(tree.shape, weighted);
  const std::vector<double> reach = test::subtree_sums(tree.shape, ref.prob);
  const std::vector<double> log_f = log_flows(tree, reference_policy(tree), beta);
  RC_ASSERT(log_f.size() == static_cast<std::size_t>(tree.shape.num_internal()));
  // The fused pass (log-softmax inside) does the same arithmetic: bit-identical.
  RC_ASSERT(log_flows(tree, beta) == log_f);
  for (std::size_t s = 0; s < log_f.size(); ++s) {
    RC_ASSERT(std::fabs(log_f[s] - std::log(num[s] / reach[s])) <= kRoundOff);
  }
}

// p* is a distribution, and the product of p*(a|s) along a path is
// pi_ref(y) e^{beta r(y)} / Z (relative round-off per leaf).
RC_GTEST_PROP(Flows, TargetPolicyIsTheTiltedDistribution, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy target = target_policy(tree, reference_policy(tree), beta);
  RC_ASSERT(target.shape == tree.shape);
  const int V = tree.shape.vocab();
  for (std::int64_t s = 0; s < tree.shape.num_internal(); ++s) {
    double row = 0.0;
    for (int a = 0; a < V; ++a) row += std::exp(target.log_prob[s * V + a]);
    RC_ASSERT(std::fabs(row - 1.0) <= kRoundOff);
  }
  const test::Enumeration ref = test::enumerate_reference(tree);
  const std::vector<double> expected = test::tilt(ref.prob, tree.reward, beta);
  double total = 0.0;
  for (std::size_t y = 0; y < expected.size(); ++y) {
    // Product of the stored conditionals along the path (no renormalisation).
    const double product = std::exp(test::path_log_prob(target, ref.path[y]));
    RC_ASSERT(std::fabs(product - expected[y]) <= kRoundOff * expected[y]);
    total += product;
  }
  RC_ASSERT(std::fabs(total - 1.0) <= kRoundOff);
}

// Binary rewards: Z = E[e^{beta r}] = (1 - acc) + acc e^beta = 1 + (e^beta - 1) acc.
RC_GTEST_PROP(Flows, BinaryRewardPartitionClosedForm, ()) {
  const Tree tree = *test::gen_tree(test::RewardKind::kBinary);
  const double beta = *test::gen_beta();
  const double acc = test::accuracy(test::enumerate_reference(tree).prob, tree.reward);
  RC_ASSERT(std::fabs(log_partition(tree, beta) - std::log1p(std::expm1(beta) * acc)) <= kRoundOff);
}

// beta = 0: Z = 1 and p* = pi_ref (log Z = 0 up to the rounding of the row sums).
RC_GTEST_PROP(Flows, ZeroBetaGivesTheReference, ()) {
  const Tree tree = *test::gen_tree();
  const TabularPolicy ref = reference_policy(tree);
  RC_ASSERT(std::fabs(log_partition(tree, 0.0)) <= kRoundOff);
  const TabularPolicy target = target_policy(tree, ref, 0.0);
  for (std::size_t i = 0; i < ref.log_prob.size(); ++i) {
    RC_ASSERT(std::fabs(target.log_prob[i] - ref.log_prob[i]) <= kRoundOff);
  }
}

// Zero rewards give Z = 1 whatever the logits: log Z is exactly 0 under a common offset of
// 1e8 or 1e15 too (m + log(sum) used to round log 2 to the offset's ulp: log Z = 0.057 at
// 1e15), through both flow passes, and the leaf distribution sums to 1 (leaf_log_probs
// refuses one that does not).
TEST(Flows, LargeCommonLogitOffsetsLeaveLogZExact) {
  for (double offset : {1e8, 1e15}) {
    Tree tree = Tree::zeros(TreeShape::make(2, 2));
    for (double& l : tree.logits) l = offset;
    tree.logits[1] = offset + 1.0;  // one uneven row: root [offset, offset + 1]
    const TabularPolicy ref = reference_policy(tree);
    EXPECT_EQ(log_partition(tree, 1.0), 0.0) << "offset " << offset;
    EXPECT_EQ(log_partition(tree, ref, 1.0), 0.0) << "offset " << offset;
    EXPECT_NO_THROW(leaf_log_probs(ref)) << "offset " << offset;
    // With rewards, log Z equals the unshifted tree's bit for bit.
    Tree plain = Tree::zeros(tree.shape);
    plain.logits[1] = 1.0;
    plain.reward = tree.reward = {1.0, 0.0, 0.5, 0.25};
    EXPECT_EQ(log_partition(tree, 2.0), log_partition(plain, 2.0)) << "offset " << offset;
  }
}

TEST(Flows, NonFiniteBetaIsRejected) {
  const Tree tree = Tree::zeros(TreeShape::make(2, 2));
  for (double beta : {std::numeric_limits<double>::quiet_NaN(), kPosInf, kNegInf}) {
    EXPECT_TRUE(test::contains_all(test::input_error_message([&] { log_partition(tree, beta); }),
                                   {"beta", "finite"}));
    EXPECT_TRUE(test::contains_all(
        test::input_error_message([&] { target_policy(tree, reference_policy(tree), beta); }),
        {"beta"}));
  }
}

// ---- large beta r: everything stays finite and exact in log space ------------

// Tolerance for log Z ~ beta: each of the O(T V) log-space operations rounds a
// number of magnitude <= beta + 10 once, so the absolute error is below
// kRoundOff * (1 + beta) (relative 1e-12 of the largest magnitude involved).
double large_tolerance(double beta) { return kRoundOff * (1.0 + beta); }

// Binary rewards at beta = 700 and 5000 (e^5000 overflows any double):
//   log Z = log((1 - acc) + acc e^beta) = beta + log(acc + (1 - acc) e^{-beta}),
// and p* puts log-mass log pi_ref(y) + beta r(y) - log Z on each leaf.
RC_GTEST_PROP(Flows, LargeBetaBinaryRewardsStayExact, ()) {
  const Tree tree = *test::gen_tree(test::RewardKind::kBinary);
  const test::Enumeration ref = test::enumerate_reference(tree);
  const double acc = test::accuracy(ref.prob, tree.reward);
  RC_PRE(acc > 0.0);
  for (double beta : {700.0, 5000.0}) {
    const double expected = beta + std::log(acc + (1.0 - acc) * std::exp(-beta));
    const double log_z = log_partition(tree, beta);
    RC_ASSERT(std::isfinite(log_z));
    RC_ASSERT(std::fabs(log_z - expected) <= large_tolerance(beta));
    const TabularPolicy target = target_policy(tree, reference_policy(tree), beta);
    for (double lp : target.log_prob) RC_ASSERT(std::isfinite(lp) && lp <= 0.0);
    for (std::size_t y = 0; y < ref.prob.size(); ++y) {
      const double want = std::log(ref.prob[y]) + beta * tree.reward[y] - expected;
      RC_ASSERT(std::fabs(test::path_log_prob(target, ref.path[y]) - want) <= large_tolerance(beta));
    }
  }
}

// 2048 leaves (V = 2, T = 11, all logits 0: pi_ref(y) = 2^-11), one correct leaf,
// beta = 700:  Z = (2047 + e^700) / 2048, so
//   log Z = 700 - 11 log 2 + log1p(2047 e^-700) = 700 - 11 log 2 (the log1p term is 2e-301).
// p*(correct) = e^700 / (2047 + e^700): log = -log1p(2047 e^-700) ~ -2e-301;
// p*(other) = 1 / (2047 + e^700): log = -700 - log1p(2047 e^-700) = -700.
TEST(Flows, Beta700OnManyLeavesOneCorrect) {
  Tree tree = Tree::zeros(TreeShape::make(2, 11));
  ASSERT_EQ(tree.shape.num_leaves(), 2048);
  const std::int64_t correct = 1234;
  tree.reward[correct] = 1.0;
  const double beta = 700.0;
  const double log_z = log_partition(tree, beta);
  EXPECT_NEAR(log_z, 700.0 - 11.0 * std::log(2.0), large_tolerance(beta));
  const TabularPolicy target = target_policy(tree, reference_policy(tree), beta);
  for (std::int64_t y = 0; y < 2048; ++y) {
    const double lp = test::path_log_prob(target, tree.shape.path(y));
    ASSERT_TRUE(std::isfinite(lp));
    EXPECT_NEAR(lp, y == correct ? 0.0 : -700.0, large_tolerance(beta)) << "leaf " << y;
  }
}

// Graded rewards r(y) = y / 2047 on the same 2048 uniform leaves, beta = 700, so
// beta r runs from 0 to 700 in steps of c = 700/2047:
//   Z = 2^-11 sum_{y=0}^{2047} e^{c y} = 2^-11 (e^{2048 c} - 1) / (e^c - 1)
//   log Z = -11 log 2 + log(expm1(2048 c)) - log(expm1(c)).
// And log p*(y) = -11 log 2 + c y - log Z for every leaf.
TEST(Flows, Beta700GradedRewardsGeometricSeries) {
  Tree tree = Tree::zeros(TreeShape::make(2, 11));
  for (std::int64_t y = 0; y < 2048; ++y) tree.reward[y] = static_cast<double>(y) / 2047.0;
  const double beta = 700.0, c = beta / 2047.0;
  const double expected = -11.0 * std::log(2.0) + std::log(std::expm1(2048.0 * c)) - std::log(std::expm1(c));
  const double log_z = log_partition(tree, beta);
  EXPECT_NEAR(log_z, expected, large_tolerance(beta));
  const TabularPolicy target = target_policy(tree, reference_policy(tree), beta);
  for (std::int64_t y = 0; y < 2048; ++y) {
    EXPECT_NEAR(test::path_log_prob(target, tree.shape.path(y)),
                -11.0 * std::log(2.0) + beta * tree.reward[y] - expected, large_tolerance(beta))
        << "leaf " << y;
  }
  // Exactness, not just finiteness: the flows at depth 10 (two leaves each,
  // rewards r and r + 1/2047) are log((e^{beta r} + e^{beta r + c}) / 2).
  const std::vector<double> log_f = log_flows(tree, reference_policy(tree), beta);
  const std::int64_t first = tree.shape.level_offset(10);
  for (std::int64_t i = 0; i < 1024; ++i) {
    const double br = beta * tree.reward[2 * i];
    EXPECT_NEAR(log_f[first + i], br + std::log1p(std::exp(c)) - std::log(2.0), large_tolerance(beta));
  }
}

}  // namespace
}  // namespace disa

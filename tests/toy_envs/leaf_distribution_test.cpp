// Tests toy_envs/leaf_distribution.h: the exact leaf distribution of a tabular
// policy, its normalisation check, and the strategy distribution among correct
// leaves.
//
// Against: brute-force enumeration (tests/util/brute_force.h) for pi(y) and
// reach probabilities; direct sums over enumerated leaves for
// P(strategy = k | correct); hand values for the small helpers.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"

namespace disa {
namespace {

using test::kRoundOff;

RC_GTEST_PROP(LeafDistribution, LeafAndNodeMassesMatchEnumeration, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy p = *test::gen_policy_on(shape);
  const test::Enumeration e = test::enumerate(p);
  const std::vector<double> log_p = leaf_log_probs(p);
  RC_ASSERT(log_p.size() == e.prob.size());
  for (std::size_t y = 0; y < log_p.size(); ++y) {
    RC_ASSERT(std::fabs(std::exp(log_p[y]) - e.prob[y]) <= kRoundOff * e.prob[y]);
  }
  const LogMass mass = log_mass(p);
  const std::vector<double> reach = test::subtree_sums(shape, e.prob);
  RC_ASSERT(mass.node.size() == reach.size());
  RC_ASSERT(mass.node[0] == 0.0);  // the root is reached with probability 1
  for (std::size_t s = 0; s < reach.size(); ++s) {
    RC_ASSERT(std::fabs(std::exp(mass.node[s]) - reach[s]) <= kRoundOff * reach[s]);
  }
}

// Rows that are not normalised are refused with the sum in the message; the raw
// push-forward (log_mass) is still available and sums to the scaled total.
RC_GTEST_PROP(LeafDistribution, UnnormalisedPolicyIsRefused, ()) {
  const TreeShape shape = *test::gen_shape();
  TabularPolicy p = *test::gen_policy_on(shape);
  for (double& lp : p.node(0)) lp += 0.1;  // the root row now sums to e^0.1
  const std::string msg = test::error_message([&] { leaf_log_probs(p); });
  RC_ASSERT(test::contains_all(msg, {"sums to", "1.105"}));  // e^0.1 = 1.10517...
  const std::vector<double> raw = log_mass(p).leaf;
  double total = 0.0;
  for (double lp : raw) total += std::exp(lp);
  RC_ASSERT(std::fabs(total - std::exp(0.1)) <= kRoundOff);
}

TEST(LeafDistribution, NormalisationToleranceIsHonoured) {
  const TreeShape shape = TreeShape::make(3, 3);
  TabularPolicy p = TabularPolicy::from_logits(shape, std::vector<double>(13 * 3, 0.0));
  for (double& lp : p.node(0)) lp += std::log1p(1e-6);  // total 1 + 1e-6
  EXPECT_TRUE(test::contains_all(test::error_message([&] { leaf_log_probs(p); }), {"sums to"}));
  EXPECT_NO_THROW(leaf_log_probs(p, 1e-5));
  TabularPolicy q = TabularPolicy::from_logits(shape, std::vector<double>(13 * 3, 0.0));
  for (double& lp : q.node(4)) lp += std::log1p(1e-3);  // node 4 is reached w.p. 1/9: total 1 + 1.1e-4
  EXPECT_TRUE(test::contains_all(test::error_message([&] { leaf_log_probs(q); }), {"sums to"}));
}

// P(strategy = k | correct) = sum_{y correct, label k} pi(y) / sum_{y correct, labelled} pi(y).
RC_GTEST_PROP(LeafDistribution, StrategyDistributionAmongCorrectMatchesEnumeration, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy ref = reference_policy(tree);
  for (const TabularPolicy& p : {ref, target_policy(tree, ref, beta)}) {
    const std::vector<double> pp = test::enumerate(p).prob;
    int K = 0;
    for (std::int32_t k : tree.strategy) K = std::max(K, k + 1);
    std::vector<double> expected(static_cast<std::size_t>(K), 0.0);
    double total = 0.0;
    for (std::size_t y = 0; y < pp.size(); ++y) {
      if (tree.strategy[y] >= 0 && tree.reward[y] >= 0.5) {
        expected[tree.strategy[y]] += pp[y];
        total += pp[y];
      }
    }
    const std::vector<double> got = strategy_distribution_among_correct(tree, p);
    RC_ASSERT(got.size() == expected.size());
    for (int k = 0; k < K; ++k) {
      const double want = total > 0.0 ? expected[k] / total : 0.0;
      RC_ASSERT(std::fabs(got[k] - want) <= kRoundOff);
    }
  }
}

TEST(LeafDistribution, StrategyDistributionIsZeroWithoutLabelledCorrectLeaves) {
  Tree tree = Tree::zeros(TreeShape::make(2, 2));  // 4 leaves, all reward 0
  tree.strategy = {0, 1, 1, 2};
  EXPECT_EQ(strategy_distribution_among_correct(tree, reference_policy(tree)),
            (std::vector<double>{0.0, 0.0, 0.0}));
  tree.reward[3] = 1.0;  // the only correct leaf, strategy 2
  EXPECT_EQ(strategy_distribution_among_correct(tree, reference_policy(tree)),
            (std::vector<double>{0.0, 0.0, 1.0}));
}

TEST(LeafDistribution, DistributionEntropyAndCountAbove) {
  EXPECT_NEAR(distribution_entropy({0.5, 0.5}), std::log(2.0), 1e-15);  // 1e-15: a few ulps of log 2
  EXPECT_NEAR(distribution_entropy({0.25, 0.25, 0.25, 0.25}), std::log(4.0), 1e-15);
  EXPECT_EQ(distribution_entropy({1.0, 0.0, 0.0}), 0.0);
  EXPECT_EQ(distribution_entropy({}), 0.0);
  EXPECT_EQ(count_above({0.5, 0.3, 0.2, 0.0}, 0.25), 2);
  EXPECT_EQ(count_above({0.5, 0.3, 0.2, 0.0}, 0.0), 3);
  EXPECT_EQ(count_above({}, 0.1), 0);
}

}  // namespace
}  // namespace disa

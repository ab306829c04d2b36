// Statistical tests of toy_envs/sampler.h: AliasSampler draws leaves with the
// exact probabilities of its policy.
//
// Against: the exact leaf distribution (leaf_log_probs), by Pearson's chi-square
// goodness-of-fit test (tests/util/goodness_of_fit.h; cells expecting fewer than
// 5 draws pooled; p-value from boost::math::chi_squared). Each test uses a fixed
// seed, so it is deterministic; its false-alarm rate over seeds is alpha = 1e-3
// for a correct sampler. A last test shows the check has power: samples of
// pi_ref tested against p* are rejected with p < 1e-6.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/log_sum_exp.h"
#include "tests/util/goodness_of_fit.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/proposals.h"
#include "toy_envs/sampler.h"

namespace disa {
namespace {

// False-alarm rate of each goodness-of-fit test for a correct sampler.
constexpr double kAlpha = 1e-3;
// Draws per test: with >= 100 leaves and expected counts >= 5 per pooled cell,
// Pearson's statistic is close to its chi-square limit; 200000 draws detect a
// relative error of ~2% in a leaf of mass 1% (noncentrality ~ N d^2 / p = 8).
constexpr std::int64_t kDraws = 200000;
constexpr double kBeta = 3.0;

Tree tree_with_eos() {  // V = 4, T = 4, EOS = 3: 40 internal nodes, 121 leaves
  return make_trees("random", {{"vocab", "4"}, {"horizon", "4"}, {"eos", "true"}, {"reward", "graded"}}, 11)[0];
}
Tree tree_without_eos() {  // V = 3, T = 5: 243 leaves
  return make_trees("random", {{"vocab", "3"}, {"horizon", "5"}, {"correct_fraction", "0.3"}}, 12)[0];
}

std::vector<std::int64_t> leaf_counts(const TabularPolicy& policy, std::uint64_t seed) {
  const SampleBatch batch = AliasSampler(policy).sample(seed, kDraws);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(policy.shape.num_leaves()), 0);
  for (std::int64_t y : batch.leaf) ++counts[y];
  return counts;
}

std::vector<double> exact_probs(const TabularPolicy& policy) {
  std::vector<double> p = leaf_log_probs(policy);
  for (double& x : p) x = std::exp(x);
  return p;
}

test::GoodnessOfFit fit(const TabularPolicy& sampled, const TabularPolicy& expected, std::uint64_t seed) {
  return test::pearson_test(leaf_counts(sampled, seed), exact_probs(expected));
}

TabularPolicy policy_named(const Tree& tree, const std::string& spec) {
  return make_policy(tree, kBeta, parse_policy_spec(spec, "test"));
}

struct Case {
  const char* tree;
  const char* policy;
};

// So that the test names read "... GetParam() = eos/target" instead of bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.tree << "/" << c.policy; }

class SamplerGoodnessOfFit : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerGoodnessOfFit, LeafFrequenciesMatchTheExactDistribution) {
  const Tree tree = std::string(GetParam().tree) == "eos" ? tree_with_eos() : tree_without_eos();
  const TabularPolicy policy = policy_named(tree, GetParam().policy);
  const test::GoodnessOfFit g = fit(policy, policy, 20240601);
  EXPECT_GE(g.cells, 20);  // enough cells for the test to mean something
  EXPECT_GE(g.p_value, kAlpha) << "chi2 = " << g.statistic << " on " << g.cells - 1 << " dof";
}

INSTANTIATE_TEST_SUITE_P(Policies, SamplerGoodnessOfFit,
                         ::testing::Values(Case{"eos", "reference"}, Case{"eos", "target"},
                                           Case{"eos", "tilted:lambda=0.5"}, Case{"no_eos", "reference"},
                                           Case{"no_eos", "target"}, Case{"no_eos", "tilted:lambda=0.5"}),
                         [](const auto& info) {
                           std::string name = std::string(info.param.tree) + "_" + info.param.policy;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// Zero-mass actions (logit -inf) shift mass to the other actions; frequencies
// still match, and leaves of zero mass are never drawn.
TEST(SamplerGoodnessOfFitZeroMass, FrequenciesMatchWithZeroMassActions) {
  const TreeShape shape = TreeShape::make(4, 4, 3);  // 40 internal nodes, 121 leaves
  std::vector<double> logits(static_cast<std::size_t>(shape.num_internal() * 4));
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(1.7 * static_cast<double>(i));
  for (std::int64_t s = 0; s < shape.num_internal(); s += 3) logits[s * 4 + (s % 4)] = kNegInf;
  const TabularPolicy policy = TabularPolicy::from_logits(shape, logits);
  const std::vector<std::int64_t> counts = leaf_counts(policy, 77);
  const std::vector<double> p = exact_probs(policy);
  int zero_leaves = 0;
  for (std::size_t y = 0; y < p.size(); ++y) {
    if (p[y] == 0.0) {
      ++zero_leaves;
      EXPECT_EQ(counts[y], 0) << "leaf " << y;
    }
  }
  EXPECT_GT(zero_leaves, 0);  // the check above is not vacuous
  const test::GoodnessOfFit g = test::pearson_test(counts, p);
  EXPECT_GE(g.p_value, kAlpha) << "chi2 = " << g.statistic << " on " << g.cells - 1 << " dof";
}

// The check can fail: pi_ref samples against p* (beta = 3 on binary rewards,
// which moves mass strongly toward correct leaves) are rejected decisively.
TEST(SamplerGoodnessOfFitPower, WrongDistributionIsRejected) {
  const Tree tree = tree_without_eos();
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, kBeta);
  EXPECT_LT(fit(ref, target, 20240601).p_value, 1e-6);
  // Even a mild tilt (lambda = 0.1 of the way to p*) is detected.
  EXPECT_LT(fit(ref, policy_named(tree, "tilted:lambda=0.1"), 20240601).p_value, 1e-6);
}

}  // namespace
}  // namespace disa

// The exact pass against an independent implementation written with LibTorch
// tensor ops (the library the LLM pipeline runs on): log Z by level-wise
// log_softmax + logsumexp over the same level-order layout, and the reference
// leaf distribution by level-wise cumulative log-probabilities. Also checks that
// disa::log_sum_exp agrees with torch::logsumexp, including its -inf handling.
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "src/counter_rng.h"
#include "src/log_sum_exp.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"

namespace {

using disa::Tree;
using disa::TreeShape;

torch::Tensor as_tensor(const std::vector<double>& v) {
  return torch::from_blob(const_cast<double*>(v.data()), {static_cast<long>(v.size())}, torch::kFloat64).clone();
}

// log Z, level by level. Level-d node i has non-EOS children i*B .. i*B+B-1 at
// level d+1 (in action order, EOS skipped); with EOS the EOS leaf of node k is leaf k.
double torch_log_partition(const Tree& tree, double beta) {
  const TreeShape& s = tree.shape;
  const long V = s.vocab(), B = s.branching();
  const torch::Tensor logits = as_tensor(tree.logits).view({-1, V});
  const torch::Tensor reward = as_tensor(tree.reward);
  torch::Tensor child = beta * reward.slice(0, s.horizon_leaf_offset(), s.num_leaves());  // horizon leaves
  for (int d = s.horizon() - 1; d >= 0; --d) {
    const torch::Tensor log_p = torch::log_softmax(logits.slice(0, s.level_offset(d), s.level_offset(d + 1)), 1);
    torch::Tensor next = child.view({-1, B});
    if (s.has_eos()) {
      const torch::Tensor eos = beta * reward.slice(0, s.level_offset(d), s.level_offset(d + 1)).unsqueeze(1);
      next = torch::cat({next.slice(1, 0, s.eos()), eos, next.slice(1, s.eos(), B)}, 1);
    }
    child = torch::logsumexp(log_p + next, 1);
  }
  return child.item<double>();
}

TEST(TorchCrossCheck, LogPartitionMatchesLevelwiseTorch) {
  for (const bool eos : {false, true}) {
    for (const double beta : {0.5, 3.0, 40.0}) {
      const Tree tree = disa::make_trees(
          "random", {{"vocab", "4"}, {"horizon", "6"}, {"eos", eos ? "true" : "false"}, {"reward", "graded"}}, 11)[0];
      const double ours = disa::log_partition(tree, beta);
      const double theirs = torch_log_partition(tree, beta);
      // Both in double with different summation orders: relative 1e-13.
      EXPECT_NEAR(ours, theirs, 1e-13 * std::max(1.0, std::fabs(theirs))) << "eos=" << eos << " beta=" << beta;
    }
  }
}

TEST(TorchCrossCheck, LeafDistributionMatchesCumulativeLogProbs) {
  const Tree tree = disa::make_trees("random", {{"vocab", "3"}, {"horizon", "5"}}, 5)[0];
  const TreeShape& s = tree.shape;
  const std::vector<double> ours = disa::leaf_log_probs(disa::reference_policy(tree));
  // Without EOS, horizon leaf j's log-probability is the level-wise cumulative sum.
  const torch::Tensor logits = as_tensor(tree.logits).view({-1, s.vocab()});
  torch::Tensor mass = torch::zeros({1}, torch::kFloat64);
  for (int d = 0; d < s.horizon(); ++d) {
    const torch::Tensor log_p = torch::log_softmax(logits.slice(0, s.level_offset(d), s.level_offset(d + 1)), 1);
    mass = (mass.unsqueeze(1) + log_p).reshape({-1});
  }
  ASSERT_EQ(mass.size(0), static_cast<long>(ours.size()));
  const torch::Tensor diff = (mass - as_tensor(ours)).abs().max();
  EXPECT_LT(diff.item<double>(), 1e-13);
}

TEST(TorchCrossCheck, LogSumExpAgreesWithTorch) {
  const disa::CounterRng rng(3, 0);
  for (const int n : {1, 7, 1000}) {
    std::vector<double> x(n);
    for (int i = 0; i < n; ++i) x[i] = 300.0 * rng.normal(i);
    if (n > 1) x[0] = -INFINITY;  // a zero weight among finite ones
    const double theirs = torch::logsumexp(as_tensor(x), 0).item<double>();
    EXPECT_NEAR(disa::log_sum_exp(x), theirs, 1e-12 * std::max(1.0, std::fabs(theirs))) << n;
  }
  const std::vector<double> all_neg_inf(4, -INFINITY);
  EXPECT_EQ(disa::log_sum_exp(all_neg_inf), torch::logsumexp(as_tensor(all_neg_inf), 0).item<double>());
}

}  // namespace

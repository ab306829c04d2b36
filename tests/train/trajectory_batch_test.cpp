// Tests the leaf batches (src/train/trajectory_batch.h) against brute-force enumeration
// (tests/util/brute_force.h: paths and probabilities by an independent walk) and against
// the sampler's own record of each trajectory.
//
// Tolerance kRoundOff = 1e-12: a row's log-prob sum has at most T = 4 terms of size
// <= ~10 (error ~1e-14), and sum_y q(y) = 1 sums at most 81 leaf probabilities
// (error ~81 x 2^-53 ~ 1e-14, see tests/util/tree_gen.h's kRoundOff for the bound).
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "src/loss/objective.h"
#include "src/train/trajectory_batch.h"
#include "tests/train/fixed_trees.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "toy_envs/sampler.h"

namespace disa::train {
namespace {

constexpr double kRoundOff = 1e-12;

double row_sum(const std::vector<double>& v, std::size_t i, std::size_t T) {
  return std::accumulate(v.begin() + i * T, v.begin() + (i + 1) * T, 0.0);
}

// One tree with three distinct policies in the three columns.
struct TreeCase {
  test::FixedTree fixed;
  TabularPolicy reference, current, sampling;
  double log_z;
};

std::vector<TreeCase> tree_cases() {
  std::vector<TreeCase> out;
  for (test::FixedTree& f : test::fixed_trees()) {
    const TabularPolicy reference = reference_policy(f.tree);
    const TabularPolicy target = target_policy(f.tree, reference, f.beta);
    const TabularPolicy current = TabularPolicy::from_logits(f.tree.shape, test::random_logits(f.tree.shape, 3));
    const TabularPolicy sampling = mixture_proposal(reference, target, 0.3);
    const double log_z = log_partition(f.tree, f.beta);
    out.push_back({std::move(f), reference, current, sampling, log_z});
  }
  return out;
}

// Row i holds leaf leaf[i]'s path: tokens, nodes, per-token log-probs of each policy,
// mask, reward, log Z; padding is inert.
void expect_rows_match_enumeration(const TreeCase& k, const TrajectoryBatch& batch) {
  const test::Enumeration leaves = test::enumerate_reference(k.fixed.tree);
  const std::size_t T = batch.columns();
  ASSERT_EQ(T, static_cast<std::size_t>(k.fixed.tree.shape.horizon()));
  for (std::size_t i = 0; i < batch.rows(); ++i) {
    SCOPED_TRACE(testing::Message() << "row " << i << ", leaf " << batch.leaf[i]);
    const std::vector<int>& path = leaves.path[static_cast<std::size_t>(batch.leaf[i])];
    EXPECT_EQ(row_sum(batch.data.mask, i, T), static_cast<double>(path.size()));
    std::int64_t s = 0;
    for (std::size_t t = 0; t < T; ++t) {
      const std::size_t at = i * T + t;
      if (t < path.size()) {
        EXPECT_EQ(batch.action[at], path[t]);
        EXPECT_EQ(batch.node[at], s);
        s = k.fixed.tree.shape.child(s, static_cast<int>(t), path[t]).id;
      } else {
        EXPECT_EQ(batch.node[at], kPaddingNode);
        EXPECT_EQ(batch.action[at], kPaddingAction);
      }
    }
    EXPECT_NEAR(row_sum(batch.data.logp, i, T), test::path_log_prob(k.current, path), kRoundOff);
    EXPECT_NEAR(row_sum(batch.data.logp_old, i, T), test::path_log_prob(k.sampling, path), kRoundOff);
    EXPECT_NEAR(row_sum(batch.data.logp_ref, i, T), test::path_log_prob(k.reference, path), kRoundOff);
    EXPECT_NEAR(batch.sampling_log_prob[i], test::path_log_prob(k.sampling, path), kRoundOff);
    EXPECT_EQ(batch.data.reward[i], k.fixed.tree.reward[static_cast<std::size_t>(batch.leaf[i])]);
    EXPECT_EQ(batch.data.log_z[i], k.log_z);
  }
}

TEST(EnumeratedBatch, OneRowPerLeafWithExactProbabilities) {
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    const TrajectoryBatch batch =
        enumerated_batch(k.fixed.tree, {k.current, k.sampling, k.reference}, k.log_z);
    ASSERT_EQ(batch.rows(), static_cast<std::size_t>(k.fixed.tree.shape.num_leaves()));
    for (std::size_t i = 0; i < batch.rows(); ++i) {
      EXPECT_EQ(batch.leaf[i], static_cast<std::int64_t>(i));
      EXPECT_EQ(batch.data.group[i], 0);
    }
    expect_rows_match_enumeration(k, batch);
    double total = 0.0;
    for (double lq : batch.sampling_log_prob) total += std::exp(lq);
    EXPECT_NEAR(total, 1.0, kRoundOff);
    // The heads accept it as it is (mixed lengths with EOS included).
    EXPECT_NO_THROW(loss::compute_loss(loss::make_objective("tb"), batch.data.view()));
  }
}

// A leaf the sampling policy cannot reach has no weight in E_q and is left out.
TEST(EnumeratedBatch, LeavesOutLeavesTheSamplingPolicyCannotReach) {
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    std::vector<double> logits = k.sampling.log_prob;
    logits[0] = -std::numeric_limits<double>::infinity();  // root action 0 has no mass
    const TabularPolicy q = TabularPolicy::from_logits(k.fixed.tree.shape, logits);
    const TrajectoryBatch batch = enumerated_batch(k.fixed.tree, {k.current, q, k.reference}, k.log_z);
    const test::Enumeration leaves = test::enumerate_reference(k.fixed.tree);
    std::size_t reachable = 0;
    for (const auto& path : leaves.path) reachable += path.front() != 0 ? 1 : 0;
    ASSERT_EQ(batch.rows(), reachable);
    double total = 0.0;
    for (std::size_t i = 0; i < batch.rows(); ++i) {
      EXPECT_NE(leaves.path[static_cast<std::size_t>(batch.leaf[i])].front(), 0);
      total += std::exp(batch.sampling_log_prob[i]);
    }
    EXPECT_NEAR(total, 1.0, kRoundOff);
  }
}

TEST(SampledBatch, RowsAreTheSamplesInOrderInGroups) {
  constexpr std::int64_t kSamples = 12, kGroupSize = 4;
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    const SampleBatch samples = AliasSampler(k.sampling).sample(/*seed=*/20261123, kSamples);
    const TrajectoryBatch batch =
        sampled_batch(k.fixed.tree, {k.current, k.sampling, k.reference}, samples, kGroupSize, k.log_z);
    ASSERT_EQ(batch.rows(), static_cast<std::size_t>(kSamples));
    const std::size_t T = batch.columns();
    for (std::size_t i = 0; i < batch.rows(); ++i) {
      EXPECT_EQ(batch.leaf[i], samples.leaf[i]);
      EXPECT_EQ(batch.data.group[i], static_cast<std::int64_t>(i) / kGroupSize);
      // The sampler's own record of the trajectory: its actions and log q(y).
      for (std::int64_t j = samples.offset[i]; j < samples.offset[i + 1]; ++j) {
        EXPECT_EQ(batch.action[i * T + static_cast<std::size_t>(j - samples.offset[i])], samples.action[j]);
      }
      EXPECT_NEAR(batch.sampling_log_prob[i], samples.log_prob[i], kRoundOff);
    }
    expect_rows_match_enumeration(k, batch);
    // One group: G = n.
    const TrajectoryBatch one_group =
        sampled_batch(k.fixed.tree, {k.current, k.sampling, k.reference}, samples, kSamples, k.log_z);
    for (std::int64_t g : one_group.data.group) EXPECT_EQ(g, 0);
  }
}

TEST(TrajectoryBatch, BadInputsNameTheField) {
  const TreeCase k = tree_cases().front();
  const BatchPolicies policies{k.current, k.sampling, k.reference};
  const SampleBatch samples = AliasSampler(k.sampling).sample(1, 6);
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { sampled_batch(k.fixed.tree, policies, samples, 4, k.log_z); }),
      {"group_size", "6", "4"}));
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { sampled_batch(k.fixed.tree, policies, samples, 0, k.log_z); }),
      {"group_size"}));
  const std::vector<std::int64_t> out_of_range{k.fixed.tree.shape.num_leaves()}, group{0};
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { leaf_batch(k.fixed.tree, policies, out_of_range, group, k.log_z); }),
      {"leaves[0]"}));
  const std::vector<std::int64_t> two_leaves{0, 1};
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { leaf_batch(k.fixed.tree, policies, two_leaves, group, k.log_z); }),
      {"groups"}));
  const TreeCase other = tree_cases().back();
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] {
                                   enumerated_batch(k.fixed.tree, {k.current, other.sampling, k.reference}, k.log_z);
                                 }),
                                 {"sampling policy", "shape"}));
}

}  // namespace
}  // namespace disa::train

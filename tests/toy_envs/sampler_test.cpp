// Tests toy_envs/sampler.h (deterministic properties; the goodness-of-fit tests
// are in sampler_gof_test.cpp): batch structure, per-step log-probabilities,
// reproducibility across thread counts and batch splits, zero-mass actions.
//
// Against: the policy's own log_prob table read along each sampled path (walked
// with TreeShape::child), TreeShape::path of the reached leaf, leaf_log_probs,
// and the header's contract that a batch is a pure function of (seed, index).
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/counter_rng.h"
#include "src/log_sum_exp.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/sampler.h"

namespace disa {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// Restores the OpenMP thread count on scope exit.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : old_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ScopedThreads() { omp_set_num_threads(old_); }

 private:
  int old_;
};

bool same_batch(const SampleBatch& a, const SampleBatch& b) {
  return a.offset == b.offset && a.action == b.action && a.step_log_prob == b.step_log_prob &&
         a.leaf == b.leaf && a.log_prob == b.log_prob;
}

// Each trajectory: its actions are the path of its leaf, each step's log-prob is
// the table entry log pi(a_t | s_{t-1}), and log_prob is their sum, which is
// log pi(y) from leaf_log_probs. Tolerances: the sum of <= 5 terms of magnitude
// <= 10 rounds by <= 5 eps per term (5 * 10 * 5 eps ~ 5.6e-14 -> 1e-13); the
// exact leaf distribution is computed in another order (forward pass).
RC_GTEST_PROP(Sampler, TrajectoriesAreConsistentWithThePolicy, ()) {
  const TreeShape shape = *test::gen_shape();
  const TabularPolicy policy = *test::gen_policy_on(shape);
  const AliasSampler sampler(policy);
  const std::int64_t n = *rc::gen::inRange<std::int64_t>(0, 300);
  const std::uint64_t seed = *rc::gen::arbitrary<std::uint64_t>();
  const SampleBatch batch = sampler.sample(seed, n);
  RC_ASSERT(batch.size() == n);
  RC_ASSERT(batch.offset.size() == static_cast<std::size_t>(n + 1));
  RC_ASSERT(batch.offset[0] == 0);
  RC_ASSERT(batch.action.size() == static_cast<std::size_t>(batch.offset[n]));
  RC_ASSERT(batch.step_log_prob.size() == batch.action.size());
  const std::vector<double> leaf_lp = leaf_log_probs(policy);
  const int V = shape.vocab();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t begin = batch.offset[i], end = batch.offset[i + 1];
    RC_ASSERT(end > begin);
    RC_ASSERT(end - begin <= shape.horizon());
    const std::vector<int> actions(batch.action.begin() + begin, batch.action.begin() + end);
    RC_ASSERT(batch.leaf[i] >= 0 && batch.leaf[i] < shape.num_leaves());
    RC_ASSERT(actions == shape.path(batch.leaf[i]));
    std::int64_t node = 0;
    double total = 0.0, magnitude = 0.0;
    for (std::int64_t t = begin; t < end; ++t) {
      const double lp = policy.log_prob[node * V + batch.action[t]];
      RC_ASSERT(batch.step_log_prob[t] == lp);
      total += lp;
      magnitude += std::fabs(lp);
      node = shape.child(node, static_cast<int>(t - begin), batch.action[t]).id;
    }
    RC_ASSERT(std::fabs(batch.log_prob[i] - total) <= 5 * kEps * (1.0 + magnitude));
    RC_ASSERT(std::fabs(batch.log_prob[i] - leaf_lp[batch.leaf[i]]) <= 1e-13 * (1.0 + magnitude));
  }
}

// A batch is a pure function of (seed, trajectory index): the same for 1, 2 or
// 3 OpenMP threads, and for any split into sub-batches.
RC_GTEST_PROP(Sampler, BatchesDoNotDependOnThreadsOrSplits, ()) {
  const TreeShape shape = *test::gen_shape();
  const AliasSampler sampler(*test::gen_policy_on(shape));
  const std::uint64_t seed = *rc::gen::arbitrary<std::uint64_t>();
  const std::int64_t n = *rc::gen::inRange<std::int64_t>(1, 500);
  const std::int64_t k = *rc::gen::inRange<std::int64_t>(0, n + 1);
  SampleBatch one, two, three;
  {
    const ScopedThreads threads(1);
    one = sampler.sample(seed, n);
  }
  {
    const ScopedThreads threads(2);
    two = sampler.sample(seed, n);
  }
  {
    const ScopedThreads threads(3);
    three = sampler.sample(seed, n);
  }
  RC_ASSERT(same_batch(one, two));
  RC_ASSERT(same_batch(one, three));
  const SampleBatch head = sampler.sample(seed, k), tail = sampler.sample(seed, n - k, k);
  SampleBatch joined = head;
  for (std::int64_t i = 0; i < tail.size(); ++i) joined.offset.push_back(head.offset.back() + tail.offset[i + 1]);
  joined.action.insert(joined.action.end(), tail.action.begin(), tail.action.end());
  joined.step_log_prob.insert(joined.step_log_prob.end(), tail.step_log_prob.begin(), tail.step_log_prob.end());
  joined.leaf.insert(joined.leaf.end(), tail.leaf.begin(), tail.leaf.end());
  joined.log_prob.insert(joined.log_prob.end(), tail.log_prob.begin(), tail.log_prob.end());
  RC_ASSERT(same_batch(one, joined));
  // Same seed again: identical; the sampler keeps no state.
  RC_ASSERT(same_batch(one, sampler.sample(seed, n)));
}

TEST(Sampler, DifferentSeedsGiveDifferentBatches) {
  const TreeShape shape = TreeShape::make(4, 5);  // 1024 leaves, uniform policy
  const AliasSampler sampler(TabularPolicy::from_logits(shape, std::vector<double>(341 * 4, 0.0)));
  // 1000 uniform draws from 1024 leaves: equal leaf sequences for two seeds
  // would happen with probability 1024^-1000.
  EXPECT_NE(sampler.sample(1, 1000).leaf, sampler.sample(2, 1000).leaf);
  // Trajectory i uses stream i: shifting the first index shifts the batch.
  const SampleBatch a = sampler.sample(7, 10), b = sampler.sample(7, 9, 1);
  EXPECT_EQ(std::vector<std::int64_t>(a.leaf.begin() + 1, a.leaf.end()), b.leaf);
}

// Trajectory i reads trajectory_rng(seed, i): on a uniform V = 4 policy every alias column
// keeps its own action (V p = 1 exactly), so step t's action is floor(4 u), u the first
// uniform of that stream's pair t.
TEST(Sampler, TrajectoryIReadsTrajectoryRngOfI) {
  const TreeShape shape = TreeShape::make(4, 3);
  const AliasSampler sampler(TabularPolicy::from_logits(shape, std::vector<double>(21 * 4, 0.0)));
  for (const std::uint64_t seed : {1ull, 2ull, 12345ull}) {
    const SampleBatch batch = sampler.sample(seed, 64);
    for (std::int64_t i = 0; i < batch.size(); ++i) {
      const CounterRng rng = trajectory_rng(seed, static_cast<std::uint64_t>(i));
      for (std::int64_t t = 0; t < 3; ++t) {
        const int expected = static_cast<int>(4.0 * rng.uniform_pair(static_cast<std::uint64_t>(t))[0]);
        ASSERT_EQ(batch.action[batch.offset[i] + t], expected) << "seed " << seed << " trajectory " << i;
      }
    }
  }
}

// The families draw logits and rewards from CounterRng(seed, stream) (random: streams 1 and
// 2; strategies 3 + k; multi_prompt 16 p + 1, 16 p + 2), and a tree is often sampled with
// its own seed: the trajectories' streams must share no uniform with any of those. 32768
// family uniforms against 8192 trajectory uniforms on a 2^53 grid: an accidental equality
// has probability ~3e-8; before the sampler had its own key, trajectory s read stream s.
TEST(Sampler, TrajectoryStreamsShareNoUniformWithTheFamilies) {
  for (const std::uint64_t seed : {1ull, 2ull, 12345ull}) {
    std::set<double> family;
    for (std::uint64_t stream = 0; stream < 256; ++stream) {
      for (std::uint64_t k = 0; k < 64; ++k) {
        const auto pair = CounterRng(seed, stream).uniform_pair(k);
        family.insert(pair[0]);
        family.insert(pair[1]);
      }
    }
    for (std::uint64_t i = 0; i < 256; ++i) {
      const CounterRng rng = trajectory_rng(seed, i);
      for (std::uint64_t t = 0; t < 16; ++t) {
        const auto pair = rng.uniform_pair(t);
        EXPECT_EQ(family.count(pair[0]) + family.count(pair[1]), 0u) << "seed " << seed << " trajectory " << i;
      }
    }
  }
}

TEST(Sampler, EmptyBatch) {
  const AliasSampler sampler(TabularPolicy::from_logits(TreeShape::make(2, 2), std::vector<double>(6, 0.0)));
  const SampleBatch batch = sampler.sample(3, 0);
  EXPECT_EQ(batch.size(), 0);
  EXPECT_EQ(batch.offset, std::vector<std::int64_t>{0});
  EXPECT_TRUE(batch.action.empty());
}

// Actions with logit -inf have zero mass and are never sampled, including rows
// where only one action has mass, and rows where the zero-mass actions sit at
// either end (they end up in the alias table's leftovers). 40000 trajectories of
// 4 steps visit every node (at most 27 per level) thousands of times.
TEST(Sampler, ZeroMassActionsAreNeverSampled) {
  const TreeShape shape = TreeShape::make(4, 4, 3);  // 40 internal nodes, EOS = 3
  const int V = 4;
  std::vector<double> logits(static_cast<std::size_t>(shape.num_internal() * V));
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    for (int a = 0; a < V; ++a) logits[s * V + a] = 0.3 * static_cast<double>((s + a) % 5);
    switch (s % 4) {
      case 0: logits[s * V + 0] = kNegInf; break;
      case 1: logits[s * V + 3] = kNegInf; break;  // never EOS here
      case 2: logits[s * V + 0] = logits[s * V + 1] = logits[s * V + 3] = kNegInf; break;  // only action 2
      default: logits[s * V + 1] = logits[s * V + 2] = kNegInf; break;
    }
  }
  const TabularPolicy policy = TabularPolicy::from_logits(shape, logits);
  const AliasSampler sampler(policy);
  const SampleBatch batch = sampler.sample(99, 40000);
  std::vector<std::int64_t> visits(static_cast<std::size_t>(shape.num_internal()), 0);
  for (std::int64_t i = 0; i < batch.size(); ++i) {
    std::int64_t node = 0;
    for (std::int64_t t = batch.offset[i]; t < batch.offset[i + 1]; ++t) {
      ++visits[node];
      const int a = batch.action[t];
      ASSERT_NE(logits[node * V + a], kNegInf) << "node " << node << " action " << a;
      ASSERT_TRUE(std::isfinite(batch.step_log_prob[t]));
      node = shape.child(node, static_cast<int>(t - batch.offset[i]), a).id;
    }
    ASSERT_TRUE(std::isfinite(batch.log_prob[i]));
  }
  // Nodes reached with positive probability were visited, so the check above covered them.
  const std::vector<double> reach = log_mass(policy).node;
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    if (std::exp(reach[s]) > 1e-2) {
      EXPECT_GT(visits[s], 0) << "node " << s;
    }
  }
}

}  // namespace
}  // namespace disa

// Tests toy_envs/tree.h: Tree::zeros, TabularPolicy::from_logits (log-softmax per
// node, input validation), num_strategies, and the memory check.
//
// Against: a plain softmax per row computed here (tests/util/brute_force.h), the
// byte count of the arrays a tree and a policy actually hold (a lower bound for
// bytes_required), and the documented refusals (message naming the node and its
// prefix; "GiB" and the leaf count for trees that do not fit).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/input_error.h"
#include "src/log_sum_exp.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/scoped_env.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/tree.h"

namespace disa {
namespace {

using test::contains_all;
using test::input_error_message;
using test::ScopedEnv;

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Tree, ZerosHasTheDocumentedSizesAndDefaults) {
  const TreeShape s = TreeShape::make(3, 4, 1);  // 15 internal nodes, 31 leaves
  const Tree t = Tree::zeros(s);
  EXPECT_EQ(t.shape, s);
  EXPECT_EQ(t.logits.size(), 15u * 3u);
  EXPECT_EQ(t.reward.size(), 31u);
  EXPECT_EQ(t.strategy.size(), 31u);
  for (double x : t.logits) EXPECT_EQ(x, 0.0);
  for (double r : t.reward) EXPECT_EQ(r, 0.0);
  for (std::int32_t k : t.strategy) EXPECT_EQ(k, kNoStrategy);
  EXPECT_EQ(t.num_strategies(), 0);
}

TEST(Tree, NumStrategiesIsOnePlusTheLargestLabel) {
  Tree t = Tree::zeros(TreeShape::make(2, 3));  // 8 leaves
  t.strategy[3] = 2;
  t.strategy[5] = 0;
  EXPECT_EQ(t.num_strategies(), 3);
}

// exp(log_prob) equals a plain softmax of the logits. Tolerance: |logit| <= 4 and
// V <= 5 give |log p| <= 8 + log 5 < 10, so log p carries an absolute rounding
// error of a few eps * 10, i.e. a relative error < 32 eps in p (p <= 1).
RC_GTEST_PROP(Tree, FromLogitsIsASoftmaxPerNode, ()) {
  const Tree tree = *test::gen_tree();
  const TabularPolicy p = reference_policy(tree);
  const int V = tree.shape.vocab();
  RC_ASSERT(p.shape == tree.shape);
  RC_ASSERT(p.log_prob.size() == tree.logits.size());
  for (std::int64_t s = 0; s < tree.shape.num_internal(); ++s) {
    const std::vector<double> expected = test::softmax_row(tree.node_logits(s));
    double total = 0.0;
    for (int a = 0; a < V; ++a) {
      const double got = std::exp(p.node(s)[a]);
      RC_ASSERT(std::fabs(got - expected[a]) <= 32 * kEps);
      total += got;
    }
    RC_ASSERT(std::fabs(total - 1.0) <= 32 * kEps);
  }
}

// Adding a constant to a node's logits does not change its distribution.
// Tolerance: the shift c <= 100 adds |c| eps of absolute rounding to log p.
RC_GTEST_PROP(Tree, FromLogitsIsShiftInvariant, ()) {
  const Tree tree = *test::gen_tree();
  const double c = *rc::gen::inRange(-100000, 100001) * 1e-3;
  std::vector<double> shifted = tree.logits;
  for (double& x : shifted) x += c;
  const TabularPolicy p = reference_policy(tree);
  const TabularPolicy q = TabularPolicy::from_logits(tree.shape, shifted);
  for (std::size_t i = 0; i < p.log_prob.size(); ++i) {
    RC_ASSERT(std::fabs(p.log_prob[i] - q.log_prob[i]) <= 4 * kEps * (std::fabs(c) + 10.0));
  }
}

// A common offset of 1e8 or 1e15 in a row changes nothing: the max is subtracted before
// log(sum) is added, so log(sum) is not rounded to the ulp of the offset (1.5e-8 at 1e8,
// 0.125 at 1e15). The differences to the max are exact here, so the rows equal the
// unshifted ones bit for bit.
TEST(Tree, FromLogitsIsExactUnderALargeCommonOffset) {
  const TreeShape shape = TreeShape::make(3, 1);
  const TabularPolicy plain = TabularPolicy::from_logits(shape, std::vector<double>{0.0, 1.0, -2.0});
  for (double offset : {1e8, 1e15}) {
    const TabularPolicy shifted =
        TabularPolicy::from_logits(shape, std::vector<double>{offset, offset + 1.0, offset - 2.0});
    EXPECT_EQ(shifted.log_prob, plain.log_prob) << "offset " << offset;
    const TabularPolicy flat =
        TabularPolicy::from_logits(TreeShape::make(2, 1), std::vector<double>{offset, offset});
    EXPECT_EQ(flat.log_prob[0], -std::log(2.0)) << "offset " << offset;
    EXPECT_EQ(flat.log_prob[1], -std::log(2.0)) << "offset " << offset;
  }
}

TEST(Tree, FromLogitsAllowsMinusInfinityButNeedsOneFiniteLogit) {
  const TreeShape s = TreeShape::make(3, 2);  // 4 internal nodes
  std::vector<double> logits(12, 0.0);
  logits[3 * 1 + 2] = kNegInf;  // node 1 never takes action 2
  const TabularPolicy p = TabularPolicy::from_logits(s, logits);
  EXPECT_EQ(p.node(1)[2], kNegInf);
  EXPECT_NEAR(p.node(1)[0], std::log(0.5), 4 * kEps);  // two equal logits left: 1/2 each
  EXPECT_NEAR(p.node(1)[1], std::log(0.5), 4 * kEps);
}

TEST(Tree, FromLogitsRejectsBadRowsNamingTheNodeAndPrefix) {
  // V = 3, T = 3, no EOS: nodes 0 (root), 1..3 (depth 1), 4..12 (depth 2). Node 5
  // is the second node of depth 2: prefix [0,1]. Node 12 is the last: [2,2].
  const TreeShape s = TreeShape::make(3, 3);
  for (double bad : {kNaN, kPosInf}) {
    std::vector<double> logits(13 * 3, 0.0);
    logits[5 * 3 + 1] = bad;
    logits[12 * 3 + 0] = bad;  // a later bad node: the first one is named
    EXPECT_TRUE(contains_all(input_error_message([&] { TabularPolicy::from_logits(s, logits); }),
                             {"logits", "node 5", "[0,1]"}));
  }
  std::vector<double> logits(13 * 3, 0.0);
  logits[12 * 3 + 0] = logits[12 * 3 + 1] = logits[12 * 3 + 2] = kNegInf;
  EXPECT_TRUE(contains_all(input_error_message([&] { TabularPolicy::from_logits(s, logits); }),
                           {"logits", "node 12", "[2,2]", "-inf"}));
  // Wrong length: 13 nodes x 3 = 39 values expected.
  EXPECT_TRUE(contains_all(
      input_error_message([&] { TabularPolicy::from_logits(s, std::vector<double>(38, 0.0)); }),
      {"logits", "39", "38"}));
}

// bytes_required covers at least what a tree and one policy hold: per internal
// node V logits and V log-probs (8 bytes each), per leaf a reward (8) and a
// strategy label (4).
RC_GTEST_PROP(Tree, BytesRequiredCoversTheArrays, ()) {
  const TreeShape s = *test::gen_shape();
  const std::int64_t held = s.num_internal() * s.vocab() * 16 + s.num_leaves() * 12;
  RC_ASSERT(bytes_required(s) >= held);
}

TEST(Tree, MemoryBudgetBoundaryIsExact) {
  const TreeShape s = TreeShape::make(3, 8);  // 3^8 = 6561 leaves
  const std::int64_t need = bytes_required(s);
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", std::to_string(need).c_str());
    EXPECT_EQ(tree_memory_budget(), need);
    EXPECT_NO_THROW(check_fits_in_memory(s));
    EXPECT_EQ(Tree::zeros(s).reward.size(), 6561u);
  }
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", std::to_string(need - 1).c_str());
    const std::string msg = input_error_message([&] { Tree::zeros(s); });
    // 551060 bytes: in KiB (was "0.00 GiB, more than the 0.00 GiB budget").
    EXPECT_TRUE(
        contains_all(msg, {"need 538.1 KiB, more than the 538.1 KiB budget", "6561 leaves", "vocab=3 horizon=8"}));
  }
}

TEST(Tree, ATreeSetIsBudgetedAsAWhole) {
  // 200 trees of 3^5 leaves: each fits alone, the set is 200 times one tree's storage.
  const TreeShape s = TreeShape::make(3, 5);
  const std::int64_t stored = s.num_internal() * s.vocab() * 8 + s.num_leaves() * 12;
  const std::int64_t need = 200 * stored + bytes_required(s);
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", std::to_string(need).c_str());
    EXPECT_NO_THROW(check_set_fits_in_memory(s, 200));
  }
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", std::to_string(need - 1).c_str());
    EXPECT_NO_THROW(check_fits_in_memory(s));  // one tree is far below it
    EXPECT_TRUE(contains_all(input_error_message([&] { check_set_fits_in_memory(s, 200); }),
                             {"tree set: 200 trees", "243 leaves each", "need 1.1 MiB, more than the 1.1 MiB budget"}));
  }
}

TEST(Tree, HugeTreeIsRefusedBeforeAllocating) {
  // 2^50 leaves would need petabytes: refused by the check, not by a bad_alloc
  // (or the OOM killer), both under the default budget and a set one.
  const TreeShape s = TreeShape::make(2, 50);
  const std::string leaves = fmt::format("{} leaves", std::int64_t{1} << 50);
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", nullptr);
    EXPECT_TRUE(contains_all(input_error_message([&] { Tree::zeros(s); }), {"GiB", leaves}));
  }
  {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", "1000000");
    EXPECT_TRUE(
        contains_all(input_error_message([&] { Tree::zeros(s); }), {"GiB, more than the 976.6 KiB budget", leaves}));
  }
}

TEST(Tree, BadMemoryBudgetIsRejectedNamingTheVariable) {
  for (const char* bad : {"abc", "0", "-5", "12x", ""}) {
    const ScopedEnv env("DISA_MAX_TREE_BYTES", bad);
    EXPECT_TRUE(contains_all(input_error_message([] { tree_memory_budget(); }), {"DISA_MAX_TREE_BYTES"}))
        << "value '" << bad << "'";
  }
}

}  // namespace
}  // namespace disa

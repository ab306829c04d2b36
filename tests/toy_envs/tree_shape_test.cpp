// Tests toy_envs/tree_shape.h: node and leaf counts, the level-order id layout,
// prefix/path <-> id maps, and input validation.
//
// Against: hand-derived counts (comments give the derivation), closed-form
// counts sum_{d<T} B^d and B^T computed here with integer loops, and the
// brute-force walk of tests/util/brute_force.h, which reaches every node and leaf
// through TreeShape::child only and records the actions taken.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/input_error.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/tree_shape.h"

namespace disa {
namespace {

using test::contains_all;
using test::input_error_message;

// The tree generators reach their documented ranges from the first case: 400 draws at
// RapidCheck's sizes 0 (its first case) and 10, where a size-scaled inRange gave vocab 2,
// horizon 1, logits -4 and beta 0.001. Each vocab in [2, 5] must appear (missed with
// probability (3/4)^400 ~ 1e-50), horizon 5 (probability >= 3/4 * 1/5 per draw: (0.85)^400
// ~ 1e-28), logits beyond +-3 on both sides (1/8 each: (7/8)^400 ~ 6e-24), beta above 5
// (1/2) and graded rewards strictly inside (0, 1). The seed is fixed.
TEST(TreeGen, CoversItsRangesAtEverySize) {
  for (const int size : {0, 10}) {
    std::vector<int> vocab(6, 0);
    int horizon5 = 0, logit_high = 0, logit_low = 0, beta_high = 0, graded = 0;
    rc::Random random(20261123u + static_cast<std::uint64_t>(size));
    for (int d = 0; d < 400; ++d) {
      const TreeShape s = test::gen_shape()(random.split(), size).value();
      ++vocab[static_cast<std::size_t>(s.vocab())];
      horizon5 += s.horizon() == 5;
      const double logit = test::gen_logit()(random.split(), size).value();
      logit_high += logit > 3.0;
      logit_low += logit < -3.0;
      beta_high += test::gen_beta()(random.split(), size).value() > 5.0;
      const double r = test::gen_reward(test::RewardKind::kGraded)(random.split(), size).value();
      graded += r > 0.0 && r < 1.0;
    }
    for (int v = 2; v <= 5; ++v) EXPECT_GT(vocab[static_cast<std::size_t>(v)], 0) << "size " << size << ": vocab " << v;
    EXPECT_GT(horizon5, 0) << "size " << size;
    EXPECT_GT(logit_high, 0) << "size " << size;
    EXPECT_GT(logit_low, 0) << "size " << size;
    EXPECT_GT(beta_high, 0) << "size " << size;
    EXPECT_GT(graded, 0) << "size " << size;
  }
}

TEST(TreeShape, CountsWithoutEos) {
  // V = 3, T = 4, no EOS: B = V = 3. Leaves are the 3^4 = 81 full-length paths;
  // internal nodes are the prefixes of length 0..3: 1 + 3 + 9 + 27 = 40.
  const TreeShape s = TreeShape::make(3, 4);
  EXPECT_EQ(s.branching(), 3);
  EXPECT_FALSE(s.has_eos());
  EXPECT_EQ(s.num_leaves(), 81);
  EXPECT_EQ(s.num_horizon_leaves(), 81);
  EXPECT_EQ(s.num_internal(), 40);
  EXPECT_EQ(s.horizon_leaf_offset(), 0);
  // Level offsets: cumulative level sizes 1, 3, 9, 27.
  EXPECT_EQ(s.level_offset(0), 0);
  EXPECT_EQ(s.level_offset(1), 1);
  EXPECT_EQ(s.level_offset(2), 4);
  EXPECT_EQ(s.level_offset(3), 13);
  EXPECT_EQ(s.level_offset(4), 40);
  EXPECT_EQ(s.level_size(3), 27);
}

TEST(TreeShape, CountsWithEos) {
  // V = 3, T = 4, EOS = 2: B = V - 1 = 2 non-terminating actions. Internal nodes:
  // prefixes of non-EOS actions of length 0..3: 1 + 2 + 4 + 8 = 15. Leaves: one
  // EOS leaf under each internal node (15) plus 2^4 = 16 full-length paths = 31.
  const TreeShape s = TreeShape::make(3, 4, 2);
  EXPECT_EQ(s.branching(), 2);
  EXPECT_TRUE(s.has_eos());
  EXPECT_EQ(s.num_internal(), 15);
  EXPECT_EQ(s.num_horizon_leaves(), 16);
  EXPECT_EQ(s.num_leaves(), 31);
  EXPECT_EQ(s.horizon_leaf_offset(), 15);

  // V = 2 with EOS: B = 1, a chain of T internal nodes, each with an EOS leaf,
  // plus the one full-length path: T + 1 leaves.
  const TreeShape chain = TreeShape::make(2, 5, 0);
  EXPECT_EQ(chain.num_internal(), 5);
  EXPECT_EQ(chain.num_leaves(), 6);

  // T = 1: only the root; V leaves either way (with EOS: 1 EOS leaf + (V-1)).
  EXPECT_EQ(TreeShape::make(5, 1).num_leaves(), 5);
  EXPECT_EQ(TreeShape::make(5, 1, 3).num_leaves(), 5);
  EXPECT_EQ(TreeShape::make(5, 1, 3).num_internal(), 1);
}

TEST(TreeShape, HugeShapesAreCountedExactlyWithoutAllocating) {
  // V = 2, T = 60, no EOS: 2^60 leaves and 2^60 - 1 internal nodes (fits in 63 bits).
  const TreeShape s = TreeShape::make(2, 60);
  EXPECT_EQ(s.num_leaves(), std::int64_t{1} << 60);
  EXPECT_EQ(s.num_internal(), (std::int64_t{1} << 60) - 1);
}

TEST(TreeShape, Describe) {
  EXPECT_EQ(TreeShape::make(3, 4, 2).describe(), "vocab=3 horizon=4 eos=2");
  EXPECT_EQ(TreeShape::make(3, 4).describe(), "vocab=3 horizon=4 eos=none");
}

TEST(TreeShape, MakeRejectsBadFieldsNamingThem) {
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(1, 4); }), {"vocab"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(0, 4); }), {"vocab"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(-3, 4); }), {"vocab"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(3, 0); }), {"horizon"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(3, -1); }), {"horizon"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(3, 4, 3); }), {"eos"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(3, 4, -2); }), {"eos"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(3, 4, 99); }), {"eos"}));
  // The message starts with the field name.
  EXPECT_EQ(input_error_message([] { TreeShape::make(1, 4); }).rfind("vocab:", 0), 0u);
  EXPECT_EQ(input_error_message([] { TreeShape::make(3, 0); }).rfind("horizon:", 0), 0u);
  EXPECT_EQ(input_error_message([] { TreeShape::make(3, 4, 7); }).rfind("eos:", 0), 0u);
  // The valid extremes are accepted.
  EXPECT_NO_THROW(TreeShape::make(2, 1));
  EXPECT_NO_THROW(TreeShape::make(3, 4, 0));
  EXPECT_NO_THROW(TreeShape::make(3, 4, 2));
  EXPECT_NO_THROW(TreeShape::make(3, 4, kNoEos));
}

TEST(TreeShape, OverflowIsRefusedNamingHorizon) {
  // 1000^100 = 10^300 leaves: far beyond 63 bits.
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(1000, 100); }), {"horizon"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(1000, 100, 999); }), {"horizon"}));
  // 2^64 leaves.
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(2, 64); }), {"horizon"}));
  EXPECT_TRUE(contains_all(input_error_message([] { TreeShape::make(16, 4096); }), {"horizon"}));
}

// Closed-form counts: internal = sum_{d<T} B^d, horizon leaves = B^T, leaves =
// horizon leaves (+ one EOS leaf per internal node with EOS).
RC_GTEST_PROP(TreeShape, CountsMatchClosedForm, ()) {
  const int V = *rc::gen::inRange(2, 9);
  const int T = *rc::gen::inRange(1, 9);
  const bool has_eos = *rc::gen::arbitrary<bool>();
  const int eos = has_eos ? *rc::gen::inRange(0, V) : kNoEos;
  const TreeShape s = TreeShape::make(V, T, eos);
  const std::int64_t B = has_eos ? V - 1 : V;
  std::int64_t internal = 0, width = 1;
  for (int d = 0; d < T; ++d) {
    RC_ASSERT(s.level_offset(d) == internal);
    RC_ASSERT(s.level_size(d) == width);
    internal += width;
    width *= B;
  }
  RC_ASSERT(s.branching() == B);
  RC_ASSERT(s.num_internal() == internal);
  RC_ASSERT(s.num_horizon_leaves() == width);
  RC_ASSERT(s.num_leaves() == width + (has_eos ? internal : 0));
}

// The walk through TreeShape::child reaches every internal id and every leaf id
// exactly once, and the maps prefix/path/node_from_prefix/leaf_from_path/depth_of
// agree with the actions the walk took.
RC_GTEST_PROP(TreeShape, IdsAndPathsRoundTrip, ()) {
  const TreeShape s = *test::gen_shape(2, 5, 5, 4000);
  const test::Enumeration walk = test::enumerate(
      s, std::vector<double>(static_cast<std::size_t>(s.num_internal() * s.vocab()), 0.0));
  for (std::int64_t y = 0; y < s.num_leaves(); ++y) {
    RC_ASSERT(walk.visits[y] == 1);
    const std::vector<int> path = s.path(y);
    RC_ASSERT(path == walk.path[y]);
    std::string why;
    const auto back = s.leaf_from_path(path, &why);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == y);
    // Layout: EOS leaves (ids < horizon_leaf_offset) end in EOS under node y;
    // horizon leaves have full length.
    if (y < s.horizon_leaf_offset()) {
      RC_ASSERT(path.back() == s.eos());
      std::vector<int> prefix = s.prefix(y);
      prefix.push_back(s.eos());
      RC_ASSERT(prefix == path);
    } else {
      RC_ASSERT(static_cast<int>(path.size()) == s.horizon());
      RC_ASSERT(std::find(path.begin(), path.end(), s.eos()) == path.end() || !s.has_eos());
    }
  }
  for (std::int64_t node = 0; node < s.num_internal(); ++node) {
    RC_ASSERT(walk.node_visits[node] == 1);
    const std::vector<int> prefix = s.prefix(node);
    RC_ASSERT(static_cast<int>(prefix.size()) == s.depth_of(node));
    RC_ASSERT(s.level_offset(s.depth_of(node)) <= node);
    RC_ASSERT(node < s.level_offset(s.depth_of(node) + 1));
    std::string why;
    const auto back = s.node_from_prefix(prefix, &why);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == node);
    // Level order: within a level, ids increase with the prefix read as a word.
    if (node + 1 < s.num_internal() && s.depth_of(node + 1) == s.depth_of(node)) {
      RC_ASSERT(std::lexicographical_compare(prefix.begin(), prefix.end(), s.prefix(node + 1).begin(),
                                             s.prefix(node + 1).end()));
    }
    // Every child's prefix extends this prefix by its action.
    for (int a = 0; a < s.vocab(); ++a) {
      const TreeShape::Child c = s.child(node, s.depth_of(node), a);
      std::vector<int> extended = prefix;
      extended.push_back(a);
      if (c.is_leaf) {
        RC_ASSERT(s.path(c.id) == extended);
      } else {
        RC_ASSERT(s.prefix(c.id) == extended);
      }
    }
  }
  // Horizon leaves are in level order too.
  for (std::int64_t y = s.horizon_leaf_offset(); y + 1 < s.num_leaves(); ++y) {
    const auto p = s.path(y), q = s.path(y + 1);
    RC_ASSERT(std::lexicographical_compare(p.begin(), p.end(), q.begin(), q.end()));
  }
}

RC_GTEST_PROP(TreeShape, InvalidPrefixesAndPathsAreRejectedWithAReason, ()) {
  const TreeShape s = *test::gen_shape(2, 5, 5, 4000);
  const int V = s.vocab(), T = s.horizon();
  const auto rejected_node = [&](const std::vector<int>& prefix, const char* reason) {
    std::string why;
    const bool rejected = !s.node_from_prefix(prefix, &why).has_value();
    RC_ASSERT(!s.node_from_prefix(prefix, nullptr).has_value());  // why may be null
    return rejected && why.find(reason) != std::string::npos;
  };
  const auto rejected_leaf = [&](const std::vector<int>& path, const char* reason) {
    std::string why;
    const bool rejected = !s.leaf_from_path(path, &why).has_value();
    RC_ASSERT(!s.leaf_from_path(path, nullptr).has_value());
    return rejected && why.find(reason) != std::string::npos;
  };
  const int plain = s.eos() == 0 ? 1 : 0;  // a non-EOS action
  // Too long to be an internal node.
  RC_ASSERT(rejected_node(std::vector<int>(T, plain), "horizon"));
  // Actions outside [0, V).
  if (T >= 2) RC_ASSERT(rejected_node({V}, "outside"));
  RC_ASSERT(rejected_leaf({-1}, "outside"));
  RC_ASSERT(rejected_leaf(std::vector<int>(T, V), "outside"));
  // Empty leaf path.
  RC_ASSERT(rejected_leaf({}, "at least one action"));
  // Longer than the horizon.
  RC_ASSERT(rejected_leaf(std::vector<int>(T + 1, plain), "horizon"));
  if (s.has_eos()) {
    // EOS inside a prefix ends the trajectory: not an internal node.
    if (T >= 2) {
      RC_ASSERT(rejected_node({s.eos()}, "EOS"));
      RC_ASSERT(rejected_leaf({s.eos(), plain}, "EOS"));
    }
  }
  if (T >= 2) {
    // A path that stops early without EOS ends at an internal node.
    RC_ASSERT(rejected_leaf({plain}, "internal node"));
  }
}

}  // namespace
}  // namespace disa

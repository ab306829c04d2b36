// Tests toy_envs/families/: the registry, parameter validation, the random,
// strategies and multi_prompt families, the shared helpers, and the memory
// refusal of make_trees.
//
// Against: the families' documented contracts, checked with brute-force
// enumeration of the reference distribution (tests/util/brute_force.h): root
// masses as given, labels = first action, correct mass per strategy (or prompt)
// at most the requested accuracy and short of it by less than one unchosen
// leaf's mass (the greedy construction's guarantee), determinism in the seed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/input_error.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/scoped_env.h"
#include "toy_envs/families/family.h"

namespace disa {
namespace {

using test::contains_all;
using test::input_error_message;

bool same_tree(const Tree& a, const Tree& b) {
  return a.shape == b.shape && a.logits == b.logits && a.reward == b.reward && a.strategy == b.strategy;
}

TEST(Families, RegistryListsTheFamilies) {
  std::set<std::string> names;
  for (const Family& f : registered_families()) {
    names.insert(f.name);
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_TRUE(static_cast<bool>(f.make)) << f.name;
    for (const FamilyParam& p : f.params) EXPECT_FALSE(p.help.empty()) << f.name << " " << p.name;
    EXPECT_EQ(&find_family(f.name), &f);
  }
  EXPECT_TRUE(names.contains("random"));
  EXPECT_TRUE(names.contains("strategies"));
  EXPECT_TRUE(names.contains("multi_prompt"));
}

TEST(Families, DefaultsBuildTheDocumentedShapes) {
  // random: vocab 3, horizon 4, no EOS: 81 leaves.
  const std::vector<Tree> random = make_trees("random", {}, 1);
  ASSERT_EQ(random.size(), 1u);
  EXPECT_EQ(random[0].shape, TreeShape::make(3, 4));
  // strategies: 4 masses -> vocab 4, horizon 4.
  const std::vector<Tree> strategies = make_trees("strategies", {}, 1);
  ASSERT_EQ(strategies.size(), 1u);
  EXPECT_EQ(strategies[0].shape, TreeShape::make(4, 4));
  // multi_prompt: 8 prompts of vocab 3, horizon 4.
  const std::vector<Tree> prompts = make_trees("multi_prompt", {}, 1);
  ASSERT_EQ(prompts.size(), 8u);
  for (const Tree& t : prompts) EXPECT_EQ(t.shape, TreeShape::make(3, 4));
}

TEST(Families, UnknownFamilyAndKeysAreRejectedNamingThem) {
  EXPECT_TRUE(contains_all(input_error_message([] { make_trees("no_such_family", {}, 1); }),
                           {"no_such_family", "random", "strategies", "multi_prompt"}));
  EXPECT_TRUE(contains_all(input_error_message([] { make_trees("random", {{"vocabulary", "3"}}, 1); }),
                           {"vocabulary", "random", "vocab"}));
  EXPECT_TRUE(contains_all(input_error_message([] { make_trees("strategies", {{"eos", "true"}}, 1); }),
                           {"eos", "strategies"}));
}

TEST(Families, BadValuesAreRejectedNamingTheKey) {
  const auto error = [](const char* family, const char* key, const char* value) {
    return input_error_message([&] { make_trees(family, {{key, value}}, 1); });
  };
  EXPECT_TRUE(contains_all(error("random", "vocab", "abc"), {"--set vocab=abc", "integer"}));
  EXPECT_TRUE(contains_all(error("random", "vocab", "1"), {"--set vocab=1"}));
  EXPECT_TRUE(contains_all(error("random", "horizon", "0"), {"--set horizon=0"}));
  EXPECT_TRUE(contains_all(error("random", "eos", "maybe"), {"--set eos=maybe"}));
  EXPECT_TRUE(contains_all(error("random", "reward", "sparse"), {"--set reward=sparse", "binary", "graded"}));
  EXPECT_TRUE(contains_all(error("random", "temperature", "nan"), {"--set temperature=nan"}));
  EXPECT_TRUE(contains_all(error("random", "correct_fraction", "1.5"), {"--set correct_fraction=1.5"}));
  // A binary-reward parameter with graded rewards was ignored without a word.
  EXPECT_TRUE(contains_all(input_error_message([] {
                             make_trees("random", {{"reward", "graded"}, {"correct_fraction", "0.5"}}, 1);
                           }),
                           {"--set correct_fraction=0.5", "binary rewards only", "family 'random'"}));
  EXPECT_TRUE(contains_all(error("strategies", "masses", "0.5,0.4"), {"masses", "summing to"}));
  EXPECT_TRUE(contains_all(error("strategies", "masses", "1"), {"masses"}));
  EXPECT_TRUE(contains_all(error("strategies", "masses", "0.5,,0.5"), {"--set masses=0.5,,0.5"}));
  EXPECT_TRUE(contains_all(error("strategies", "accuracy", "0.1,0.2"), {"accuracy", "4"}));
  EXPECT_TRUE(contains_all(error("multi_prompt", "prompts", "0"), {"--set prompts=0"}));
  EXPECT_TRUE(
      contains_all(input_error_message([] {
                     make_trees("multi_prompt", {{"accuracy_min", "0.5"}, {"accuracy_max", "0.1"}}, 1);
                   }),
                   {"accuracy_max"}));
}

// ---- strategies ------------------------------------------------------------------

// Root probabilities equal the masses: logits log m_k normalised by log-sum-exp,
// exact up to the rounding of log, exp and the shift (relative 1e-14 ~ 50 eps).
// Labels are the first action. Inside strategy k the correct leaves carry at
// most accuracy_k of the strategy's mass, and miss it by less than the mass of
// any leaf of k left incorrect (each was skipped because it did not fit).
TEST(Families, StrategiesFamilyHonoursMassesAndAccuracies) {
  const std::vector<double> masses = {0.6, 0.3, 0.1};
  const std::vector<double> requested = {0.5, 0.2, 0.8};
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const std::vector<Tree> trees =
        make_trees("strategies", {{"masses", "0.6,0.3,0.1"}, {"accuracy", "0.5,0.2,0.8"}, {"horizon", "5"}}, seed);
    ASSERT_EQ(trees.size(), 1u);
    const Tree& tree = trees[0];
    ASSERT_EQ(tree.shape, TreeShape::make(3, 5));
    const std::vector<double> root = test::softmax_row(tree.node_logits(0));
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(root[k], masses[k], 1e-14 * masses[k]);
    const test::Enumeration e = test::enumerate_reference(tree);
    std::vector<double> correct(3, 0.0), min_incorrect(3, 1.0);
    for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
      ASSERT_EQ(tree.strategy[y], e.path[y][0]) << "leaf " << y;
      ASSERT_TRUE(tree.reward[y] == 0.0 || tree.reward[y] == 1.0);
      const int k = tree.strategy[y];
      const double rel = e.prob[y] / masses[k];
      if (tree.reward[y] == 1.0) {
        correct[k] += rel;
      } else {
        min_incorrect[k] = std::min(min_incorrect[k], rel);
      }
    }
    for (int k = 0; k < 3; ++k) {
      // 1e-12: the relative masses are sums of <= 81 products of 5 softmax entries.
      EXPECT_LE(correct[k], requested[k] + 1e-12) << "seed " << seed << " strategy " << k;
      EXPECT_GT(correct[k], requested[k] - min_incorrect[k]) << "seed " << seed << " strategy " << k;
      EXPECT_GT(correct[k], 0.0);
    }
  }
}

TEST(Families, StrategiesWithOneAccuracyForAll) {
  const Tree tree = make_trees("strategies", {{"masses", "0.25,0.75"}, {"accuracy", "0.4"}}, 5)[0];
  const test::Enumeration e = test::enumerate_reference(tree);
  std::vector<double> correct(2, 0.0), mass(2, 0.0);
  for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
    mass[tree.strategy[y]] += e.prob[y];
    if (tree.reward[y] == 1.0) correct[tree.strategy[y]] += e.prob[y];
  }
  for (int k = 0; k < 2; ++k) {
    EXPECT_LE(correct[k] / mass[k], 0.4 + 1e-12);
    EXPECT_GT(correct[k] / mass[k], 0.0);
  }
}

// Accuracy 1 marks every leaf correct: the leaf masses inside a strategy sum to 1 only up
// to round-off, and the greedy "fits under the target" test used to leave a leaf out when
// the running sum rounded above 1. multi_prompt with accuracy_min = accuracy_max = 1 too.
TEST(Families, AccuracyOneMarksEveryLeafCorrect) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Tree tree = make_trees("strategies", {{"accuracy", "1"}, {"horizon", "4"}}, seed)[0];
    for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
      ASSERT_EQ(tree.reward[y], 1.0) << "seed " << seed << " leaf " << y;
    }
    // One strategy at 1, the others as given: only that strategy is all correct.
    const Tree mixed = make_trees("strategies", {{"accuracy", "1,0.5,0.5,0.5"}, {"horizon", "4"}}, seed)[0];
    for (std::int64_t y = 0; y < mixed.shape.num_leaves(); ++y) {
      if (mixed.strategy[y] == 0) {
        ASSERT_EQ(mixed.reward[y], 1.0) << "seed " << seed << " leaf " << y;
      }
    }
  }
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    for (const Tree& tree :
         make_trees("multi_prompt", {{"prompts", "2"}, {"accuracy_min", "1"}, {"accuracy_max", "1"}}, seed)) {
      for (double r : tree.reward) ASSERT_EQ(r, 1.0) << "seed " << seed;
    }
  }
}

// ---- multi_prompt -------------------------------------------------------------------

// Prompt p has requested accuracy a_p = a_min (a_max / a_min)^(p / (P - 1)); its
// reference accuracy is <= a_p and > a_p - (lightest incorrect leaf's mass).
// Where these intervals do not overlap, accuracies strictly increase with p.
TEST(Families, MultiPromptAccuraciesFollowTheGeometricSpread) {
  const int P = 6;
  const double a_min = 0.05, a_max = 0.8;
  const std::vector<Tree> trees = make_trees(
      "multi_prompt",
      {{"prompts", "6"}, {"vocab", "3"}, {"horizon", "6"}, {"accuracy_min", "0.05"}, {"accuracy_max", "0.8"}}, 21);
  ASSERT_EQ(trees.size(), static_cast<std::size_t>(P));
  std::vector<double> acc(P), lower(P), upper(P);
  for (int p = 0; p < P; ++p) {
    const Tree& tree = trees[p];
    ASSERT_EQ(tree.shape, TreeShape::make(3, 6));
    const double requested = a_min * std::pow(a_max / a_min, static_cast<double>(p) / (P - 1));
    const test::Enumeration e = test::enumerate_reference(tree);
    double min_incorrect = 1.0;
    for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
      EXPECT_EQ(tree.strategy[y], e.path[y][0]);
      if (tree.reward[y] == 0.0) min_incorrect = std::min(min_incorrect, e.prob[y]);
    }
    acc[p] = test::accuracy(e.prob, tree.reward);
    upper[p] = requested + 1e-12;  // 1e-12: sums of <= 729 leaf masses
    lower[p] = requested - min_incorrect;
    EXPECT_LE(acc[p], upper[p]) << "prompt " << p;
    EXPECT_GT(acc[p], lower[p]) << "prompt " << p;
    EXPECT_GE(acc[p], a_min - min_incorrect);
    EXPECT_LE(acc[p], a_max + 1e-12);
  }
  int ordered_pairs = 0;
  for (int p = 0; p + 1 < P; ++p) {
    if (lower[p + 1] >= upper[p]) {
      EXPECT_GT(acc[p + 1], acc[p]) << "prompts " << p << ", " << p + 1;
      ++ordered_pairs;
    }
  }
  EXPECT_EQ(ordered_pairs, P - 1);  // 729 leaves: the intervals are narrow enough to order every pair
  // Prompts are different trees.
  EXPECT_NE(trees[0].logits, trees[1].logits);
}

// ---- determinism in the seed ------------------------------------------------------------

TEST(Families, SameSeedSameTreesDifferentSeedDifferentTrees) {
  for (const char* family : {"random", "strategies", "multi_prompt"}) {
    const std::vector<Tree> a = make_trees(family, {}, 42), b = make_trees(family, {}, 42);
    const std::vector<Tree> c = make_trees(family, {}, 43);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), c.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(same_tree(a[i], b[i])) << family << " tree " << i;
      EXPECT_NE(a[i].logits, c[i].logits) << family << " tree " << i;
    }
  }
  // Graded rewards depend on the seed too.
  EXPECT_NE(make_trees("random", {{"reward", "graded"}}, 1)[0].reward,
            make_trees("random", {{"reward", "graded"}}, 2)[0].reward);
}

// ---- shared helpers ---------------------------------------------------------------------

// Logits are z / temperature with z fixed by (seed, stream): halving the
// temperature doubles every logit exactly (division by 0.5 is exact).
TEST(Families, FillRandomLogitsScalesWithTemperature) {
  Tree a = Tree::zeros(TreeShape::make(3, 3)), b = a;
  fill_random_logits(a, 1.0, 5, 1);
  fill_random_logits(b, 0.5, 5, 1);
  for (std::size_t i = 0; i < a.logits.size(); ++i) EXPECT_EQ(b.logits[i], 2.0 * a.logits[i]);
  Tree c = Tree::zeros(TreeShape::make(3, 3));
  fill_random_logits(c, 1.0, 5, 2);  // another stream
  EXPECT_NE(a.logits, c.logits);
}

// Strategy = first action, as an action (not a branch index): checked with EOS
// in the middle of the vocabulary, where the two differ; the root's EOS leaf
// has no label.
TEST(Families, LabelStrategiesByFirstAction) {
  for (int eos : {kNoEos, 0, 1, 3}) {
    Tree tree = Tree::zeros(TreeShape::make(4, 3, eos));
    label_strategies_by_first_action(tree);
    const test::Enumeration e = test::enumerate_reference(tree);
    for (std::int64_t y = 0; y < tree.shape.num_leaves(); ++y) {
      const int first = e.path[y][0];
      EXPECT_EQ(tree.strategy[y], first == eos ? kNoStrategy : first) << "eos " << eos << " leaf " << y;
    }
  }
}

// The greedy assignment: correct mass <= target, short of it by less than any
// leaf left incorrect; at least one leaf when every leaf is heavier than target.
TEST(Families, AssignCorrectByMass) {
  Tree tree = Tree::zeros(TreeShape::make(3, 4));
  fill_random_logits(tree, 1.0, 8, 1);
  const test::Enumeration e = test::enumerate_reference(tree);
  std::vector<double> log_p(e.prob.size());
  for (std::size_t y = 0; y < log_p.size(); ++y) log_p[y] = std::log(e.prob[y]);
  std::vector<std::int64_t> all(e.prob.size());
  for (std::size_t y = 0; y < all.size(); ++y) all[y] = static_cast<std::int64_t>(y);
  for (double target : {0.0, 0.1, 0.37, 0.9, 1.0}) {
    assign_correct_by_mass(tree, all, log_p, 1.0, target, 3, 4);
    double mass = 0.0, min_incorrect = 1.0;
    for (std::size_t y = 0; y < all.size(); ++y) {
      if (tree.reward[y] == 1.0) {
        mass += e.prob[y];
      } else {
        min_incorrect = std::min(min_incorrect, e.prob[y]);
      }
    }
    EXPECT_LE(mass, target + 1e-12) << target;  // 1e-12: sum of 81 masses
    if (target > 0.0) {
      EXPECT_GT(mass, target - min_incorrect) << target;
    }
    if (target == 0.0) {
      EXPECT_EQ(mass, 0.0);
    }
    if (target == 1.0) {
      for (std::size_t y = 0; y < all.size(); ++y) EXPECT_EQ(tree.reward[y], 1.0) << "leaf " << y;
    }
  }
  // Target below every leaf's mass: exactly the lightest leaf is marked.
  const double lightest = *std::min_element(e.prob.begin(), e.prob.end());
  assign_correct_by_mass(tree, all, log_p, 1.0, lightest / 2.0, 3, 4);
  int marked = 0;
  for (std::size_t y = 0; y < all.size(); ++y) {
    if (tree.reward[y] == 1.0) {
      ++marked;
      EXPECT_EQ(e.prob[y], lightest);
    }
  }
  EXPECT_EQ(marked, 1);
}

// ---- memory refusal ---------------------------------------------------------------------

TEST(Families, MakeTreesRefusesTreesOverTheMemoryBudget) {
  {
    // 3^8 = 6561 leaves need 551060 bytes (3280 nodes x 128 + 6561 leaves x 20); the budget is 1e5.
    const test::ScopedEnv env("DISA_MAX_TREE_BYTES", "100000");
    EXPECT_TRUE(contains_all(input_error_message([] {
                               make_trees("random", {{"vocab", "3"}, {"horizon", "8"}}, 1);
                             }),
                             {"need 538.1 KiB, more than the 97.7 KiB budget", "6561 leaves"}));
    EXPECT_TRUE(contains_all(input_error_message([] {
                               make_trees("multi_prompt", {{"vocab", "3"}, {"horizon", "8"}}, 1);
                             }),
                             {"need 1.7 MiB, more than the 97.7 KiB budget", "6561 leaves"}));  // 8 trees
    // A small tree still fits.
    EXPECT_NO_THROW(make_trees("random", {}, 1));
  }
  {
    // Default budget (80% of memory): 10^15 leaves are refused before any allocation.
    const test::ScopedEnv env("DISA_MAX_TREE_BYTES", nullptr);
    EXPECT_TRUE(contains_all(
        input_error_message([] { make_trees("random", {{"vocab", "10"}, {"horizon", "15"}}, 1); }),
        {"GiB", "1000000000000000 leaves"}));
  }
}

}  // namespace
}  // namespace disa

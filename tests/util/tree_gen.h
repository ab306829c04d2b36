// RapidCheck generators for small trees, and the tolerances that go with them.
//
// Shapes: vocab in [2, 5], horizon in [1, 5], EOS absent or at any action, at most
// kMaxLeaves leaves (the horizon is capped to fit). Reference logits are
// multiples of 1e-3 in [-kMaxLogit, kMaxLogit]; rewards binary {0, 1} or graded
// (multiples of 1e-3 in [0, 1]); strategy labels in {-1 (none), 0..3}.
//
// Every range is drawn uniformly from the first case: RapidCheck's inRange scales its range
// by the case's size (0 at the first case, growing to 100), which put early cases at the
// low end (vocab 2, horizon 1, logits -4, beta 0.001); these generators run at the nominal
// size whatever size they are asked for (TreeGen.CoversItsRangesAtEverySize in
// tree_shape_test.cpp counts it). Shrinking still moves towards the low end.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "toy_envs/tree.h"
#include "toy_envs/tree_shape.h"

namespace disa {

// So that RapidCheck prints counterexamples readably.
inline void showValue(const TreeShape& shape, std::ostream& os) { os << shape.describe(); }
inline void showValue(const Tree& tree, std::ostream& os) {
  os << "Tree{" << tree.shape.describe() << ", " << tree.shape.num_leaves() << " leaves}";
}

}  // namespace disa

namespace disa::test {

inline constexpr std::int64_t kMaxLeaves = 2000;
inline constexpr double kMaxLogit = 4.0;

// Round-off tolerance for comparing an exact pass with brute-force enumeration on
// these trees. Both sides sum at most kMaxLeaves positive terms, each a product
// of at most 5 softmax entries (or the log-space equivalent), so the worst-case
// relative rounding error of either is gamma_n ~ (2000 + 5 * 10) * 2^-53 ~ 2.3e-13
// (Higham, "Accuracy and Stability of Numerical Algorithms", eq. 4.4); 1e-12
// leaves a factor ~4 of headroom. A wrong edge, leaf or normalisation moves the
// results by far more (at least one leaf's mass).
inline constexpr double kRoundOff = 1e-12;

enum class RewardKind { kBinary, kGraded, kAny };

inline rc::Gen<TreeShape> gen_shape(int min_vocab = 2, int max_vocab = 5, int max_horizon = 5,
                                    std::int64_t max_leaves = kMaxLeaves) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::exec([=] {
                           const int vocab = *rc::gen::inRange(min_vocab, max_vocab + 1);
                           const bool has_eos = *rc::gen::arbitrary<bool>();
                           const int eos = has_eos ? *rc::gen::inRange(0, vocab) : kNoEos;
                           int top = 1;
                           while (top < max_horizon && TreeShape::make(vocab, top + 1, eos).num_leaves() <= max_leaves)
                             ++top;
                           const int horizon = *rc::gen::inRange(1, top + 1);
                           return TreeShape::make(vocab, horizon, eos);
                         }));
}

inline rc::Gen<double> gen_logit() {
  return rc::gen::resize(rc::kNominalSize, rc::gen::map(rc::gen::inRange(-4000, 4001), [](int k) { return k * 1e-3; }));
}

inline rc::Gen<double> gen_reward(RewardKind kind) {
  const auto binary = rc::gen::element(0.0, 1.0);
  const auto graded =
      rc::gen::resize(rc::kNominalSize, rc::gen::map(rc::gen::inRange(0, 1001), [](int k) { return k * 1e-3; }));
  switch (kind) {
    case RewardKind::kBinary:
      return binary;
    case RewardKind::kGraded:
      return graded;
    case RewardKind::kAny:
      break;
  }
  return rc::gen::oneOf(binary, graded);
}

// Inverse temperature in (0, 10].
inline rc::Gen<double> gen_beta() {
  return rc::gen::resize(rc::kNominalSize, rc::gen::map(rc::gen::inRange(1, 10001), [](int k) { return k * 1e-3; }));
}

inline rc::Gen<Tree> gen_tree_on(const TreeShape& shape, RewardKind kind = RewardKind::kAny) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::exec([=] {
                           Tree tree;
                           tree.shape = shape;
                           const auto n_logits = static_cast<std::size_t>(shape.num_internal() * shape.vocab());
                           const auto n_leaves = static_cast<std::size_t>(shape.num_leaves());
                           tree.logits = *rc::gen::container<std::vector<double>>(n_logits, gen_logit());
                           const RewardKind k = kind == RewardKind::kAny
                                                    ? *rc::gen::element(RewardKind::kBinary, RewardKind::kGraded)
                                                    : kind;
                           tree.reward = *rc::gen::container<std::vector<double>>(n_leaves, gen_reward(k));
                           tree.strategy = *rc::gen::container<std::vector<std::int32_t>>(
                               n_leaves, rc::gen::inRange<std::int32_t>(kNoStrategy, 4));
                           return tree;
                         }));
}

inline rc::Gen<Tree> gen_tree(RewardKind kind = RewardKind::kAny) {
  return rc::gen::mapcat(gen_shape(), [kind](const TreeShape& s) { return gen_tree_on(s, kind); });
}

// A second policy on the same shape (e.g. a "stronger model"), from its own logits.
inline rc::Gen<TabularPolicy> gen_policy_on(const TreeShape& shape) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::exec([=] {
                           const auto n = static_cast<std::size_t>(shape.num_internal() * shape.vocab());
                           const std::vector<double> logits = *rc::gen::container<std::vector<double>>(n, gen_logit());
                           return TabularPolicy::from_logits(shape, logits);
                         }));
}

}  // namespace disa::test

// A trajectory tree with its reference policy and rewards, and tabular policies on it.
//
// Tree: reference logits at every internal node, a reward at every leaf, and an
// optional strategy label per leaf (a strategy is a designated subtree, e.g. the
// first action). TabularPolicy: normalised log-probabilities log pi(a|s) at every
// internal node; the reference policy, the target p*, proposals and trained
// policies are all TabularPolicy values on the same TreeShape.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "toy_envs/tree_shape.h"

namespace disa {

inline constexpr std::int32_t kNoStrategy = -1;
// Labels index per-strategy arrays (leaf_distribution.h: one double per label up to the
// largest), so a file may use sparse labels but not 2^30 of them (8 GiB per array).
inline constexpr std::int32_t kMaxStrategy = (1 << 20) - 1;

// A leaf counts as correct when its reward is at least this (rewards of the
// binary families are exactly 0 or 1; graded rewards lie in [0, 1]).
inline constexpr double kCorrectThreshold = 0.5;
inline bool is_correct(double reward) { return reward >= kCorrectThreshold; }

struct Tree {
  TreeShape shape;
  std::vector<double> logits;         // [num_internal, V] reference logits, finite
  std::vector<double> reward;         // [num_leaves]
  std::vector<std::int32_t> strategy; // [num_leaves], kNoStrategy where unlabelled

  // Allocates zero logits and rewards and no strategies, after the memory check.
  static Tree zeros(const TreeShape& shape);

  std::span<const double> node_logits(std::int64_t node) const {
    return {logits.data() + node * shape.vocab(), static_cast<std::size_t>(shape.vocab())};
  }
  std::span<double> node_logits(std::int64_t node) {
    return {logits.data() + node * shape.vocab(), static_cast<std::size_t>(shape.vocab())};
  }
  int num_strategies() const;  // 1 + the largest label, 0 when unlabelled
};

struct TabularPolicy {
  TreeShape shape;
  std::vector<double> log_prob;  // [num_internal, V], each row log-normalised

  // log-softmax of each node's logits. Logits may be -inf (zero mass) but each
  // node needs a finite one; NaN or +inf is an InputError naming the node.
  static TabularPolicy from_logits(const TreeShape& shape, std::span<const double> logits);

  std::span<const double> node(std::int64_t node) const {
    return {log_prob.data() + node * shape.vocab(), static_cast<std::size_t>(shape.vocab())};
  }
  std::span<double> node(std::int64_t node) {
    return {log_prob.data() + node * shape.vocab(), static_cast<std::size_t>(shape.vocab())};
  }
};

TabularPolicy reference_policy(const Tree& tree);

// Bytes that building a tree and running the exact passes of `tree info` on it
// need at most (logits, rewards, strategies, four policies, flows, leaf masses);
// the README's "Scale" section gives the measured bytes per leaf.
std::int64_t bytes_required(const TreeShape& shape);

// The memory budget: DISA_MAX_TREE_BYTES when set, else 80% of physical memory.
std::int64_t tree_memory_budget();

// Throws InputError, before anything is allocated, when bytes_required(shape)
// exceeds the budget; the message gives the size the tree would need.
void check_fits_in_memory(const TreeShape& shape);
// The same for a set of `trees` trees of one shape held at once (multi_prompt): each
// stores its logits, rewards and strategies, and one at a time runs the exact passes.
void check_set_fits_in_memory(const TreeShape& shape, std::int64_t trees);

}  // namespace disa

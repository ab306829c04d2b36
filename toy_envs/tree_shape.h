// The shape of a trajectory tree: vocabulary V, horizon T, optional EOS action.
//
// Every internal node has V actions. Action `eos` (when present) ends the
// trajectory at a leaf; any other action leads to an internal node, or to a leaf
// when the horizon T is reached. With finite reference logits every action has
// positive probability, so (V, T, eos) fix the tree completely.
//
// Ids (level order, so each level is one contiguous block; numpy reads the same
// layout, see bench/exact_pass_numpy.py):
//   B = V without EOS, V - 1 with EOS (the non-terminating branching factor).
//   Internal node (depth d, index i), 0 <= i < B^d, has id level_offset[d] + i.
//   Its child through non-EOS action a is (d + 1, i * B + b(a)), where
//   b(a) = a for a < eos and a - 1 above it.
//   Leaf ids: with EOS, leaf k < num_internal is the EOS leaf under internal node k;
//   then the B^T horizon leaves follow in level order (horizon index j has id
//   horizon_leaf_offset + j).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace disa {

inline constexpr int kNoEos = -1;

class TreeShape {
 public:
  // Validates V >= 2, T >= 1, 0 <= eos < V, and that the node counts fit in 63 bits.
  // Throws InputError naming the field ("vocab", "horizon", "eos").
  static TreeShape make(int vocab, int horizon, int eos = kNoEos);

  TreeShape() = default;

  int vocab() const { return vocab_; }
  int horizon() const { return horizon_; }
  int eos() const { return eos_; }  // kNoEos when absent
  bool has_eos() const { return eos_ != kNoEos; }
  int branching() const { return branching_; }

  std::int64_t num_internal() const { return level_offset_.back(); }
  std::int64_t num_leaves() const { return horizon_leaf_offset() + num_horizon_leaves_; }
  std::int64_t num_horizon_leaves() const { return num_horizon_leaves_; }
  std::int64_t horizon_leaf_offset() const { return has_eos() ? num_internal() : 0; }
  // First internal id at depth d, for d in [0, T]; level_offset(T) == num_internal().
  std::int64_t level_offset(int depth) const { return level_offset_[depth]; }
  std::int64_t level_size(int depth) const { return level_offset_[depth + 1] - level_offset_[depth]; }

  int depth_of(std::int64_t node) const;

  // Where action a from internal node `node` (at `depth`) leads.
  struct Child {
    bool is_leaf;
    std::int64_t id;  // leaf id when is_leaf, internal id otherwise
  };
  Child child(std::int64_t node, int depth, int action) const {
    if (action == eos_) return {true, node};
    const int b = (eos_ != kNoEos && action > eos_) ? action - 1 : action;
    const std::int64_t j = (node - level_offset_[depth]) * branching_ + b;
    if (depth + 1 == horizon_) return {true, horizon_leaf_offset() + j};
    return {false, level_offset_[depth + 1] + j};
  }

  // Actions from the root to an internal node / to a leaf (EOS included when taken).
  std::vector<int> prefix(std::int64_t node) const;
  std::vector<int> path(std::int64_t leaf) const;
  // The inverse maps; nullopt with a reason when the sequence is not a node / leaf.
  std::optional<std::int64_t> node_from_prefix(std::span<const int> prefix, std::string* why) const;
  std::optional<std::int64_t> leaf_from_path(std::span<const int> path, std::string* why) const;

  // "vocab=3 horizon=4 eos=2" (or eos=none), for messages.
  std::string describe() const;

  friend bool operator==(const TreeShape& a, const TreeShape& b) {
    return a.vocab_ == b.vocab_ && a.horizon_ == b.horizon_ && a.eos_ == b.eos_;
  }

 private:
  int vocab_ = 0, horizon_ = 0, eos_ = kNoEos, branching_ = 0;
  std::vector<std::int64_t> level_offset_{0};
  std::int64_t num_horizon_leaves_ = 0;

  // Action for branch index b (inverse of b(a)).
  int action_of_branch(std::int64_t b) const {
    return static_cast<int>((eos_ != kNoEos && b >= eos_) ? b + 1 : b);
  }
};

}  // namespace disa

#include "toy_envs/tree_shape.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "src/input_error.h"

namespace disa {
namespace {

constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max() / 4;

std::int64_t checked_mul(std::int64_t a, std::int64_t b, int vocab, int horizon) {
  if (b != 0 && a > kMaxCount / b) {
    throw InputError(fmt::format(
        "horizon: a tree with vocab={} horizon={} has more than 2^61 nodes; it cannot be "
        "enumerated",
        vocab, horizon));
  }
  return a * b;
}

}  // namespace

TreeShape TreeShape::make(int vocab, int horizon, int eos) {
  if (vocab < 2) throw InputError(fmt::format("vocab: must be >= 2, got {}", vocab));
  if (vocab > (1 << 24)) throw InputError(fmt::format("vocab: must be <= 2^24, got {}", vocab));
  if (horizon < 1) throw InputError(fmt::format("horizon: must be >= 1, got {}", horizon));
  if (horizon > 4096) throw InputError(fmt::format("horizon: must be <= 4096, got {}", horizon));
  if (eos != kNoEos && (eos < 0 || eos >= vocab)) {
    throw InputError(fmt::format("eos: must be null or an action in [0, {}), got {}", vocab, eos));
  }
  TreeShape s;
  s.vocab_ = vocab;
  s.horizon_ = horizon;
  s.eos_ = eos;
  s.branching_ = eos == kNoEos ? vocab : vocab - 1;
  s.level_offset_.assign(1, 0);
  std::int64_t width = 1;  // B^d
  for (int d = 0; d < horizon; ++d) {
    s.level_offset_.push_back(s.level_offset_.back() + width);
    if (s.level_offset_.back() > kMaxCount) {
      throw InputError(fmt::format("horizon: a tree with vocab={} horizon={} has more than 2^61 "
                                   "nodes; it cannot be enumerated",
                                   vocab, horizon));
    }
    width = checked_mul(width, s.branching_, vocab, horizon);
  }
  s.num_horizon_leaves_ = width;
  if (s.num_leaves() > kMaxCount) {
    throw InputError(fmt::format(
        "horizon: a tree with vocab={} horizon={} has more than 2^61 leaves", vocab, horizon));
  }
  return s;
}

int TreeShape::depth_of(std::int64_t node) const {
  const auto it = std::upper_bound(level_offset_.begin(), level_offset_.end(), node);
  return static_cast<int>(it - level_offset_.begin()) - 1;
}

std::vector<int> TreeShape::prefix(std::int64_t node) const {
  const int depth = depth_of(node);
  std::vector<int> actions(depth);
  std::int64_t i = node - level_offset_[depth];
  for (int d = depth - 1; d >= 0; --d) {
    actions[d] = action_of_branch(i % branching_);
    i /= branching_;
  }
  return actions;
}

std::vector<int> TreeShape::path(std::int64_t leaf) const {
  if (leaf < horizon_leaf_offset()) {  // EOS leaf under internal node `leaf`
    std::vector<int> actions = prefix(leaf);
    actions.push_back(eos_);
    return actions;
  }
  std::vector<int> actions(horizon_);
  std::int64_t j = leaf - horizon_leaf_offset();
  for (int d = horizon_ - 1; d >= 0; --d) {
    actions[d] = action_of_branch(j % branching_);
    j /= branching_;
  }
  return actions;
}

std::optional<std::int64_t> TreeShape::node_from_prefix(std::span<const int> prefix,
                                                        std::string* why) const {
  if (static_cast<int>(prefix.size()) >= horizon_) {
    if (why) *why = fmt::format("length {} is not below the horizon {}", prefix.size(), horizon_);
    return std::nullopt;
  }
  std::int64_t node = 0;
  for (int d = 0; d < static_cast<int>(prefix.size()); ++d) {
    const int a = prefix[d];
    if (a < 0 || a >= vocab_) {
      if (why) *why = fmt::format("action {} at position {} is outside [0, {})", a, d, vocab_);
      return std::nullopt;
    }
    if (a == eos_) {
      if (why) *why = fmt::format("EOS action {} at position {} ends the trajectory", a, d);
      return std::nullopt;
    }
    node = child(node, d, a).id;
  }
  return node;
}

std::optional<std::int64_t> TreeShape::leaf_from_path(std::span<const int> path,
                                                      std::string* why) const {
  if (path.empty()) {
    if (why) *why = "a leaf path has at least one action";
    return std::nullopt;
  }
  const auto parent = node_from_prefix(path.first(path.size() - 1), why);
  if (!parent) return std::nullopt;
  const int depth = static_cast<int>(path.size()) - 1;
  const int a = path.back();
  if (a < 0 || a >= vocab_) {
    if (why) *why = fmt::format("action {} at position {} is outside [0, {})", a, depth, vocab_);
    return std::nullopt;
  }
  const Child c = child(*parent, depth, a);
  if (!c.is_leaf) {
    if (why) {
      *why = fmt::format("ends at an internal node (length {} < horizon {} and no EOS)",
                         path.size(), horizon_);
    }
    return std::nullopt;
  }
  return c.id;
}

std::string TreeShape::describe() const {
  return fmt::format("vocab={} horizon={} eos={}", vocab_, horizon_,
                     has_eos() ? std::to_string(eos_) : std::string("none"));
}

}  // namespace disa

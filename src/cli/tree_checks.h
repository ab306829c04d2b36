// Checks of a tree against the options a command was given, shared by the commands that
// take --tree and --beta (tree info, estimate, anchor).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "src/byte_size.h"
#include "src/input_error.h"
#include "toy_envs/tree.h"

namespace disa::cli {

// beta r must be a finite double at every leaf. The exact passes work in log space and
// take any finite beta r, but one that overflows to inf (reward 1e308, beta 10) makes
// log Z inf and every target quantity NaN (inf - inf), printed with exit code 0.
// `tree_name` says which tree: the file, and its index in a set.
inline void check_tilt_is_finite(const Tree& tree, double beta, const std::string& tree_name) {
  for (std::size_t leaf = 0; leaf < tree.reward.size(); ++leaf) {
    if (!std::isfinite(beta * tree.reward[leaf])) {
      throw InputError(fmt::format("--beta: {} times the reward {} of leaf {} of {} overflows a double (log Z would "
                                   "be infinite); use a smaller --beta or smaller rewards",
                                   beta, tree.reward[leaf], leaf, tree_name));
    }
  }
}

// A batch of n sampled trajectories of `tree` holds up to T steps each (action 4 B +
// log-prob 8 B, twice while packing) plus 16 B per trajectory: refused before allocating,
// naming `option` (the command's count); `advice` is appended to the message.
inline void check_sample_batch_fits(const Tree& tree, std::int64_t n, const std::string& option,
                                    const std::string& advice = "") {
  const double batch_bytes = static_cast<double>(n) * (24.0 * tree.shape.horizon() + 16.0);
  const double budget = static_cast<double>(tree_memory_budget());
  if (batch_bytes > budget) {
    throw InputError(fmt::format("{}: {} trajectories of up to {} steps need {}, more than the {} budget{}", option, n,
                                 tree.shape.horizon(), byte_size(batch_bytes), byte_size(budget), advice));
  }
}

// How a command names tree `index` of the file `path` in a message.
inline std::string tree_name(const std::string& path, std::size_t index, std::size_t count) {
  return count == 1 ? path : fmt::format("{} (tree {})", path, index);
}

}  // namespace disa::cli

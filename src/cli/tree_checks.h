// Checks of a tree against the options a command was given, shared by the commands that
// take --tree and --beta (tree info, estimate, anchor).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include <fmt/format.h>

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

// How a command names tree `index` of the file `path` in a message.
inline std::string tree_name(const std::string& path, std::size_t index, std::size_t count) {
  return count == 1 ? path : fmt::format("{} (tree {})", path, index);
}

}  // namespace disa::cli

#include "toy_envs/tree.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "src/byte_size.h"
#include "src/input_error.h"
#include "src/log_softmax.h"
#include "toy_envs/tree_passes.h"

namespace disa {

Tree Tree::zeros(const TreeShape& shape) {
  check_fits_in_memory(shape);
  Tree tree;
  tree.shape = shape;
  tree.logits.assign(static_cast<std::size_t>(shape.num_internal() * shape.vocab()), 0.0);
  tree.reward.assign(static_cast<std::size_t>(shape.num_leaves()), 0.0);
  tree.strategy.assign(static_cast<std::size_t>(shape.num_leaves()), kNoStrategy);
  return tree;
}

int Tree::num_strategies() const {
  std::int32_t top = kNoStrategy;
  for (std::int32_t k : strategy) top = std::max(top, k);
  return top + 1;
}

TabularPolicy TabularPolicy::from_logits(const TreeShape& shape, std::span<const double> logits) {
  const int V = shape.vocab();
  const std::int64_t n = shape.num_internal();
  if (static_cast<std::int64_t>(logits.size()) != n * V) {
    throw InputError(fmt::format("logits: expected {} values ({} nodes x vocab {}), got {}",
                                 n * V, n, V, logits.size()));
  }
  TabularPolicy policy;
  policy.shape = shape;
  policy.log_prob.resize(logits.size());
  std::int64_t bad_node = -1;
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t s = 0; s < n; ++s) {
    const auto row = logits.subspan(s * V, V);
    const LogSoftmaxShift shift = log_softmax_shift(row);  // max NaN, +inf or -inf: a bad row
    if (!std::isfinite(shift.max)) {
#pragma omp critical
      bad_node = bad_node < 0 ? s : std::min(bad_node, s);
      continue;
    }
    for (int a = 0; a < V; ++a) policy.log_prob[s * V + a] = shift.at(row[a]);
  }
  if (bad_node >= 0) {
    const auto row = logits.subspan(bad_node * V, V);
    throw InputError(fmt::format(
        "logits: node {} (prefix [{}]) has logits that are NaN, +inf, or all -inf: [{}]",
        bad_node, fmt::join(shape.prefix(bad_node), ","), fmt::join(row, ",")));
  }
  return policy;
}

TabularPolicy reference_policy(const Tree& tree) {
  return TabularPolicy::from_logits(tree.shape, tree.logits);
}

std::int64_t bytes_required(const TreeShape& shape) {
  // Per internal node: V logits + 4 policies of V log-probs alive at once (e.g.
  // `tree info` holds the reference, the target, a proposal and a temporary) +
  // one flow value. Per leaf: reward (8), strategy (4) and the leaf's log-mass (8).
  // Measured peaks stay below this (README, "Scale"). Computed in floating point:
  // it must not overflow.
  const double internal = static_cast<double>(shape.num_internal());
  const double leaves = static_cast<double>(shape.num_leaves());
  const double bytes = internal * (5.0 * 8.0 * shape.vocab() + 8.0) + leaves * 20.0;
  return bytes > 9e18 ? static_cast<std::int64_t>(9e18) : static_cast<std::int64_t>(bytes);
}

std::int64_t tree_memory_budget() {
  if (const char* env = std::getenv("DISA_MAX_TREE_BYTES")) {
    // Digits only, in range: strtoll took a leading space and clamped 10^23 to 2^63 - 1.
    const std::string_view text(env);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v <= 0) {
      throw InputError(fmt::format("DISA_MAX_TREE_BYTES: must be a positive integer of at most {} bytes, got '{}'",
                                   std::numeric_limits<std::int64_t>::max(), env));
    }
    return v;
  }
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return static_cast<std::int64_t>(0.8 * static_cast<double>(pages) * static_cast<double>(page));
}

void check_set_fits_in_memory(const TreeShape& shape, std::int64_t trees) {
  const double stored = static_cast<double>(shape.num_internal()) * 8.0 * shape.vocab() +
                        static_cast<double>(shape.num_leaves()) * 12.0;
  const double need = static_cast<double>(trees) * stored + static_cast<double>(bytes_required(shape));
  const std::int64_t budget = tree_memory_budget();
  if (need > static_cast<double>(budget)) {
    throw InputError(fmt::format(
        "tree set: {} trees of {} ({} leaves each) would need {}, more than the {} budget (80% "
        "of memory, or DISA_MAX_TREE_BYTES)",
        trees, shape.describe(), shape.num_leaves(), byte_size(need), byte_size(static_cast<double>(budget))));
  }
}

void check_fits_in_memory(const TreeShape& shape) {
  const std::int64_t need = bytes_required(shape);
  const std::int64_t budget = tree_memory_budget();
  if (need > budget) {
    throw InputError(
        fmt::format("tree: {} has {} leaves and {} internal nodes; it would need {}, more than the "
                    "{} budget (80% of memory, or DISA_MAX_TREE_BYTES)",
                    shape.describe(), shape.num_leaves(), shape.num_internal(), byte_size(static_cast<double>(need)),
                    byte_size(static_cast<double>(budget))));
  }
}

}  // namespace disa

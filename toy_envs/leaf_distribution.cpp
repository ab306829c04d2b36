#include "toy_envs/leaf_distribution.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "src/log_sum_exp.h"
#include "toy_envs/tree_passes.h"

namespace disa {

LogMass log_mass(const TabularPolicy& policy) {
  const int V = policy.shape.vocab();
  LogMass mass;
  mass.leaf.resize(static_cast<std::size_t>(policy.shape.num_leaves()));
  mass.node = forward_pass(
      policy.shape, 0.0,
      [&](std::int64_t s, int a, double log_mass_s) { return log_mass_s + policy.log_prob[s * V + a]; },
      mass.leaf);
  return mass;
}

std::vector<double> leaf_log_probs(const TabularPolicy& policy, double tolerance) {
  LogMass mass = log_mass(policy);
  const double log_total = log_sum_exp(mass.leaf);
  const double total = std::exp(log_total);
  if (!(std::fabs(total - 1.0) <= tolerance)) {
    throw std::runtime_error(fmt::format(
        "leaf distribution sums to {:.17g}, not 1 (tolerance {:g}): the policy's rows are not "
        "normalised log-probabilities",
        total, tolerance));
  }
  return std::move(mass.leaf);
}

std::vector<double> strategy_distribution_among_correct(const Tree& tree,
                                                        const TabularPolicy& policy) {
  const std::vector<double> log_p = leaf_log_probs(policy);
  const int K = tree.num_strategies();
  std::vector<double> mass(static_cast<std::size_t>(K), 0.0);
  // Sequential: a fixed summation order, so the result is identical for any thread count.
  for (std::size_t y = 0; y < log_p.size(); ++y) {
    const std::int32_t k = tree.strategy[y];
    if (k != kNoStrategy && is_correct(tree.reward[y])) mass[k] += std::exp(log_p[y]);
  }
  double total = 0.0;
  for (double m : mass) total += m;
  if (total > 0.0) {
    for (double& m : mass) m /= total;
  }
  return mass;
}

double distribution_entropy(const std::vector<double>& probs) {
  double h = 0.0;
  for (double p : probs) {
    if (p > 0.0) h -= p * std::log(p);
  }
  return h;
}

int count_above(const std::vector<double>& probs, double threshold) {
  int n = 0;
  for (double p : probs) n += p > threshold ? 1 : 0;
  return n;
}

}  // namespace disa

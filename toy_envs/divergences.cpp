#include "toy_envs/divergences.h"

#include <cmath>
#include <stdexcept>

#include "src/log_sum_exp.h"
#include "toy_envs/tree_passes.h"

namespace disa {
namespace {

void check_same_shape(const TabularPolicy& p, const TabularPolicy& q) {
  if (!(p.shape == q.shape)) {
    throw std::invalid_argument("policies on different trees: " + p.shape.describe() + " vs " +
                                q.shape.describe());
  }
}

// p(a|s) * (edge + child), with 0 * anything = 0 (an action p never takes adds nothing).
// An action p takes (log_p > -inf) with an infinite value keeps it even when exp(log_p)
// underflows to 0: p(a|s) > 0 all the same, so KL(p||q) = +inf when q misses mass p has
// below it (item 6), as chi2's log-space recursion gives; 0 * inf would be NaN.
double weighted(double log_p, double edge_plus_child) {
  if (log_p == kNegInf) return 0.0;
  return std::isinf(edge_plus_child) ? edge_plus_child : std::exp(log_p) * edge_plus_child;
}

}  // namespace

ChiSquare chi_square_divergence(const TabularPolicy& p, const TabularPolicy& q) {
  check_same_shape(p, q);
  const int V = p.shape.vocab();
  const std::vector<double> log_g = backward_pass(
      p.shape, [](std::int64_t) { return 0.0; },
      [&](std::int64_t s, std::span<const double> log_g_child) {
        LogSumExpAccumulator acc;
        for (int a = 0; a < V; ++a) {
          const double lp = p.log_prob[s * V + a], lq = q.log_prob[s * V + a];
          if (lp == kNegInf) continue;  // p puts no mass here
          acc.add(lq == kNegInf ? kPosInf : 2.0 * lp - lq + log_g_child[a]);
        }
        return acc.value();
      });
  const double log_g_root = log_g[0];
  // G(root) >= 1 by Cauchy-Schwarz; round-off may put it a hair below.
  return {std::expm1(log_g_root), log_g_root};
}

double kl_divergence(const TabularPolicy& p, const TabularPolicy& q) {
  check_same_shape(p, q);
  const int V = p.shape.vocab();
  return backward_pass(
      p.shape, [](std::int64_t) { return 0.0; },
      [&](std::int64_t s, std::span<const double> child) {
        double e = 0.0;
        for (int a = 0; a < V; ++a) {
          const double lp = p.log_prob[s * V + a], lq = q.log_prob[s * V + a];
          if (lp == kNegInf) continue;
          e += lq == kNegInf ? kPosInf : weighted(lp, lp - lq + child[a]);
        }
        return e;
      })[0];
}

double entropy(const TabularPolicy& p) {
  const int V = p.shape.vocab();
  return backward_pass(
      p.shape, [](std::int64_t) { return 0.0; },
      [&](std::int64_t s, std::span<const double> child) {
        double e = 0.0;
        for (int a = 0; a < V; ++a) {
          const double lp = p.log_prob[s * V + a];
          e += weighted(lp, -lp + child[a]);
        }
        return e;
      })[0];
}

double expected_leaf_value(const TabularPolicy& p, std::span<const double> leaf_value) {
  if (static_cast<std::int64_t>(leaf_value.size()) != p.shape.num_leaves()) {
    throw std::invalid_argument("expected_leaf_value: one value per leaf needed");
  }
  const int V = p.shape.vocab();
  return backward_pass(
      p.shape, [&](std::int64_t leaf) { return leaf_value[leaf]; },
      [&](std::int64_t s, std::span<const double> child) {
        double e = 0.0;
        for (int a = 0; a < V; ++a) e += weighted(p.log_prob[s * V + a], child[a]);
        return e;
      })[0];
}

double expected_reward(const Tree& tree, const TabularPolicy& p) {
  return expected_leaf_value(p, tree.reward);
}

double accuracy(const Tree& tree, const TabularPolicy& p) {
  std::vector<double> correct(tree.reward.size());
  for (std::size_t i = 0; i < correct.size(); ++i) correct[i] = is_correct(tree.reward[i]) ? 1.0 : 0.0;
  return expected_leaf_value(p, correct);
}

}  // namespace disa

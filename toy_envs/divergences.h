// Exact divergences and expectations of tabular policies, by one backward pass each.
//
//   chi2(p || q) = sum_y p(y)^2 / q(y) - 1 = G(root) - 1,
//       G(s) = sum_a p(a|s)^2 / q(a|s) G(s.a),  G(leaf) = 1     (THEORY.md item 2)
//   KL(p || q)   = E(root),  E(s) = sum_a p(a|s) [log p(a|s) - log q(a|s) + E(s.a)]
//   H(p)         = E(root),  E(s) = sum_a p(a|s) [-log p(a|s) + E(s.a)]
//   E_p[v(y)]    = E(root),  E(s) = sum_a p(a|s) E(s.a),  E(leaf) = v(leaf)
//
// A q with zero mass where p has mass gives chi2 = KL = +inf, reported, never
// averaged away (item 6).
#pragma once

#include <functional>
#include <span>

#include "toy_envs/tree.h"

namespace disa {

struct ChiSquare {
  double value;           // chi2(p || q), +inf when q misses mass of p
  double log1p_value;     // log(1 + chi2) = log G(root), finite far beyond where value overflows
  double expected_ess_fraction() const { return 1.0 / (1.0 + value); }  // item 4: E[ESS]/N ~ 1/(1+chi2)
};

ChiSquare chi_square_divergence(const TabularPolicy& p, const TabularPolicy& q);
double kl_divergence(const TabularPolicy& p, const TabularPolicy& q);
double entropy(const TabularPolicy& p);

// E_p[leaf_value(y)] for leaf_value given per leaf id.
double expected_leaf_value(const TabularPolicy& p, std::span<const double> leaf_value);
double expected_reward(const Tree& tree, const TabularPolicy& p);
double accuracy(const Tree& tree, const TabularPolicy& p);  // P_p(r(y) >= kCorrectThreshold)

}  // namespace disa

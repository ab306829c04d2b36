// The tail of a sample mean whose one-draw law is known exactly, by the saddlepoint.
//
// A row that judges the mean of M replicates against its exact value by z = (mean -
// exact) / se assumes the mean is normal. For a skewed replicate law it is not: check_03's
// bias row at beta 8, q = pi_ref, N = 64 has a replicate at log(Zhat/Z) = -5.7 with
// probability 0.0012, and at M = 512 the normal z falls below -4 with probability 8.4e-4,
// 26x the one-sided 3.2e-5 the rule assumes (theory_checks/README.md). Where the law is
// known (replicates.h: exact_law enumerates it), the tail of the mean is computed from it
// instead, and returned on the normal scale so that the rule |z| > 4 keeps its meaning:
//
//   K(s) = log E[e^{s X}]            the cumulant generating function of one replicate
//   K'(s_hat) = xbar                 the saddlepoint of the observed mean xbar
//   w = sign(s_hat) sqrt(2 M (s_hat xbar - K(s_hat))),   v = s_hat sqrt(M K''(s_hat))
//   r* = w + log(v / w) / w          (Barndorff-Nielsen 1986)
//
// with P(mean >= xbar) = 1 - Phi(r*) (1 + O(1/M)) in the tails, relative error (Jensen,
// "Saddlepoint Approximations", 1995, ch. 6; Lugannani-Rice's formula to the same order).
// On a lattice (support x0 + k delta: a two-point law, or a binary reward at N = 1) the sum
// of M replicates is a lattice too, and xbar moves half a step delta / (2 M) toward the
// mean first (the continuity correction, Daniels 1987 section 6).
#pragma once

#include <cstdint>
#include <vector>

namespace disa::theory {

// One replicate's law: support points and their probabilities (summing to 1).
struct DiscreteLaw {
  std::vector<double> value;
  std::vector<double> probability;
};

// The normal-scale z of the mean of `m` independent draws from `law` observed at
// `observed_mean`: r* above, so that Phi(z) = P(mean <= observed) on the lower side and
// 1 - Phi(z) = P(mean >= observed) on the upper one. Outside the support's range it is
// -inf / +inf (impossible under the law); at its edge, Phi^-1 of the edge's probability
// p_edge^m, kept on that edge's side of 0. Within half a standard error of the law's mean
// (after the continuity correction, on a lattice) it returns the normal z: there the two
// differ by about skewness / (6 sqrt m), r* is 0/0, and no verdict turns on it. NaN when
// the law has no spread; std::logic_error rather than a NaN z otherwise.
double saddlepoint_z(const DiscreteLaw& law, double observed_mean, std::int64_t m);

}  // namespace disa::theory

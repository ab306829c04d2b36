// Exact partition function, flows and target policy (THEORY.md, "Notation").
//
//   F(s) = sum_{y through s} pi_ref(y | s) exp(beta r(y)),  F(leaf) = exp(beta r(leaf)),
//   log F(s) = logsumexp_a [ log pi_ref(a|s) + log F(s.a) ],   Z = F(root),
//   p*(a|s) = pi_ref(a|s) F(s.a) / F(s).
//
// Everything is in log space, leaf to root, so beta r of several hundred stays
// finite and exact (exp is only ever taken of differences <= 0).
#pragma once

#include <vector>

#include "toy_envs/tree.h"

namespace disa {

// log F(s) for every internal node (index = node id); log F(root) = log Z.
std::vector<double> log_flows(const Tree& tree, const TabularPolicy& reference, double beta);
// The same from the tree's reference logits directly (log-softmax fused into the
// pass; bit-identical to the above with reference_policy(tree)).
std::vector<double> log_flows(const Tree& tree, double beta);

// log Z(beta) = log E_{pi_ref}[exp(beta r)].
double log_partition(const Tree& tree, double beta);
double log_partition(const Tree& tree, const TabularPolicy& reference, double beta);

// The reward-tilted target p*(a|s) at inverse temperature beta, as a tabular
// policy. With beta' = lambda beta this is the tilted proposal q_lambda (item 5).
TabularPolicy target_policy(const Tree& tree, const TabularPolicy& reference, double beta);

// Throws InputError unless beta is finite ("beta: must be finite, got nan"). The exact
// passes take any finite beta: proposals evaluate them at lambda beta, lambda = 0 included.
void check_beta(double beta, const char* field = "beta");
// What a user gives as the inverse temperature must be finite and > 0 (THEORY.md):
// PACED's log Z / beta and the tilt's direction need it ("--beta: must be > 0, got 0").
void check_positive_beta(double beta, const char* field = "beta");
// The largest beta check_positive_beta accepts (see there).
inline constexpr double kMaxBeta = 1e6;

}  // namespace disa

// PACED-RL's reading of log Z as an accuracy signal (THEORY.md item 12).
//
// For any policy pi_old and the target tilted from it, p*_old ∝ pi_old exp(beta r):
//   E_{pi_old}[r] = (log Z_old - KL(pi_old || p*_old)) / beta      (exact)
//   E_{pi_old}[r] ≈ log Z_old / beta                                 (PACED-RL's approximation)
// The approximation error is exactly KL(pi_old || p*_old) / beta >= 0.
#pragma once

#include "toy_envs/tree.h"

namespace disa {

struct PacedQuantities {
  double expected_reward;         // E_{pi_old}[r], by direct expectation
  double log_z_old;               // log E_{pi_old}[exp(beta r)]
  double kl_old;                  // KL(pi_old || p*_old)
  double identity_rhs;            // (log_z_old - kl_old) / beta: equals expected_reward
  double approx_expected_reward;  // log_z_old / beta
  double approx_error;            // approx_expected_reward - expected_reward = kl_old / beta
};

// beta must be finite and > 0 (InputError otherwise).
PacedQuantities paced_quantities(const Tree& tree, const TabularPolicy& policy_old, double beta);

}  // namespace disa

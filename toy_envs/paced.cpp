#include "toy_envs/paced.h"

#include <fmt/format.h>

#include "src/input_error.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"

namespace disa {

PacedQuantities paced_quantities(const Tree& tree, const TabularPolicy& policy_old, double beta) {
  check_positive_beta(beta);  // the identity divides by beta, and the error is >= 0 only for beta > 0
  PacedQuantities q{};
  q.expected_reward = expected_reward(tree, policy_old);
  q.log_z_old = log_partition(tree, policy_old, beta);
  q.kl_old = kl_divergence(policy_old, target_policy(tree, policy_old, beta));
  q.identity_rhs = (q.log_z_old - q.kl_old) / beta;
  q.approx_expected_reward = q.log_z_old / beta;
  q.approx_error = q.approx_expected_reward - q.expected_reward;
  return q;
}

}  // namespace disa

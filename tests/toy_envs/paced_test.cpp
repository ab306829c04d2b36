// Tests toy_envs/paced.h: PACED-RL's identity (THEORY.md item 12),
//   E_{pi_old}[r] = (log Z_old - KL(pi_old || p*_old)) / beta,
// for any policy pi_old, and its approximation error kl_old / beta >= 0.
//
// Against: the identity itself (which holds exactly: KL(pi || p*) = log Z -
// beta E_pi[r]), and brute-force enumeration (tests/util/brute_force.h) of
// E_pi[r], Z_old = sum_y pi_old(y) e^{beta r(y)} and KL(pi_old || p*_old).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/paced.h"

namespace disa {
namespace {

using test::kRoundOff;

RC_GTEST_PROP(Paced, IdentityHoldsExactlyForAnyPolicy, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy old = *rc::gen::oneOf(rc::gen::just(reference_policy(tree)), test::gen_policy_on(tree.shape));
  const PacedQuantities q = paced_quantities(tree, old, beta);

  // Enumeration: pi_old(y), Z_old, p*_old(y) = pi_old(y) e^{beta r} / Z_old.
  const std::vector<double> p_old = test::enumerate(old).prob;
  const double z_old = test::partition(p_old, tree.reward, beta);
  const std::vector<double> p_star = test::tilt(p_old, tree.reward, beta);
  const double kl = test::kl(p_old, p_star);
  // log Z_old, KL and beta E[r] are all at most beta (r in [0, 1]) plus the
  // log-probabilities' magnitude: tolerances scale with 1 + beta + KL's term scale.
  const double scale = 1.0 + beta + test::kl_scale(p_old, p_star);
  RC_ASSERT(std::fabs(q.expected_reward - test::expectation(p_old, tree.reward)) <= kRoundOff);
  RC_ASSERT(std::fabs(q.log_z_old - std::log(z_old)) <= kRoundOff);
  RC_ASSERT(std::fabs(q.kl_old - kl) <= kRoundOff * scale);

  // The identity: identity_rhs == expected_reward, to round-off (divided by beta).
  RC_ASSERT(std::fabs(q.identity_rhs - q.expected_reward) <= kRoundOff * scale / beta);
  // The approximation drops KL: its error is kl_old / beta >= 0.
  RC_ASSERT(std::fabs(q.approx_expected_reward - q.log_z_old / beta) == 0.0);
  RC_ASSERT(std::fabs(q.approx_error - q.kl_old / beta) <= kRoundOff * scale / beta);
  RC_ASSERT(q.approx_error >= -kRoundOff * scale / beta);
  RC_ASSERT(q.kl_old >= -kRoundOff * scale);
}

// Constant reward: p*_old = pi_old, so KL = 0 and log Z_old = beta r exactly-ish;
// the approximation is then exact.
TEST(Paced, ConstantRewardHasNoApproximationError) {
  Tree tree = Tree::zeros(TreeShape::make(3, 3, 1));
  for (std::size_t i = 0; i < tree.logits.size(); ++i) tree.logits[i] = 0.1 * static_cast<double>(i % 7);
  for (double& r : tree.reward) r = 0.75;
  const PacedQuantities q = paced_quantities(tree, reference_policy(tree), 2.0);
  EXPECT_NEAR(q.expected_reward, 0.75, kRoundOff);
  EXPECT_NEAR(q.log_z_old, 1.5, kRoundOff);
  EXPECT_NEAR(q.kl_old, 0.0, kRoundOff);
  EXPECT_NEAR(q.approx_error, 0.0, kRoundOff);
}

TEST(Paced, ZeroOrNonFiniteBetaIsRejected) {
  const Tree tree = Tree::zeros(TreeShape::make(2, 2));
  const TabularPolicy ref = reference_policy(tree);
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { paced_quantities(tree, ref, 0.0); }),
                                 {"beta"}));
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { paced_quantities(tree, ref, std::nan("")); }), {"beta"}));
}

}  // namespace
}  // namespace disa

// Tests the chain rule to the logits (src/train/logit_gradient.h) through the tb head.
//
// Against:
//  - central differences of the head's loss as a function of the logits theta
//    (pi_theta = softmax(theta) fills logp; tb with weight none is smooth in theta):
//    the batch loss on sampled rows, and the exact expectation E_q[l(y; theta)] =
//    sum_y q(y) delta_y(theta)^2 with q fixed, through exact_row_scale;
//  - THEORY.md item 8 on enumerated on-policy batches: E_pi[grad l] = 2 grad KL(pi || p*)
//    with the exact log Z, and unchanged by an error c in log Z (2c E_pi[grad log pi] = 0);
//    grad KL by differences of toy_envs' kl_divergence, independent of the chain rule.
// This is tests/loss/loss_exact_tree_test.cpp's item-8 check, with the library doing what
// that test does by hand (rows per leaf, the chain rule, the B q(y) scaling).
//
// Differences are Richardson-extrapolated, (4 D(h/2) - D(h)) / 3 with h = 1e-3, which
// cancels the h^2 term of the central difference D:
//  truncation ~ h^4 |f^(5)| / 480 ~ 1e-13 for f's derivatives O(10) on these trees;
//  round-off ~ 2^-53 |f| / h ~ 1e-13 x |f| with |f| <= ~100 (a squared residual of
//  T <= 4 log-probs, log Z and beta r <= 4): ~1e-11.
// kFiniteDifference = 1e-9 relative to 1 + max |gradient| leaves a factor ~100.
// kRoundOff = 1e-12 relative for two exact computations of the same vector.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "src/loss/objective.h"
#include "src/loss/trajectory_balance.h"
#include "src/train/logit_gradient.h"
#include "src/train/trajectory_batch.h"
#include "tests/train/fixed_trees.h"
#include "tests/util/errors.h"
#include "toy_envs/divergences.h"
#include "toy_envs/sampler.h"

namespace disa::train {
namespace {

constexpr double kStep = 1e-3;
constexpr double kFiniteDifference = 1e-9;
constexpr double kRoundOff = 1e-12;

// max |got - want| / (1 + max |want|), NaN counting as the largest.
double scaled_distance(const std::vector<double>& got, const std::vector<double>& want) {
  double difference = 0.0, size = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]);
    if (!(e <= difference)) difference = e;
    size = std::max(size, std::fabs(want[i]));
  }
  return got.size() == want.size() ? difference / (1.0 + size) : std::numeric_limits<double>::infinity();
}

std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}

// Richardson-extrapolated central differences of f at theta, every coordinate.
std::vector<double> differences(const std::function<double(const std::vector<double>&)>& f,
                                std::vector<double> theta) {
  auto at = [&](std::size_t i, double step) {
    const double saved = theta[i];
    theta[i] = saved + step;
    const double value = f(theta);
    theta[i] = saved;
    return value;
  };
  auto central = [&](std::size_t i, double h) { return (at(i, h) - at(i, -h)) / (2.0 * h); };
  std::vector<double> grad(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) grad[i] = (4.0 * central(i, kStep / 2) - central(i, kStep)) / 3.0;
  return grad;
}

loss::Objective tb(double beta, bool length_normalize) {
  loss::TrajectoryBalanceOptions options;
  options.beta = beta;
  options.length_normalize = length_normalize;
  return {"tb", options};
}

// A tree, its exact quantities, and logits theta away from both pi_ref and p*.
struct TreeCase {
  test::FixedTree fixed;
  TabularPolicy reference, target;
  double log_z;
  std::vector<double> theta;
};

std::vector<TreeCase> tree_cases() {
  std::vector<TreeCase> out;
  for (test::FixedTree& f : test::fixed_trees()) {
    const TabularPolicy reference = reference_policy(f.tree);
    const TabularPolicy target = target_policy(f.tree, reference, f.beta);
    const double log_z = log_partition(f.tree, f.beta);
    std::vector<double> theta = test::random_logits(f.tree.shape, 5);
    out.push_back({std::move(f), reference, target, log_z, std::move(theta)});
  }
  return out;
}

// The batch loss of fixed sampled rows is L(theta); its gradient chained through the
// library is dL/dtheta. Both residual forms, and log Z off by 0.4 so residuals are not small.
TEST(LogitGradient, MatchesDifferencesOfTheBatchLoss) {
  for (const TreeCase& k : tree_cases()) {
    for (bool length_normalize : {false, true}) {
      SCOPED_TRACE(testing::Message() << k.fixed.name << (length_normalize ? ", length-normalised" : ""));
      const Tree& tree = k.fixed.tree;
      const loss::Objective objective = tb(k.fixed.beta, length_normalize);
      const SampleBatch samples = AliasSampler(k.reference).sample(/*seed=*/77, /*n=*/8);
      auto batch_at = [&](const TabularPolicy& pi) {
        return sampled_batch(tree, {pi, k.reference, k.reference}, samples, /*group_size=*/4, k.log_z + 0.4);
      };
      auto loss_at = [&](const std::vector<double>& theta) {
        return loss::compute_loss(objective, batch_at(TabularPolicy::from_logits(tree.shape, theta)).data.view()).loss;
      };
      const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
      const TrajectoryBatch batch = batch_at(pi);
      const loss::LossResult<double> result = loss::compute_loss(objective, batch.data.view());
      const std::vector<double> chained = logit_gradient(batch, pi, result.grad_logp);
      EXPECT_LE(scaled_distance(chained, differences(loss_at, k.theta)), kFiniteDifference);
    }
  }
}

// The log Z gradient of a learned scalar shared by all rows (flowrl's log Z_phi; here
// tb's log_z input) is the sum of the per-row gradients.
TEST(LogZGradient, MatchesDifferencesOfTheBatchLoss) {
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    const Tree& tree = k.fixed.tree;
    const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
    const SampleBatch samples = AliasSampler(pi).sample(/*seed=*/78, /*n=*/8);
    auto loss_at = [&](const std::vector<double>& log_z) {
      const TrajectoryBatch batch = sampled_batch(tree, {pi, pi, k.reference}, samples, 8, log_z[0]);
      return loss::compute_loss(tb(k.fixed.beta, false), batch.data.view()).loss;
    };
    const TrajectoryBatch batch = sampled_batch(tree, {pi, pi, k.reference}, samples, 8, k.log_z - 0.3);
    const loss::LossResult<double> result = loss::compute_loss(tb(k.fixed.beta, false), batch.data.view());
    const std::vector<double> chained{log_z_gradient(result.grad_log_z)};
    EXPECT_LE(scaled_distance(chained, differences(loss_at, {k.log_z - 0.3})), kFiniteDifference);
  }
}

// With the exact scales c_y = B q(y), the chained gradient is that of the exact
// expectation E_q[l(y; theta)] = sum_y q(y) delta_y(theta)^2, q fixed (offline data).
TEST(LogitGradient, ExactRowScaleGivesTheGradientOfTheExpectation) {
  for (const TreeCase& k : tree_cases()) {
    for (bool length_normalize : {false, true}) {
      SCOPED_TRACE(testing::Message() << k.fixed.name << (length_normalize ? ", length-normalised" : ""));
      const Tree& tree = k.fixed.tree;
      const loss::Objective objective = tb(k.fixed.beta, length_normalize);
      const TabularPolicy q = mixture_proposal(k.reference, k.target, 0.4);
      auto expected_loss_at = [&](const std::vector<double>& theta) {
        const TrajectoryBatch batch =
            enumerated_batch(tree, {TabularPolicy::from_logits(tree.shape, theta), q, k.reference}, k.log_z + 0.2);
        const loss::LossResult<double> result = loss::compute_loss(objective, batch.data.view());
        const std::vector<double>& residual = result.diagnostics.per_sequence.at("residual");
        double total = 0.0;
        for (std::size_t i = 0; i < batch.rows(); ++i) {
          total += std::exp(batch.sampling_log_prob[i]) * residual[i] * residual[i];
        }
        return total;
      };
      const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
      const TrajectoryBatch batch = enumerated_batch(tree, {pi, q, k.reference}, k.log_z + 0.2);
      const loss::LossResult<double> result = loss::compute_loss(objective, batch.data.view());
      const std::vector<double> chained =
          logit_gradient(batch, pi, result.grad_logp, exact_row_scale(batch, static_cast<double>(batch.rows())));
      EXPECT_LE(scaled_distance(chained, differences(expected_loss_at, k.theta)), kFiniteDifference);
    }
  }
}

// sft divides by its kept rows, not by B: with c_y = D q(y), D = loss_denominator (the
// kept rows), the chained gradient is that of E_q[-1(correct) log pi(y)]; c_y = B q(y)
// would scale it by B / B_kept. (The trainer also passes log P_q(correct) as log_mass,
// giving E_q[-log pi(y) | correct], what sampled sft tends to: trainer_test.cpp.)
TEST(LogitGradient, ExactRowScaleOverTheHeadsDenominatorGivesSftsExpectation) {
  const loss::Objective sft = loss::make_objective("sft", {"loss_agg_mode=seq-mean-token-sum"});
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    const Tree& tree = k.fixed.tree;
    const TabularPolicy q = mixture_proposal(k.reference, k.target, 0.4);
    auto expected_loss_at = [&](const std::vector<double>& theta) {
      const TrajectoryBatch batch =
          enumerated_batch(tree, {TabularPolicy::from_logits(tree.shape, theta), q, k.reference}, k.log_z);
      const auto& d = batch.data;
      double total = 0.0;
      for (std::size_t i = 0; i < d.rows; ++i) {
        if (d.reward[i] < 0.5) continue;
        double log_pi = 0.0;
        for (std::size_t t = 0; t < d.columns; ++t) {
          if (d.mask[i * d.columns + t] != 0) log_pi += d.logp[i * d.columns + t];
        }
        total -= std::exp(batch.sampling_log_prob[i]) * log_pi;
      }
      return total;
    };
    const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
    const TrajectoryBatch batch = enumerated_batch(tree, {pi, q, k.reference}, k.log_z);
    const loss::LossBatch<double> view = batch.data.view();
    const double kept = loss::loss_denominator(sft, loss::valid_counts(view), view.reward, view.columns);
    ASSERT_GT(kept, 0.0);
    ASSERT_LT(kept, static_cast<double>(batch.rows()));  // some leaves are wrong: the two scales differ
    const loss::LossResult<double> result = loss::compute_loss(sft, view);
    const std::vector<double> chained = logit_gradient(batch, pi, result.grad_logp, exact_row_scale(batch, kept));
    EXPECT_LE(scaled_distance(chained, differences(expected_loss_at, k.theta)), kFiniteDifference);
  }
}

// THEORY.md item 8: on-policy, E_pi[grad l(y)] = 2 grad KL(pi || p*) (l = delta^2 has no
// 1/2), and a log Z error c adds 2c E_pi[grad log pi] = 0.
TEST(LogitGradient, OnPolicyExpectationIsTwiceKlGradient) {
  for (const TreeCase& k : tree_cases()) {
    SCOPED_TRACE(k.fixed.name);
    const Tree& tree = k.fixed.tree;
    const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
    auto expected_gradient = [&](double log_z) {
      const TrajectoryBatch batch = enumerated_batch(tree, {pi, pi, k.reference}, log_z);
      const loss::LossResult<double> result = loss::compute_loss(tb(k.fixed.beta, false), batch.data.view());
      return logit_gradient(batch, pi, result.grad_logp, exact_row_scale(batch, static_cast<double>(batch.rows())));
    };
    auto kl_at = [&](const std::vector<double>& theta) {
      return kl_divergence(TabularPolicy::from_logits(tree.shape, theta), k.target);
    };
    const std::vector<double> at_exact = expected_gradient(k.log_z);
    EXPECT_LE(scaled_distance(at_exact, scaled(differences(kl_at, k.theta), 2.0)), kFiniteDifference);
    EXPECT_LE(scaled_distance(expected_gradient(k.log_z + 1.5), at_exact), kRoundOff);
  }
}

// Padding is never read: NaN there changes nothing. A NaN at a valid token, or sizes
// that do not fit the batch, are named.
TEST(LogitGradient, PaddingIsInertAndBadInputsAreNamed) {
  const TreeCase k = tree_cases()[1];  // EOS: rows of mixed length, so padding exists
  const Tree& tree = k.fixed.tree;
  const TabularPolicy pi = TabularPolicy::from_logits(tree.shape, k.theta);
  const TrajectoryBatch batch = enumerated_batch(tree, {pi, pi, k.reference}, k.log_z);
  const loss::LossResult<double> result = loss::compute_loss(tb(k.fixed.beta, false), batch.data.view());
  std::vector<double> grad = result.grad_logp;
  const auto padding = std::find(batch.node.begin(), batch.node.end(), kPaddingNode) - batch.node.begin();
  ASSERT_LT(static_cast<std::size_t>(padding), batch.node.size());
  grad[static_cast<std::size_t>(padding)] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(logit_gradient(batch, pi, grad), logit_gradient(batch, pi, result.grad_logp));

  std::vector<double> bad = result.grad_logp;
  bad[0] = std::numeric_limits<double>::quiet_NaN();  // row 0, token 0 is always valid
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { logit_gradient(batch, pi, bad); }),
                                 {"grad_logp[0, 0]", "nan"}));
  const std::vector<double> short_grad(3, 0.0);
  EXPECT_TRUE(
      test::contains_all(test::input_error_message([&] { logit_gradient(batch, pi, short_grad); }), {"grad_logp"}));
  const std::vector<double> short_scale(1, 1.0);
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { logit_gradient(batch, pi, result.grad_logp, short_scale); }), {"row_scale"}));
  const TabularPolicy elsewhere = reference_policy(tree_cases()[0].fixed.tree);
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { logit_gradient(batch, elsewhere, result.grad_logp); }), {"current policy"}));
}

}  // namespace
}  // namespace disa::train

// Scale (label slow): the exact passes on a 10^7-leaf tree (random family,
// V = 10, T = 7: 10^7 leaves, 1,111,111 internal nodes).
//
// Checks, at full size, what the small-tree tests check against enumeration
// (enumeration itself is out of reach here):
//   - log Z by the backward (leaf-to-root) pass equals log Z from the forward
//     pass, i.e. log sum_y exp(log pi_ref(y) + beta r(y)) over the leaf
//     distribution; the two traverse the tree in opposite directions and share no
//     code but the level layout;
//   - binary rewards: Z = 1 + (e^beta - 1) acc with acc summed over the forward
//     leaf distribution (THEORY.md, Notation);
//   - the leaf distribution sums to 1 (leaf_log_probs refuses otherwise);
//   - results are bit-identical with 1 and 2 OpenMP threads.
#include <omp.h>

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "src/log_sum_exp.h"
#include "toy_envs/families/family.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"

namespace disa {
namespace {

TEST(Scale, TenMillionLeavesBackwardForwardAndClosedFormAgree) {
  const Tree tree = make_trees("random", {{"vocab", "10"}, {"horizon", "7"}}, 1)[0];
  ASSERT_EQ(tree.shape.num_leaves(), 10'000'000);     // 10^7
  ASSERT_EQ(tree.shape.num_internal(), 1'111'111);    // 1 + 10 + ... + 10^6
  const double beta = 3.0;

  omp_set_num_threads(1);
  const std::vector<double> flows_1 = log_flows(tree, beta);
  omp_set_num_threads(2);
  const std::vector<double> flows_2 = log_flows(tree, beta);
  EXPECT_TRUE(flows_1 == flows_2) << "flows differ between 1 and 2 threads";

  const std::vector<double> log_p = leaf_log_probs(reference_policy(tree));
  std::vector<double> terms(log_p.size());
  double acc = 0.0;
  for (std::size_t y = 0; y < log_p.size(); ++y) {
    terms[y] = log_p[y] + beta * tree.reward[y];
    if (tree.reward[y] == 1.0) acc += std::exp(log_p[y]);
  }
  // Sums of 10^7 positive terms in double: relative rounding error below
  // 10^7 * 2^-53 ~ 1.1e-9 in the worst case (Higham eq. 4.4); typical errors
  // are ~sqrt(10^7) * 2^-53 ~ 4e-13. Tolerance: the worst case.
  constexpr double kTol = 2e-9;
  EXPECT_NEAR(flows_1[0], log_sum_exp(terms), kTol);
  EXPECT_NEAR(flows_1[0], std::log1p(std::expm1(beta) * acc), kTol);
}

}  // namespace
}  // namespace disa

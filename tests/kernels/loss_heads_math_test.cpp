// CPU checks of kernel 2's per-token helpers (kernels/loss_heads_math.h). The PPO clip and
// the KL penalty are src/loss's own DISA_HD definitions, checked there (golden vectors,
// properties); the kernels' use of them is checked by loss_heads_test (on the CPU device
// in CI, and on a GPU).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/loss_heads_math.h"

namespace {

TEST(LossHeadsMath, AccumulateRowSkipsPaddingAndCountsBadEntries) {
  const double nan = std::nan("");
  const std::vector<double> mask = {1, 0, 1, 0.5, 0};
  const std::vector<double> logp = {-1, nan, -2, -3, INFINITY};
  const std::vector<double> old = {-1.5, nan, -2, -3, 0};
  disa::kernels::TokenFields<double> f;
  f.mask = mask.data();
  f.logp = logp.data();
  f.logp_old = old.data();
  disa::kernels::RowSums s;
  for (int k = 0; k < 5; ++k) disa::kernels::accumulate_row(s, f, k);
  EXPECT_EQ(s.n, 3);    // 1, 1, 0.5 are nonzero
  EXPECT_EQ(s.bad, 1);  // the 0.5 mask
  EXPECT_EQ(s.logp, -6);
  EXPECT_EQ(s.old_diff, 0.5);
  std::vector<double> bad_logp = logp;
  bad_logp[2] = -INFINITY;
  f.logp = bad_logp.data();
  disa::kernels::RowSums s2;
  for (int k = 0; k < 5; ++k) disa::kernels::accumulate_row(s2, f, k);
  EXPECT_EQ(s2.bad, 2);
}

}  // namespace

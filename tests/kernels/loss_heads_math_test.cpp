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

// A gradient entry that overflows Real is counted (the driver then names it with the
// heads' error); padding and entries that fit are not.
TEST(LossHeadsMath, TokenStepCountsGradientsThatOverflowReal) {
  const std::vector<float> mask = {1, 0, 1};
  const std::vector<float> logp = {-1, -1, -1};
  const std::vector<float> old = {float(-1 - std::log(1.1)), -1, -1};
  disa::kernels::TokenFields<float> f;
  f.mask = mask.data();
  f.logp = logp.data();
  f.logp_old = old.data();
  for (int rule : {disa::kernels::kRulePpo, disa::kernels::kRuleGspo}) {
    SCOPED_TRACE(rule);
    disa::kernels::HeadParams h;
    h.rule = rule;
    if (rule == disa::kernels::kRuleGspo) h.clip = {3e-4, 4e-4, 0.0};
    disa::kernels::RowPlan p;
    p.c = 1;
    p.ratio = 1.1;
    // grpo: A > 0 inside the clip range; gspo: A < 0 past the upper bound (unclipped).
    p.adv = rule == disa::kernels::kRulePpo ? 3.3e38 : -3.3e38;
    disa::kernels::TokenSums s;
    EXPECT_FALSE(std::isfinite(disa::kernels::token_step(h, p, f, 0, s)));
    EXPECT_EQ(disa::kernels::token_step(h, p, f, 1, s), 0.0f);
    EXPECT_EQ(s.nonfinite, 1);
    EXPECT_TRUE(std::isfinite(s.pg));
    p.adv = 1;
    disa::kernels::TokenSums fits;
    EXPECT_TRUE(std::isfinite(disa::kernels::token_step(h, p, f, 2, fits)));
    EXPECT_EQ(fits.nonfinite, 0);
  }
}

}  // namespace

// CPU checks of kernel 2's device-callable transcriptions (kernels/loss_heads_math.h)
// against the definitions in src/loss: ppo_clipped_token_hd vs
// disa::loss::ppo_clipped_token and kl_penalty_hd vs disa::loss::kl_penalty, bit for bit
// on random inputs and on the clamp boundaries (+-20 log-ratio, k3's 10).
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/loss_heads_math.h"
#include "src/loss/kl_penalty.h"
#include "src/loss/ppo_clip.h"

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<double> probe_values(std::mt19937_64& rng) {
  std::vector<double> v = {0.0, -0.0, 1e-300, -20.0, 20.0, -20.000000001, 20.000000001, -25.0, 25.0, 3.0, -3.0,
                           0.2, -0.2, 0.28};
  std::normal_distribution<double> normal(0.0, 8.0);
  for (int k = 0; k < 60; ++k) v.push_back(normal(rng));
  return v;
}

TEST(LossHeadsMath, PpoClippedTokenMatchesSrcBitForBit) {
  std::mt19937_64 rng(3);
  const std::vector<double> vals = probe_values(rng);
  const std::vector<disa::loss::PpoClipRange> clips = {{0.2, 0.2, 3.0}, {0.2, 0.28, 1.5}, {0.0, 0.0, 10.0}};
  int checked = 0;
  for (const auto& c : clips) {
    const disa::kernels::ClipRangeHd hc{c.clip_ratio_low, c.clip_ratio_high, c.clip_ratio_c};
    for (double lp : vals) {
      for (double lo : {lp, lp - 0.1, lp + 0.3, lp - 20.0, lp + 20.0, lp - 30.0, lp + 30.0, 0.0}) {
        for (double a : {-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0}) {
          const auto want = disa::loss::ppo_clipped_token(lp, lo, a, c);
          const auto got = disa::kernels::ppo_clipped_token_hd(lp, lo, a, hc);
          ASSERT_TRUE(same_bits(got.value, want.value)) << lp << " " << lo << " " << a;
          ASSERT_TRUE(same_bits(got.dvalue_dlogp, want.dvalue_dlogp)) << lp << " " << lo << " " << a;
          ASSERT_EQ(got.clipped, want.clipped);
          ASSERT_EQ(got.dual_clipped, want.dual_clipped);
          ASSERT_TRUE(same_bits(got.log_ratio, want.log_ratio));
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 3000);
}

TEST(LossHeadsMath, KlPenaltyMatchesSrcBitForBit) {
  using disa::loss::KlEstimator;
  std::mt19937_64 rng(5);
  const std::vector<double> vals = probe_values(rng);
  const std::pair<KlEstimator, int> estimators[] = {{KlEstimator::k1, disa::kernels::kKlK1},
                                                    {KlEstimator::abs, disa::kernels::kKlAbs},
                                                    {KlEstimator::k2, disa::kernels::kKlK2},
                                                    {KlEstimator::k3, disa::kernels::kKlK3}};
  for (const auto& [est, id] : estimators) {
    // The device enum is the host enum's value (loss_heads_plan.cpp casts one to the other).
    ASSERT_EQ(static_cast<int>(est), id);
    for (double lp : vals) {
      for (double lr : {lp, 0.0, lp - 2.0, lp + 2.0, lp - 25.0, lp + 25.0, lp - 3.2, lp + 3.2}) {
        const auto want = disa::loss::kl_penalty(est, lp, lr);
        const auto got = disa::kernels::kl_penalty_hd(id, lp, lr);
        ASSERT_TRUE(same_bits(got.value, want.value)) << int(est) << " " << lp << " " << lr;
        ASSERT_TRUE(same_bits(got.dvalue_dlogp, want.dvalue_dlogp)) << int(est) << " " << lp << " " << lr;
      }
    }
  }
}

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

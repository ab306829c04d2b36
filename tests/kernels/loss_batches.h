// Seeded random loss batches for the kernel-2 checker (loss_heads_test.cpp, on both
// devices), without LibTorch: rows padded inside and at
// the end, NaN and +-inf in the padding, empty rows (including a fully masked one),
// singleton and scattered group ids, log-ratios past PPO's +-20 clamp and GSPO's cap.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "src/loss/loss_batch.h"
#include "src/loss/objective.h"

namespace disa::kernels_test {

enum class Advantages { computed, per_sequence, per_token };

struct BatchSpec {
  std::size_t rows = 4, columns = 7;
  std::uint64_t seed = 1;
  Advantages advantages = Advantages::computed;
  bool holes = true;      // padding inside rows as well
  bool outliers = false;  // |logp - logp_old| = 25 on some tokens
  double old_noise = 0.1;
  double ref_noise = 0.3;
};

inline disa::loss::BatchData<double> make_batch(const BatchSpec& s) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const double garbage[] = {nan, -inf, inf, 1e30, -7.0};
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::size_t B = s.rows, T = s.columns;
  disa::loss::BatchData<double> d;
  d.rows = B;
  d.columns = T;
  d.mask.assign(B * T, 0.0);
  d.logp.resize(B * T);
  d.logp_old.resize(B * T);
  d.logp_ref.resize(B * T);
  for (std::size_t i = 0; i < B; ++i) {
    // Row 0 is fully masked when B >= 3; the last row is never empty.
    std::size_t n = (B >= 3 && (i == 0 || uniform(rng) < 0.15)) ? 0 : 1 + std::size_t(uniform(rng) * T) % T;
    if (i + 1 == B) n = std::max<std::size_t>(n, 1);
    std::vector<std::size_t> cols(T);
    std::iota(cols.begin(), cols.end(), 0);
    if (s.holes) std::shuffle(cols.begin(), cols.end(), rng);
    for (std::size_t k = 0; k < n; ++k) d.mask[i * T + cols[k]] = 1.0;
  }
  for (std::size_t k = 0; k < B * T; ++k) {
    if (d.mask[k] == 0) {
      d.logp[k] = garbage[k % 5];
      d.logp_old[k] = garbage[(k + 1) % 5];
      d.logp_ref[k] = garbage[(k + 2) % 5];
      continue;
    }
    d.logp[k] = -std::fabs(normal(rng)) - 0.01;
    d.logp_old[k] = d.logp[k] + s.old_noise * normal(rng);
    d.logp_ref[k] = d.logp[k] + s.ref_noise * normal(rng);
    if (s.outliers && uniform(rng) < 0.1) d.logp_old[k] = d.logp[k] + (uniform(rng) < 0.5 ? 25.0 : -25.0);
  }
  d.reward.resize(B);
  d.group.resize(B);
  d.log_z.resize(B);
  for (std::size_t i = 0; i < B; ++i) {
    d.reward[i] = uniform(rng) < 0.5 ? 1.0 : 0.0;
    d.group[i] = std::int64_t(i % 3 == 2 ? 100 + i : (i * 7) % 5);  // scattered ids, some singletons
    d.log_z[i] = 0.5 * normal(rng);
  }
  if (s.advantages == Advantages::per_sequence) {
    d.advantages.resize(B);
    for (double& a : d.advantages) a = normal(rng);
  } else if (s.advantages == Advantages::per_token) {
    d.advantages.resize(B * T);
    for (std::size_t k = 0; k < B * T; ++k) d.advantages[k] = d.mask[k] != 0 ? normal(rng) : garbage[k % 5];
  }
  return d;
}

inline disa::loss::BatchData<float> to_float(const disa::loss::BatchData<double>& d) {
  disa::loss::BatchData<float> f;
  f.rows = d.rows;
  f.columns = d.columns;
  auto conv = [](const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); };
  f.logp = conv(d.logp);
  f.logp_old = conv(d.logp_old);
  f.logp_ref = conv(d.logp_ref);
  f.mask = conv(d.mask);
  f.reward = conv(d.reward);
  f.log_z = conv(d.log_z);
  f.advantages = conv(d.advantages);
  f.group = d.group;
  return f;
}

// The objectives and options the GPU path covers, each as (name, settings).
struct Case {
  std::string name;
  std::vector<std::string> settings;
};

inline std::vector<Case> covered_cases() {
  return {
      {"tb", {}},
      {"disa", {"beta=2", "length_normalize=true"}},
      {"tb", {"weight=clipped"}},
      {"tb", {"weight=importance", "clip_ratio_high=0.5"}},
      {"flowrl", {}},
      {"flowrl", {"weight_clip=max10", "beta=3"}},
      {"flowrl", {"weight_clip=symmetric", "clip_ratio=0.1", "norm_adv_by_std=false"}},
      {"flowrl", {"singleton_groups=zero", "epsilon=0.01"}},
      {"grpo", {}},
      {"grpo", {"loss_agg_mode=seq-mean-token-sum", "kl_coef=0.1", "kl_estimator=k1"}},
      {"grpo", {"loss_agg_mode=seq-mean-token-mean", "kl_coef=0.2", "kl_estimator=abs", "clip_ratio_high=0.28"}},
      {"grpo", {"loss_agg_mode=seq-mean-token-sum-norm", "kl_coef=0.05", "kl_estimator=k2", "clip_ratio_c=2"}},
      {"grpo", {"kl_coef=1", "kl_estimator=k3", "norm_adv_by_std=false", "singleton_groups=zero"}},
      {"gspo", {}},
      {"gspo", {"clip_ratio_low=0.1", "clip_ratio_high=0.2", "norm_adv_by_std=false"}},
  };
}

}  // namespace disa::kernels_test

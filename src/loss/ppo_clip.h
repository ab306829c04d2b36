// The per-token PPO clipped surrogate with dual clip, as verl's compute_policy_loss_vanilla
// defines it (LOSSES.md section 3; verl@b178a3cd core_algos.py):
//
//   d   = clamp(logp - logp_old, -20, 20),   rho = e^d
//   l1  = -A rho,   l2 = -A clamp(rho, 1 - clip_ratio_low, 1 + clip_ratio_high)
//   lc  = max(l1, l2)
//   L   = min(lc, -A clip_ratio_c)  if A < 0  (dual clip),   else lc
//
// dL/dlogp = -A rho where the unclipped branch l1 is the active one (and d is inside
// the +-20 clamp), 0 where a clipped constant is active. At ratio 1 nothing clips.
// DISA_HD: the GPU loss heads (kernels/loss_heads_math.h) call this same definition.
#pragma once

#include <math.h>

#include "src/host_device.h"

namespace disa::loss {

struct PpoClipRange {
  double clip_ratio_low = 0.2;
  double clip_ratio_high = 0.2;
  double clip_ratio_c = 3.0;  // dual-clip bound, > 1
};

struct ClippedToken {
  double value = 0;
  double dvalue_dlogp = 0;
  bool clipped = false;        // l2 > l1 (counts in pg_clipfrac)
  bool dual_clipped = false;   // A < 0 and lc > -A c (counts in pg_clipfrac_lower)
  double log_ratio = 0;        // d after the clamp (for ppo_kl)
};

DISA_HD inline ClippedToken ppo_clipped_token(double logp, double logp_old, double advantage,
                                      const PpoClipRange& clip) {
  const double raw = logp - logp_old;
  const double d = hd_clamp(raw, -20.0, 20.0);
  const bool d_inside = raw >= -20.0 && raw <= 20.0;
  const double rho = exp(d);
  const double l1 = -advantage * rho;
  const double l2 = -advantage * hd_clamp(rho, 1.0 - clip.clip_ratio_low, 1.0 + clip.clip_ratio_high);
  ClippedToken out;
  out.log_ratio = d;
  out.clipped = l2 > l1;
  const double lc = hd_max(l1, l2);
  // Unclipped branch active: l1 >= l2 (on a tie inside the range torch splits the
  // gradient between two equal branches; the sum is still -A rho).
  double grad = (l1 >= l2 && d_inside) ? -advantage * rho : 0.0;
  double value = lc;
  if (advantage < 0) {
    const double l3 = -advantage * clip.clip_ratio_c;
    if (lc > l3) {
      out.dual_clipped = true;
      value = l3;
      grad = 0.0;
    }
  }
  out.value = value;
  out.dvalue_dlogp = grad;
  return out;
}

}  // namespace disa::loss

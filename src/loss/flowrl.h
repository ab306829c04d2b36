// FlowRL's objective exactly as its reference code computes it: objective `flowrl`
// (LOSSES.md section 7; golden/README.md "FlowRL: three versions of one objective").
// Per sequence i, with mmean_t the masked mean over valid tokens (denominator n_i + 1e-8)
// and msum_t the masked sum:
//
//   Lbar_i  = mmean_t logp,   Lref_i = mmean_t logp_ref,   R_i = mmean_t A[i,t]
//             (A = the GRPO advantage computed from reward and group, or the batch's override)
//   delta_i = log_z_i + Lbar_i - beta R_i - Lref_i                       beta = 15
//   w_i     = sg[e^{msum_t (logp - logp_old)}], then by weight_clip:
//             none       unclipped                 FlowRL@decbc57 (paper release; default)
//             max10      min(w, weight_clamp_max)  verl recipe @f11af2d
//             cispo      tokens with (A > 0 and ratio > 1 + clip_ratio_high) or
//                        (A < 0 and ratio < 1 - clip_ratio_low) are dropped from every masked
//                        mean and sum (ratio = e^{logp - logp_old}), then
//                        w = clamp(w, 1 - clip_ratio_low, 1 + clip_ratio_high)   verl recipe @4bf4bd3
//             symmetric  clamp(w, 1 - clip_ratio, 1 + clip_ratio)   the paper's text
//   L       = (1/B) sum_i w_i delta_i^2
//   dL/dlogp[i,t] = (2/B) w_i delta_i m'[i,t]/(n'_i + 1e-8),   dL/dlog_z_i = (2/B) w_i delta_i
//             (m', n' = the kept mask and count; m' = m except under cispo)
//
// Quirks kept on purpose (they are the reference's behaviour): beta multiplies the
// group-standardised advantage, not a raw reward, and that term is not length-normalised
// while the log-probs are; the weight uses the sum of token log-ratios while the residual
// uses means; an empty row has w = 1 and contributes log_z^2 / B.
// Defaults: beta 15, weight_clip none, weight_clamp_max 10, clip_ratio 0.2,
// clip_ratio_low 0.2, clip_ratio_high 0.28, norm_adv_by_std true, epsilon 1e-6. A bound
// the chosen weight_clip does not read (above) is an InputError naming it, its value and
// the variant; list() shows only the bounds read.
// Diagnostics per sequence: residual, weight, advantages (when per sequence), kept_tokens
// (cispo); scalars: residual_rms, weight_max, dropped_token_fraction (cispo).
// A weight that overflows (paper release, summed log-ratio above ~709.78) is an error
// naming the row instead of the reference's inf.
#pragma once

#include "src/loss/grpo_advantage.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"

namespace disa::loss {

enum class FlowRlWeightClip { none, max10, cispo, symmetric };

struct FlowRlOptions {
  double beta = 15.0;
  FlowRlWeightClip weight_clip = FlowRlWeightClip::none;
  double weight_clamp_max = 10.0;
  double clip_ratio = 0.2;
  double clip_ratio_low = 0.2;
  double clip_ratio_high = 0.28;
  GroupAdvantageOptions advantage;

  static FlowRlOptions from(Settings& settings);
  OptionList list() const;
};

unsigned flowrl_fields(const FlowRlOptions& options);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> flowrl_loss(const LossBatch<Real>& batch, const FlowRlOptions& options);

}  // namespace disa::loss

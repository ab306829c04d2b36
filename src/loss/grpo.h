// The GRPO/PPO policy loss: objective `grpo` (LOSSES.md sections 2-4, 6; verl@b178a3cd
// compute_policy_loss_vanilla + agg_loss + kl_penalty, composed as verl's actor does):
//
//   A[i,t]  = GRPO group-normalised advantage of row i (grpo_advantage.h), or the override
//   L_tok   = ppo_clipped_token(logp, logp_old, A)    clip, asymmetric clip, dual clip (ppo_clip.h)
//   L       = agg(L_tok, loss_agg_mode) + kl_coef agg(k(logp, logp_ref), loss_agg_mode)
//   dL/dlogp[i,t] = c_i m[i,t] (dL_tok/dlogp + kl_coef dk/dlogp)     c_i from aggregation.h
//
// Defaults (verl's): clip_ratio 0.2 (sets clip_ratio_low and clip_ratio_high unless they
// are given), clip_ratio_c 3, loss_agg_mode token-mean, kl_coef 0, kl_estimator k3
// (low_var_kl), norm_adv_by_std true, epsilon 1e-6, singleton_groups reference.
// Diagnostics: pg_clipfrac = masked_mean(l2 > l1), pg_clipfrac_lower = masked_mean(dual clip
// active), ppo_kl = masked_mean(logp_old - logp) (clamped log-ratio; masked means with
// + 1e-8), pg_loss, kl_loss (when kl_coef != 0); per sequence: advantages.
#pragma once

#include "src/loss/aggregation.h"
#include "src/loss/grpo_advantage.h"
#include "src/loss/kl_penalty.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/ppo_clip.h"
#include "src/loss/settings.h"

namespace disa::loss {

struct GrpoOptions {
  GroupAdvantageOptions advantage;
  PpoClipRange clip;
  LossAggMode loss_agg_mode = LossAggMode::token_mean;
  double kl_coef = 0.0;
  KlEstimator kl_estimator = KlEstimator::k3;

  static GrpoOptions from(Settings& settings);
  OptionList list() const;
};

unsigned grpo_fields(const GrpoOptions& options);

// verl's clip range, as compute_policy_loss_vanilla (grpo) and compute_policy_loss_gspo
// (gspo) both read it: clip_ratio_low and clip_ratio_high, each falling back to clip_ratio
// when that is given and it is not, else to the head's own default (grpo: verl's 0.2/0.2;
// gspo: the GSPO paper's 3e-4/4e-4). One reader, so the two heads cannot drift apart again
// (gspo used to refuse clip_ratio). clip_ratio also sets the lower bound 1 - clip_ratio,
// hence [0, 1).
struct ClipRatios {
  double low = 0;
  double high = 0;
};
ClipRatios read_clip_ratios(Settings& settings, double default_low, double default_high);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> grpo_loss(const LossBatch<Real>& batch, const GrpoOptions& options);

}  // namespace disa::loss

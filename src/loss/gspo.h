// GSPO, "GSPO-token" form: objective `gspo` (LOSSES.md section 5; verl@b178a3cd
// compute_policy_loss_gspo):
//
//   s_i     = e^{sum_t m[i,t] (logp - logp_old) / max(n_i, 1)}   length-normalised sequence ratio
//   log s_it = logp[i,t] - sg[logp[i,t]] + sg[log s_i], clamped at max 10   (value s_i)
//   L_tok   = max(-A[i,t] s_it, -A[i,t] clamp(s_it, 1 - clip_ratio_low, 1 + clip_ratio_high))
//   L       = agg(L_tok, seq-mean-token-mean)      always this mode, as verl does
//   dL/dlogp[i,t] = -A[i,t] s_i / (B' (n_i + 1e-8)) on the unclipped branch, else 0
//                   (0 also where log s_i > 10)
//
// Defaults (the GSPO paper's): clip_ratio_low 3e-4, clip_ratio_high 4e-4, no KL term,
// norm_adv_by_std true, epsilon 1e-6. clip_ratio, when given, is the fallback of both
// bounds, as in verl (read_clip_ratios, grpo.h). Diagnostics: pg_clipfrac = masked_mean(l2 > l1),
// pg_clipfrac_lower = 0, ppo_kl = masked_mean(logp_old - logp); per sequence: ratio (s_i),
// advantages.
#pragma once

#include "src/loss/grpo_advantage.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"

namespace disa::loss {

struct GspoOptions {
  GroupAdvantageOptions advantage;
  double clip_ratio_low = 3e-4;
  double clip_ratio_high = 4e-4;

  static GspoOptions from(Settings& settings);
  OptionList list() const;
};

unsigned gspo_fields(const GspoOptions& options);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> gspo_loss(const LossBatch<Real>& batch, const GspoOptions& options);

}  // namespace disa::loss

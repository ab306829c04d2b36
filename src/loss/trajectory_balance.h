// The trajectory-balance head with a frozen log Z: objective `tb`, alias `disa`
// (LOSSES.md section 8; THEORY.md items 8-10). Notation of THEORY.md, per sequence i:
//
//   delta_i = log_z_i + s_i sum_t m[i,t] (logp[i,t] - logp_ref[i,t]) - beta r_i
//             s_i = 1, or 1/n_i with length_normalize (FlowRL's 1/|y|)
//   L       = (1/B) sum_i w_i delta_i^2
//   w_i     = 1                                                weight=none (default)
//           = sg[clamp(e^{sum_t m (logp - logp_old)}, 1 - clip_ratio_low, 1 + clip_ratio_high)]
//                                                              weight=clipped (FlowRL-style)
//           = sg[e^{sum_t m (logp - logp_old)}] = sg[pi_theta(y_i)/q(y_i)]
//                                                              weight=importance (offline data
//                                                              from a proposal q = logp_old)
//   dL/dlogp[i,t] = (2/B) w_i delta_i s_i m[i,t],   dL/dlog_z_i = (2/B) w_i delta_i
//
// With the exact log Z and no length normalisation, delta = log pi_theta(y)/p*(y), zero
// at pi_theta = p*; on-policy E[delta grad log pi] = grad KL(pi || p*) (item 8).
// Defaults: beta 1, length_normalize false, weight none, clip_ratio_low 0.2,
// clip_ratio_high 0.28. Empty rows count in B (their residual is log_z - beta r).
// Diagnostics per sequence: residual, weight; scalars: residual_rms, weight_max.
// An importance weight that overflows is an error naming the row.
#pragma once

#include <vector>

#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"

namespace disa::loss {

enum class TbWeight { none, clipped, importance };

struct TrajectoryBalanceOptions {
  double beta = 1.0;
  bool length_normalize = false;
  TbWeight weight = TbWeight::none;
  double clip_ratio_low = 0.2;
  double clip_ratio_high = 0.28;

  static TrajectoryBalanceOptions from(Settings& settings);
  OptionList list() const;
};

unsigned trajectory_balance_fields(const TrajectoryBalanceOptions& options);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> trajectory_balance_loss(const LossBatch<Real>& batch, const TrajectoryBalanceOptions& options);

// The loss (1/B) sum w_i delta_i^2 and the diagnostics from the per-row residuals, weights
// and log-ratios: the last step of the head, shared with the GPU head's host step
// (kernels/loss_heads_plan.cpp). NumericalError on a non-finite weight (naming the row)
// or loss.
template <class Real>
void finish_trajectory_balance(LossResult<Real>& result, std::vector<double> residual, std::vector<double> weight,
                               const std::vector<double>& log_weight);

}  // namespace disa::loss

// The KL penalty to the reference on its own: objective `kl`, so the KL term of a
// composed loss can be checked alone (LOSSES.md section 6).
//
//   L = kl_coef agg(k(logp[i,t], logp_ref[i,t]), loss_agg_mode)     k from kl_penalty.h
//   dL/dlogp[i,t] = kl_coef c_i m[i,t] dk/dlogp
//
// Defaults: kl_estimator k3 (verl's low_var_kl), loss_agg_mode token-mean, kl_coef 1.
// Diagnostics: kl (the aggregated estimate before kl_coef); per sequence: kl_sum.
#pragma once

#include "src/loss/aggregation.h"
#include "src/loss/kl_penalty.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"

namespace disa::loss {

struct KlLossOptions {
  KlEstimator kl_estimator = KlEstimator::k3;
  LossAggMode loss_agg_mode = LossAggMode::token_mean;
  double kl_coef = 1.0;

  static KlLossOptions from(Settings& settings);
  OptionList list() const;
};

unsigned kl_loss_fields(const KlLossOptions& options);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> kl_loss(const LossBatch<Real>& batch, const KlLossOptions& options);

}  // namespace disa::loss

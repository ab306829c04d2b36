// Supervised fine-tuning on reward-filtered sequences (rejection-sampling distillation,
// the SFT baseline of THEORY.md item 13): objective `sft`.
//
//   keep_i  = [r_i >= reward_threshold]
//   L       = agg(-logp[i,t] over kept rows, loss_agg_mode)
//   dL/dlogp[i,t] = -c_i m[i,t] keep_i           c_i from aggregation.h over the kept rows
//
// On samples y ~ q its minimiser is q(y | correct), not p* (item 13).
// Defaults: reward_threshold 0.5 (the toy trees' "correct"), loss_agg_mode token-mean.
// A batch with no kept token has loss 0 and zero gradient (nothing to imitate).
// Diagnostics: kept_sequences, kept_tokens.
#pragma once

#include "src/loss/aggregation.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"

namespace disa::loss {

struct SftOptions {
  double reward_threshold = 0.5;
  LossAggMode loss_agg_mode = LossAggMode::token_mean;

  static SftOptions from(Settings& settings);
  OptionList list() const;
};

unsigned sft_fields(const SftOptions& options);

// Validates the batch (validate_batch; InputError naming the field), then computes.
template <class Real>
LossResult<Real> sft_loss(const LossBatch<Real>& batch, const SftOptions& options);

}  // namespace disa::loss

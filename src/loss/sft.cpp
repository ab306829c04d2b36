#include "src/loss/sft.h"

#include <fmt/format.h>

#include <cmath>

#include "src/loss/row_ops.h"
#include "src/numerical_error.h"

namespace disa::loss {

SftOptions SftOptions::from(Settings& settings) {
  SftOptions o;
  o.reward_threshold = settings.number("reward_threshold", o.reward_threshold);
  o.loss_agg_mode =
      parse_loss_agg_mode(settings.word("loss_agg_mode", "token-mean"), settings.objective() + ": loss_agg_mode");
  return o;
}

OptionList SftOptions::list() const {
  return {{"reward_threshold", fmt::format("{}", reward_threshold)}, {"loss_agg_mode", to_string(loss_agg_mode)}};
}

unsigned sft_fields(const SftOptions&) { return kLogp | kMask | kReward; }

template <class Real>
LossResult<Real> sft_loss(const LossBatch<Real>& batch, const SftOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  std::vector<std::size_t> kept = validated_counts(batch, sft_fields(options), "sft", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  std::size_t kept_rows = 0, kept_tokens = 0;
  for (std::size_t i = 0; i < B; ++i) {
    if (double(batch.reward[i]) < options.reward_threshold) kept[i] = 0;
    kept_rows += kept[i] > 0;
    kept_tokens += kept[i];
  }
  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  result.diagnostics.scalars["kept_sequences"] = double(kept_rows);
  result.diagnostics.scalars["kept_tokens"] = double(kept_tokens);
  if (kept_tokens == 0) return result;  // nothing to imitate: loss 0, no gradient

  const std::vector<double> c = aggregation_coefficients(options.loss_agg_mode, kept, T, "sft");
  std::vector<double> nll(B, 0.0);
#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    if (kept[i] == 0) continue;
    const std::size_t row = i * T;
    const std::size_t len = ends[i];
    const Real* m = batch.mask.data() + row;
    nll[i] = -masked_row_sum(m, batch.logp.data() + row, len);
    masked_row_fill(result.grad_logp.data() + row, m, Real(-c[i]), len);
  }
  double loss = 0.0;
  for (std::size_t i = 0; i < B; ++i) loss += c[i] * nll[i];
  result.loss = loss;
  if (!std::isfinite(result.loss)) throw NumericalError(fmt::format("sft: the loss is not finite ({})", loss));
  return result;
}

template LossResult<float> sft_loss<float>(const LossBatch<float>&, const SftOptions&);
template LossResult<double> sft_loss<double>(const LossBatch<double>&, const SftOptions&);

}  // namespace disa::loss

#include "src/loss/gspo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "src/loss/aggregation.h"
#include "src/loss/finite_gradient.h"
#include "src/loss/grpo.h"
#include "src/loss/row_ops.h"
#include "src/numerical_error.h"

namespace disa::loss {

namespace {
// verl clamps the per-token log ratio at 10 (e^10 ~ 2.2e4) before exponentiating.
constexpr double kMaxLogRatio = 10.0;
}  // namespace

GspoOptions GspoOptions::from(Settings& settings) {
  GspoOptions o;
  // verl's compute_policy_loss_gspo falls back to clip_ratio as its PPO loss does.
  const ClipRatios clip = read_clip_ratios(settings, o.clip_ratio_low, o.clip_ratio_high);
  o.clip_ratio_low = clip.low;
  o.clip_ratio_high = clip.high;
  o.advantage = group_advantage_options(settings);
  return o;
}

OptionList GspoOptions::list() const {
  OptionList list = {{"clip_ratio_low", fmt::format("{}", clip_ratio_low)},
                     {"clip_ratio_high", fmt::format("{}", clip_ratio_high)}};
  append_options(list, advantage);
  return list;
}

unsigned gspo_fields(const GspoOptions&) { return kLogp | kMask | kLogpOld | kAdvantages; }

template <class Real>
LossResult<Real> gspo_loss(const LossBatch<Real>& batch, const GspoOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  const std::vector<std::size_t> counts = validated_counts(batch, gspo_fields(options), "gspo", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  const TokenAdvantages<Real> advantages(batch, counts, options.advantage);
  const std::vector<double> c = aggregation_coefficients(LossAggMode::seq_mean_token_mean, counts, T, "gspo");
  const double low = 1.0 - options.clip_ratio_low;
  const double high = 1.0 + options.clip_ratio_high;

  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  std::vector<double> pg_sum(B, 0.0), log_ratio_sum(B, 0.0), ratio(B, 1.0);
  std::vector<std::size_t> clipped(B, 0);
  std::vector<unsigned char> grad_finite(B, 1);  // require_finite_token_gradients

#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    const std::size_t row = i * T;
    const std::size_t len = ends[i];
    const Real* m = batch.mask.data() + row;
    const double sum = masked_row_difference(m, batch.logp.data() + row, batch.logp_old.data() + row, len);
    log_ratio_sum[i] = sum;
    const double log_s = sum / double(std::max<std::size_t>(counts[i], 1));
    const bool passes_gradient = log_s <= kMaxLogRatio;  // torch.clamp(max=10) passes it at the bound
    const double s = std::exp(std::min(log_s, kMaxLogRatio));
    ratio[i] = s;
    Real* grad = result.grad_logp.data() + row;
    double pg = 0.0;  // local: stores through `grad` could alias pg_sum (Real = double)
    std::size_t n_clipped = 0;
    bool finite = true;
    for (std::size_t t = 0; t < len; ++t) {
      if (m[t] == Real(0)) continue;
      const double a = advantages.at(i, t);
      const double l1 = -a * s;
      const double l2 = -a * std::clamp(s, low, high);
      pg += std::max(l1, l2);
      n_clipped += l2 > l1;
      const Real rounded = Real((l1 >= l2 && passes_gradient) ? c[i] * (-a * s) : 0.0);
      grad[t] = rounded;
      finite &= std::isfinite(rounded);
    }
    grad_finite[i] = finite;
    pg_sum[i] = pg;
    clipped[i] = n_clipped;
  }

  double loss = 0.0, neg_log_ratio = 0.0;
  std::size_t tokens = 0, clipped_total = 0;
  for (std::size_t i = 0; i < B; ++i) {
    loss += c[i] * pg_sum[i];
    neg_log_ratio -= log_ratio_sum[i];
    tokens += counts[i];
    clipped_total += clipped[i];
  }
  result.loss = loss;
  if (!std::isfinite(result.loss)) {
    throw NumericalError(fmt::format("gspo: the loss is not finite ({})", result.loss));
  }
  require_finite_token_gradients("gspo", result.grad_logp, T, grad_finite);
  auto& d = result.diagnostics;
  const double masked_mean_denominator = double(tokens) + kMaskedMeanEpsilon;
  d.scalars["pg_clipfrac"] = double(clipped_total) / masked_mean_denominator;
  d.scalars["pg_clipfrac_lower"] = 0.0;
  d.scalars["ppo_kl"] = neg_log_ratio / masked_mean_denominator;
  if (!advantages.per_sequence().empty()) d.per_sequence["advantages"] = advantages.per_sequence();
  d.per_sequence["ratio"] = std::move(ratio);
  return result;
}

template LossResult<float> gspo_loss<float>(const LossBatch<float>&, const GspoOptions&);
template LossResult<double> gspo_loss<double>(const LossBatch<double>&, const GspoOptions&);

}  // namespace disa::loss

#include "src/loss/grpo.h"

#include <fmt/format.h>

#include <cmath>

#include "src/loss/finite_gradient.h"
#include "src/numerical_error.h"

namespace disa::loss {

ClipRatios read_clip_ratios(Settings& settings, double default_low, double default_high) {
  const bool fallback_given = settings.has("clip_ratio");
  // Read even when absent, so that an unknown-option message lists it among the known keys.
  const double clip_ratio = settings.number_in("clip_ratio", default_low, 0, 1);
  ClipRatios r;
  r.low = settings.number_in("clip_ratio_low", fallback_given ? clip_ratio : default_low, 0, 1);
  r.high = settings.number_in("clip_ratio_high", fallback_given ? clip_ratio : default_high, 0, kNoBound);
  return r;
}

GrpoOptions GrpoOptions::from(Settings& settings) {
  GrpoOptions o;
  const ClipRatios clip = read_clip_ratios(settings, o.clip.clip_ratio_low, o.clip.clip_ratio_high);
  o.clip.clip_ratio_low = clip.low;
  o.clip.clip_ratio_high = clip.high;
  o.clip.clip_ratio_c = settings.number_in("clip_ratio_c", o.clip.clip_ratio_c, 1, kNoBound, /*low_open=*/true);
  o.loss_agg_mode =
      parse_loss_agg_mode(settings.word("loss_agg_mode", "token-mean"), settings.objective() + ": loss_agg_mode");
  o.kl_coef = read_kl_coef(settings, o.kl_coef);
  o.kl_estimator = read_kl_estimator(settings);
  o.advantage = group_advantage_options(settings);
  return o;
}

OptionList GrpoOptions::list() const {
  OptionList list = {{"clip_ratio_low", fmt::format("{}", clip.clip_ratio_low)},
                     {"clip_ratio_high", fmt::format("{}", clip.clip_ratio_high)},
                     {"clip_ratio_c", fmt::format("{}", clip.clip_ratio_c)},
                     {"loss_agg_mode", to_string(loss_agg_mode)},
                     {"kl_coef", fmt::format("{}", kl_coef)},
                     {"kl_estimator", to_string(kl_estimator)}};
  append_options(list, advantage);
  return list;
}

unsigned grpo_fields(const GrpoOptions& options) {
  unsigned fields = kLogp | kMask | kLogpOld | kAdvantages;
  if (options.kl_coef != 0) fields |= kLogpRef;
  return fields;
}

template <class Real>
LossResult<Real> grpo_loss(const LossBatch<Real>& batch, const GrpoOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  const std::vector<std::size_t> counts = validated_counts(batch, grpo_fields(options), "grpo", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  const TokenAdvantages<Real> advantages(batch, counts, options.advantage);
  const std::vector<double> c = aggregation_coefficients(options.loss_agg_mode, counts, T, "grpo");
  const bool with_kl = options.kl_coef != 0;

  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  // Per-row sums, reduced serially below so the result does not depend on the thread count.
  std::vector<double> pg_sum(B, 0.0), kl_sum(B, 0.0), neg_log_ratio_sum(B, 0.0);
  std::vector<std::size_t> clipped(B, 0), dual_clipped(B, 0);
  std::vector<unsigned char> grad_finite(B, 1);  // require_finite_token_gradients

#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    const std::size_t row = i * T;
    const std::size_t len = ends[i];
    const Real* m = batch.mask.data() + row;
    const Real* logp = batch.logp.data() + row;
    const Real* logp_old = batch.logp_old.data() + row;
    Real* grad = result.grad_logp.data() + row;
    // Local accumulators: stores through `grad` could alias the per-row vectors (Real = double).
    double pg = 0.0, kl_total = 0.0, neg_log_ratio = 0.0;
    std::size_t n_clipped = 0, n_dual = 0;
    bool finite = true;
    for (std::size_t t = 0; t < len; ++t) {
      if (m[t] == Real(0)) continue;
      const ClippedToken tok =
          ppo_clipped_token(double(logp[t]), double(logp_old[t]), advantages.at(i, t), options.clip);
      pg += tok.value;
      n_clipped += tok.clipped;
      n_dual += tok.dual_clipped;
      neg_log_ratio -= tok.log_ratio;
      double g = tok.dvalue_dlogp;
      if (with_kl) {
        const TokenTerm kl = kl_penalty(options.kl_estimator, double(logp[t]), double(batch.logp_ref[row + t]));
        kl_total += kl.value;
        g += options.kl_coef * kl.dvalue_dlogp;
      }
      const Real rounded = Real(c[i] * g);
      grad[t] = rounded;
      finite &= std::isfinite(rounded);
    }
    grad_finite[i] = finite;
    pg_sum[i] = pg;
    kl_sum[i] = kl_total;
    neg_log_ratio_sum[i] = neg_log_ratio;
    clipped[i] = n_clipped;
    dual_clipped[i] = n_dual;
  }

  double pg_loss = 0.0, kl_value = 0.0, neg_log_ratio = 0.0;
  std::size_t tokens = 0, clipped_total = 0, dual_total = 0;
  for (std::size_t i = 0; i < B; ++i) {
    pg_loss += c[i] * pg_sum[i];
    kl_value += c[i] * kl_sum[i];
    neg_log_ratio += neg_log_ratio_sum[i];
    tokens += counts[i];
    clipped_total += clipped[i];
    dual_total += dual_clipped[i];
  }
  result.loss = pg_loss + options.kl_coef * kl_value;
  if (!std::isfinite(result.loss)) {
    throw NumericalError(fmt::format("grpo: the loss is not finite ({})", result.loss));
  }
  require_finite_token_gradients("grpo", result.grad_logp, T, grad_finite);
  auto& d = result.diagnostics;
  const double masked_mean_denominator = double(tokens) + kMaskedMeanEpsilon;
  d.scalars["pg_loss"] = pg_loss;
  d.scalars["pg_clipfrac"] = double(clipped_total) / masked_mean_denominator;
  d.scalars["pg_clipfrac_lower"] = double(dual_total) / masked_mean_denominator;
  d.scalars["ppo_kl"] = neg_log_ratio / masked_mean_denominator;
  if (with_kl) d.scalars["kl_loss"] = kl_value;
  if (!advantages.per_sequence().empty()) d.per_sequence["advantages"] = advantages.per_sequence();
  return result;
}

template LossResult<float> grpo_loss<float>(const LossBatch<float>&, const GrpoOptions&);
template LossResult<double> grpo_loss<double>(const LossBatch<double>&, const GrpoOptions&);

}  // namespace disa::loss

#include "src/loss/trajectory_balance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "src/loss/finite_gradient.h"
#include "src/loss/row_ops.h"
#include "src/numerical_error.h"

namespace disa::loss {

TrajectoryBalanceOptions TrajectoryBalanceOptions::from(Settings& settings) {
  TrajectoryBalanceOptions o;
  o.beta = settings.number("beta", o.beta);
  o.length_normalize = settings.flag("length_normalize", o.length_normalize);
  const std::string weight = settings.word("weight", "none");
  if (weight == "none") {
    o.weight = TbWeight::none;
  } else if (weight == "clipped") {
    o.weight = TbWeight::clipped;
  } else if (weight == "importance") {
    o.weight = TbWeight::importance;
  } else {
    settings.reject("weight", weight, "expected none, clipped or importance");
  }
  o.clip_ratio_low = settings.number_in("clip_ratio_low", o.clip_ratio_low, 0, 1);
  o.clip_ratio_high = settings.number_in("clip_ratio_high", o.clip_ratio_high, 0, kNoBound);
  return o;
}

OptionList TrajectoryBalanceOptions::list() const {
  const char* weight_name = weight == TbWeight::none ? "none" : weight == TbWeight::clipped ? "clipped" : "importance";
  return {{"beta", fmt::format("{}", beta)},
          {"length_normalize", length_normalize ? "true" : "false"},
          {"weight", weight_name},
          {"clip_ratio_low", fmt::format("{}", clip_ratio_low)},
          {"clip_ratio_high", fmt::format("{}", clip_ratio_high)}};
}

unsigned trajectory_balance_fields(const TrajectoryBalanceOptions& options) {
  unsigned fields = kLogp | kMask | kLogpRef | kReward | kLogZ;
  if (options.weight != TbWeight::none) fields |= kLogpOld;
  return fields;
}

template <class Real>
LossResult<Real> trajectory_balance_loss(const LossBatch<Real>& batch, const TrajectoryBalanceOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  const std::vector<std::size_t> counts = validated_counts(batch, trajectory_balance_fields(options), "tb", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  result.grad_log_z.assign(B, Real(0));
  std::vector<double> residual(B), weight(B), log_weight(B, 0.0);

#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    const std::size_t row = i * T;
    const std::size_t len = ends[i];
    const Real* m = batch.mask.data() + row;
    // log pi_theta(y)/pi_ref(y) and log pi_theta(y)/q(y)
    const double log_ratio_ref = masked_row_difference(m, batch.logp.data() + row, batch.logp_ref.data() + row, len);
    const double log_ratio_old =
        options.weight == TbWeight::none
            ? 0.0
            : masked_row_difference(m, batch.logp.data() + row, batch.logp_old.data() + row, len);
    const double scale = options.length_normalize ? 1.0 / double(std::max<std::size_t>(counts[i], 1)) : 1.0;
    const double delta = double(batch.log_z[i]) + scale * log_ratio_ref - options.beta * double(batch.reward[i]);
    double w = 1.0;
    if (options.weight == TbWeight::clipped) {
      w = std::clamp(std::exp(log_ratio_old), 1.0 - options.clip_ratio_low, 1.0 + options.clip_ratio_high);
    } else if (options.weight == TbWeight::importance) {
      w = std::exp(log_ratio_old);
    }
    residual[i] = delta;
    weight[i] = w;
    log_weight[i] = log_ratio_old;
    const double g = 2.0 / double(B) * w * delta;
    result.grad_log_z[i] = Real(g);
    masked_row_fill(result.grad_logp.data() + row, m, Real(g * scale), len);
  }

  finish_trajectory_balance(result, std::move(residual), std::move(weight), log_weight);
  return result;
}

template <class Real>
void finish_trajectory_balance(LossResult<Real>& result, std::vector<double> residual, std::vector<double> weight,
                               const std::vector<double>& log_weight) {
  const std::size_t B = residual.size();
  double loss = 0.0, squares = 0.0, weight_max = 0.0;
  for (std::size_t i = 0; i < B; ++i) {
    if (!std::isfinite(weight[i])) {
      throw NumericalError(
          fmt::format("tb: importance weight of row {} is not finite (log pi_theta/q = {})", i, log_weight[i]));
    }
    loss += weight[i] * residual[i] * residual[i];
    squares += residual[i] * residual[i];
    weight_max = std::max(weight_max, weight[i]);
  }
  result.loss = loss / double(B);
  if (!std::isfinite(result.loss)) throw NumericalError(fmt::format("tb: the loss is not finite ({})", result.loss));
  require_finite_row_gradients("tb", result.grad_log_z, weight, residual);
  result.diagnostics.scalars["residual_rms"] = std::sqrt(squares / double(B));
  result.diagnostics.scalars["weight_max"] = weight_max;
  result.diagnostics.per_sequence["residual"] = std::move(residual);
  result.diagnostics.per_sequence["weight"] = std::move(weight);
}

template void finish_trajectory_balance<float>(LossResult<float>&, std::vector<double>, std::vector<double>,
                                               const std::vector<double>&);
template void finish_trajectory_balance<double>(LossResult<double>&, std::vector<double>, std::vector<double>,
                                                const std::vector<double>&);

template LossResult<float> trajectory_balance_loss<float>(const LossBatch<float>&, const TrajectoryBalanceOptions&);
template LossResult<double> trajectory_balance_loss<double>(const LossBatch<double>&, const TrajectoryBalanceOptions&);

}  // namespace disa::loss

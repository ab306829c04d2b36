#include "src/loss/kl_loss.h"

#include <fmt/format.h>

#include <cmath>

#include "src/input_error.h"
#include "src/loss/finite_gradient.h"
#include "src/numerical_error.h"

namespace disa::loss {

KlEstimator parse_kl_estimator(std::string_view text, std::string_view field) {
  if (text == "k1" || text == "kl") return KlEstimator::k1;
  if (text == "abs") return KlEstimator::abs;
  if (text == "k2" || text == "mse") return KlEstimator::k2;
  if (text == "k3" || text == "low_var_kl") return KlEstimator::k3;
  throw InputError(fmt::format("{}={}: unknown estimator (expected k1/kl, abs, k2/mse or k3/low_var_kl)", field, text));
}

std::string to_string(KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::k1:
      return "k1";
    case KlEstimator::abs:
      return "abs";
    case KlEstimator::k2:
      return "k2";
    case KlEstimator::k3:
      return "k3";
  }
  return "?";
}

double read_kl_coef(Settings& settings, double fallback) {
  const double coef = settings.number("kl_coef", fallback, {"kl_loss_coef"});
  if (coef < 0) settings.reject(settings.given_key("kl_coef", {"kl_loss_coef"}), fmt::format("{}", coef), "must be >= 0");
  return coef;
}

KlEstimator read_kl_estimator(Settings& settings) {
  return parse_kl_estimator(settings.word("kl_estimator", "k3", {"kl_loss_type", "kl_penalty"}),
                            settings.objective() + ": " +
                                settings.given_key("kl_estimator", {"kl_loss_type", "kl_penalty"}));
}

KlLossOptions KlLossOptions::from(Settings& settings) {
  KlLossOptions o;
  o.kl_estimator = read_kl_estimator(settings);
  o.loss_agg_mode =
      parse_loss_agg_mode(settings.word("loss_agg_mode", "token-mean"), settings.objective() + ": loss_agg_mode");
  o.kl_coef = read_kl_coef(settings, o.kl_coef);
  return o;
}

OptionList KlLossOptions::list() const {
  return {{"kl_estimator", to_string(kl_estimator)},
          {"loss_agg_mode", to_string(loss_agg_mode)},
          {"kl_coef", fmt::format("{}", kl_coef)}};
}

unsigned kl_loss_fields(const KlLossOptions&) { return kLogp | kMask | kLogpRef; }

template <class Real>
LossResult<Real> kl_loss(const LossBatch<Real>& batch, const KlLossOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  const std::vector<std::size_t> counts = validated_counts(batch, kl_loss_fields(options), "kl", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  const std::vector<double> c = aggregation_coefficients(options.loss_agg_mode, counts, T, "kl");
  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  std::vector<double> kl_sum(B, 0.0);
  std::vector<unsigned char> grad_finite(B, 1);  // require_finite_token_gradients

#pragma omp parallel for schedule(static) if (batch.tokens() >= kMinParallelTokens)
  for (std::size_t i = 0; i < B; ++i) {
    const std::size_t row = i * T;
    const std::size_t len = ends[i];
    const Real* m = batch.mask.data() + row;
    const Real* logp = batch.logp.data() + row;
    const Real* logp_ref = batch.logp_ref.data() + row;
    Real* grad = result.grad_logp.data() + row;
    const double scale = options.kl_coef * c[i];
    double total = 0.0;  // local: stores through `grad` could alias kl_sum (Real = double)
    bool finite = true;
    for (std::size_t t = 0; t < len; ++t) {
      if (m[t] == Real(0)) continue;
      const TokenTerm k = kl_penalty(options.kl_estimator, double(logp[t]), double(logp_ref[t]));
      total += k.value;
      const Real rounded = Real(scale * k.dvalue_dlogp);
      grad[t] = rounded;
      finite &= std::isfinite(rounded);
    }
    grad_finite[i] = finite;
    kl_sum[i] = total;
  }
  double kl = 0.0;
  for (std::size_t i = 0; i < B; ++i) kl += c[i] * kl_sum[i];
  result.loss = options.kl_coef * kl;
  if (!std::isfinite(result.loss)) throw NumericalError(fmt::format("kl: the loss is not finite ({})", kl));
  require_finite_token_gradients("kl", result.grad_logp, T, grad_finite);
  result.diagnostics.scalars["kl"] = kl;
  result.diagnostics.per_sequence["kl_sum"] = std::move(kl_sum);
  return result;
}

template LossResult<float> kl_loss<float>(const LossBatch<float>&, const KlLossOptions&);
template LossResult<double> kl_loss<double>(const LossBatch<double>&, const KlLossOptions&);

}  // namespace disa::loss

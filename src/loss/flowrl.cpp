#include "src/loss/flowrl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/loss/aggregation.h"
#include "src/loss/finite_gradient.h"
#include "src/loss/row_ops.h"
#include "src/numerical_error.h"

namespace disa::loss {

namespace {

// Each weight_clip variant once: its name, the bounds it reads (of weight_clamp_max,
// clip_ratio, clip_ratio_low, clip_ratio_high) and what the refusal of another bound says.
struct WeightClipVariant {
  FlowRlWeightClip clip;
  std::string_view name;
  std::vector<std::string_view> bounds;
  std::string_view uses;
};

const std::vector<WeightClipVariant>& weight_clip_variants() {
  static const std::vector<WeightClipVariant> variants = {
      {FlowRlWeightClip::none, "none", {},
       "its weight is unclipped, as in the paper release; weight_clip=max10 reads weight_clamp_max, cispo "
       "clip_ratio_low/clip_ratio_high, symmetric clip_ratio"},
      {FlowRlWeightClip::max10, "max10", {"weight_clamp_max"}, "it uses weight_clamp_max"},
      {FlowRlWeightClip::cispo, "cispo", {"clip_ratio_low", "clip_ratio_high"},
       "it uses clip_ratio_low/clip_ratio_high"},
      {FlowRlWeightClip::symmetric, "symmetric", {"clip_ratio"}, "it uses clip_ratio"},
  };
  return variants;
}

const WeightClipVariant& variant_of(FlowRlWeightClip clip) {
  for (const WeightClipVariant& v : weight_clip_variants()) {
    if (v.clip == clip) return v;
  }
  throw std::logic_error("flowrl: a weight_clip without a variant entry");
}

bool reads_bound(FlowRlWeightClip clip, std::string_view key) {
  const auto& bounds = variant_of(clip).bounds;
  return std::find(bounds.begin(), bounds.end(), key) != bounds.end();
}

}  // namespace

FlowRlOptions FlowRlOptions::from(Settings& settings) {
  FlowRlOptions o;
  o.beta = settings.number("beta", o.beta, {"flowrl_beta_coef"});
  const std::string clip = settings.word("weight_clip", "none");
  const auto& variants = weight_clip_variants();
  const auto chosen = std::find_if(variants.begin(), variants.end(), [&](const auto& v) { return v.name == clip; });
  if (chosen == variants.end()) settings.reject("weight_clip", clip, "expected none, max10, cispo or symmetric");
  o.weight_clip = chosen->clip;
  o.weight_clamp_max = settings.number_in("weight_clamp_max", o.weight_clamp_max, 0, kNoBound, /*low_open=*/true);
  o.clip_ratio = settings.number_in("clip_ratio", o.clip_ratio, 0, 1);
  o.clip_ratio_low = settings.number_in("clip_ratio_low", o.clip_ratio_low, 0, 1);
  o.clip_ratio_high = settings.number_in("clip_ratio_high", o.clip_ratio_high, 0, kNoBound);
  // Each weight_clip reads only its own bounds (flowrl.h). A bound the chosen one never
  // reads is refused, not ignored: weight_clip=cispo clip_ratio=0.1 used to run with
  // cispo's 0.2/0.28 while the user asked for 0.1. cispo takes no clip_ratio fallback (as
  // grpo and gspo do, verl's PPO losses): LOSSES.md section 7 and golden/README.md define
  // the verl@4bf4bd3 recipe with clip_ratio_low/clip_ratio_high alone, and its golden
  // cases pass no clip_ratio, so nothing says that recipe reads one.
  for (const auto& [key, value] : {std::pair<std::string_view, double>{"weight_clamp_max", o.weight_clamp_max},
                                   {"clip_ratio", o.clip_ratio},
                                   {"clip_ratio_low", o.clip_ratio_low},
                                   {"clip_ratio_high", o.clip_ratio_high}}) {
    if (settings.has(key) && !reads_bound(o.weight_clip, key)) {
      settings.reject(key, fmt::format("{}", value),
                      fmt::format("not read by weight_clip={} ({})", variant_of(o.weight_clip).name,
                                  variant_of(o.weight_clip).uses));
    }
  }
  o.advantage = group_advantage_options(settings);
  return o;
}

OptionList FlowRlOptions::list() const {
  OptionList list = {{"beta", fmt::format("{}", beta)}, {"weight_clip", std::string(variant_of(weight_clip).name)}};
  // Only the bounds this weight_clip reads: the others would be refused if given back
  // (disa loss --list --objective flowrl --set weight_clip=cispo shows cispo's).
  for (const auto& [key, value] : {std::pair<std::string_view, double>{"weight_clamp_max", weight_clamp_max},
                                   {"clip_ratio", clip_ratio},
                                   {"clip_ratio_low", clip_ratio_low},
                                   {"clip_ratio_high", clip_ratio_high}}) {
    if (reads_bound(weight_clip, key)) list.emplace_back(std::string(key), fmt::format("{}", value));
  }
  append_options(list, advantage);
  return list;
}

unsigned flowrl_fields(const FlowRlOptions&) { return kLogp | kMask | kLogpOld | kLogpRef | kLogZ | kAdvantages; }

template <class Real>
LossResult<Real> flowrl_loss(const LossBatch<Real>& batch, const FlowRlOptions& options) {
  std::vector<std::size_t> ends;  // row extents: loops stop at the last valid token
  const std::vector<std::size_t> counts = validated_counts(batch, flowrl_fields(options), "flowrl", &ends);
  const std::size_t B = batch.rows;
  const std::size_t T = batch.columns;
  const TokenAdvantages<Real> advantages(batch, counts, options.advantage);
  const bool cispo = options.weight_clip == FlowRlWeightClip::cispo;
  const double ratio_high = 1.0 + options.clip_ratio_high;
  const double ratio_low = 1.0 - options.clip_ratio_low;

  LossResult<Real> result;
  result.grad_logp.assign(B * T, Real(0));
  result.grad_log_z.assign(B, Real(0));
  std::vector<double> residual(B), weight(B), log_weight(B), kept(B);

#pragma omp parallel if (batch.tokens() >= kMinParallelTokens)
  {
    std::vector<Real> kept_mask(cispo ? T : 0);
#pragma omp for schedule(static)
    for (std::size_t i = 0; i < B; ++i) {
      const std::size_t row = i * T;
      const std::size_t len = ends[i];
      const Real* m = batch.mask.data() + row;
      std::size_t n = counts[i];
      if (cispo) {
        // CISPO (verl@4bf4bd3): a token whose ratio is already past the clip in the
        // direction its advantage pushes is dropped from every masked mean and sum.
        n = 0;
        for (std::size_t t = 0; t < len; ++t) {
          bool keep = m[t] != Real(0);
          if (keep) {
            const double a = advantages.at(i, t);
            const double ratio = std::exp(double(batch.logp[row + t]) - double(batch.logp_old[row + t]));
            keep = !((a > 0 && ratio > ratio_high) || (a < 0 && ratio < ratio_low));
          }
          kept_mask[t] = keep ? Real(1) : Real(0);
          n += keep;
        }
        m = kept_mask.data();
      }
      const double sum_logp = masked_row_sum(m, batch.logp.data() + row, len);
      const double sum_ref = masked_row_sum(m, batch.logp_ref.data() + row, len);
      const double sum_adv = advantages.masked_row_sum(i, m, n, len);
      const double sum_log_ratio = masked_row_difference(m, batch.logp.data() + row, batch.logp_old.data() + row, len);
      const double denominator = double(n) + kMaskedMeanEpsilon;
      const double delta = double(batch.log_z[i]) + sum_logp / denominator - options.beta * (sum_adv / denominator) -
                           sum_ref / denominator;
      double w = std::exp(sum_log_ratio);
      switch (options.weight_clip) {
        case FlowRlWeightClip::none:
          break;
        case FlowRlWeightClip::max10:
          w = std::min(w, options.weight_clamp_max);
          break;
        case FlowRlWeightClip::cispo:
          w = std::clamp(w, ratio_low, ratio_high);
          break;
        case FlowRlWeightClip::symmetric:
          w = std::clamp(w, 1.0 - options.clip_ratio, 1.0 + options.clip_ratio);
          break;
      }
      residual[i] = delta;
      weight[i] = w;
      log_weight[i] = sum_log_ratio;
      kept[i] = double(n);
      const double g = 2.0 / double(B) * w * delta;
      result.grad_log_z[i] = Real(g);
      masked_row_fill(result.grad_logp.data() + row, m, Real(g / denominator), len);
    }
  }

  double loss = 0.0, squares = 0.0, weight_max = 0.0;
  std::size_t valid = 0, kept_total = 0;
  for (std::size_t i = 0; i < B; ++i) {
    if (!std::isfinite(weight[i])) {
      throw NumericalError(
          fmt::format("flowrl: importance weight of row {} overflows (sum of log-ratios {}; weight_clip=none as in the "
                      "paper release; try weight_clip=max10)",
                      i, log_weight[i]));
    }
    loss += weight[i] * residual[i] * residual[i];
    squares += residual[i] * residual[i];
    weight_max = std::max(weight_max, weight[i]);
    valid += counts[i];
    kept_total += std::size_t(kept[i]);
  }
  result.loss = loss / double(B);
  if (!std::isfinite(result.loss)) {
    throw NumericalError(fmt::format("flowrl: the loss is not finite ({})", result.loss));
  }
  require_finite_row_gradients("flowrl", result.grad_log_z, weight, residual);
  auto& d = result.diagnostics;
  d.scalars["residual_rms"] = std::sqrt(squares / double(B));
  d.scalars["weight_max"] = weight_max;
  if (cispo) {
    d.scalars["dropped_token_fraction"] = valid > 0 ? double(valid - kept_total) / double(valid) : 0.0;
    d.per_sequence["kept_tokens"] = std::move(kept);
  }
  if (!advantages.per_sequence().empty()) d.per_sequence["advantages"] = advantages.per_sequence();
  d.per_sequence["residual"] = std::move(residual);
  d.per_sequence["weight"] = std::move(weight);
  return result;
}

template LossResult<float> flowrl_loss<float>(const LossBatch<float>&, const FlowRlOptions&);
template LossResult<double> flowrl_loss<double>(const LossBatch<double>&, const FlowRlOptions&);

}  // namespace disa::loss

// Pass 2 and the finish of kernel 2; see loss_heads_plan.h. Each head's block is the
// CPU head's per-row and final loops (src/loss/*.cpp) with the token sums taken from the
// device passes; keep them in step with those files.
#include "kernels/loss_heads_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <variant>

#include "src/loss/aggregation.h"
#include "src/loss/finite_gradient.h"
#include "src/loss/grpo_advantage.h"
#include "src/numerical_error.h"

namespace disa::kernels {

using namespace disa::loss;

std::string gpu_loss_unsupported(const Objective& objective) {
  if (const auto* f = std::get_if<FlowRlOptions>(&objective.options)) {
    if (f->weight_clip == FlowRlWeightClip::cispo)
      return "flowrl: weight_clip=cispo is not covered by the GPU loss kernel (its kept mask needs the advantages "
             "before the row sums)";
    return {};
  }
  if (std::holds_alternative<TrajectoryBalanceOptions>(objective.options) ||
      std::holds_alternative<GrpoOptions>(objective.options) || std::holds_alternative<GspoOptions>(objective.options))
    return {};
  return fmt::format("{}: objective not covered by the GPU loss kernel (covered: tb, disa, flowrl, grpo, gspo)",
                     objective.name);
}

AdvantageSource advantage_source(std::size_t advantages_size, std::size_t rows, std::size_t columns) {
  if (advantages_size == rows * columns && columns > 1) return AdvantageSource::per_token;
  if (advantages_size == rows || advantages_size == rows * columns) return AdvantageSource::given_per_sequence;
  return AdvantageSource::computed;
}

template <class Real>
LossPlan<Real>::LossPlan(const Objective& objective, std::size_t rows, std::size_t columns,
                         std::size_t advantages_size)
    : objective_(objective),
      rows_(rows),
      columns_(columns),
      fields_(needed_fields(objective) | kLogp | kMask),
      source_(advantage_source(advantages_size, rows, columns)) {
  if (const std::string why = gpu_loss_unsupported(objective); !why.empty()) throw LossFallback(why);
  if (rows == 0 || columns == 0) throw LossFallback("empty batch: the CPU head reports it");
  if (advantages_size != 0 && advantages_size != rows && advantages_size != rows * columns)
    throw LossFallback("advantages of neither B nor B x T entries: the CPU head reports it");
  with_log_z_ = disa::loss::has_log_z_gradient(objective);
  if (const auto* o = std::get_if<GrpoOptions>(&objective.options)) {
    params_.rule = kRulePpo;
    params_.clip = o->clip;
    params_.kl_coef = o->kl_coef;
    params_.with_kl = o->kl_coef != 0;
    params_.kl_estimator = o->kl_estimator;
  } else if (const auto* o = std::get_if<GspoOptions>(&objective.options)) {
    params_.rule = kRuleGspo;
    params_.clip = {o->clip_ratio_low, o->clip_ratio_high, 0.0};
  }
}

namespace {

bool all_finite(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
}

template <class Real>
std::vector<double> widen(const std::vector<Real>& x) {
  return std::vector<double>(x.begin(), x.end());
}

const GroupAdvantageOptions* advantage_options(const Objective& objective) {
  if (const auto* o = std::get_if<FlowRlOptions>(&objective.options)) return &o->advantage;
  if (const auto* o = std::get_if<GrpoOptions>(&objective.options)) return &o->advantage;
  if (const auto* o = std::get_if<GspoOptions>(&objective.options)) return &o->advantage;
  return nullptr;
}

}  // namespace

template <class Real>
void LossPlan<Real>::plan_rows(const std::vector<RowSums>& sums, const HostRowInputs<Real>& in) {
  const std::size_t B = rows_;
  if (sums.size() != B) throw std::logic_error("LossPlan::plan_rows: one RowSums per row expected");
  for (std::size_t i = 0; i < B; ++i) {
    if (sums[i].bad != 0) throw LossFallback(fmt::format("row {}: an entry the head rejects", i));
  }
  // The per-sequence checks of validate_batch (src/loss/loss_batch.cpp check_entries).
  const bool reads_reward = fields_ & (kReward | kAdvantages);
  if ((fields_ & kReward) && in.reward.size() != B) throw LossFallback("reward missing");
  if (reads_reward && !in.reward.empty() && !all_finite(widen(in.reward))) throw LossFallback("reward not finite");
  if (fields_ & kLogZ) {
    if (in.log_z.size() != B) throw LossFallback("log_z missing");
    if (!all_finite(widen(in.log_z))) throw LossFallback("log_z not finite");
  }
  if (fields_ & kAdvantages) {
    if (source_ == AdvantageSource::given_per_sequence) {
      // B x T entries with T = 1 are checked as tokens: only where the row's one token is valid.
      const bool as_tokens = in.advantages.size() == B * columns_;
      for (std::size_t i = 0; i < B; ++i) {
        if ((!as_tokens || sums[i].n > 0) && !std::isfinite(double(in.advantages[i])))
          throw LossFallback("advantages not finite");
      }
    }
    if (source_ == AdvantageSource::computed && (in.reward.size() != B || in.group.size() != B))
      throw LossFallback("reward and group (or advantages) missing");
  }

  counts_.resize(B);
  for (std::size_t i = 0; i < B; ++i) counts_[i] = static_cast<std::size_t>(sums[i].n);
  plans_.assign(B, RowPlan{});

  // Per-sequence advantages by TokenAdvantages itself (a host batch of the per-sequence
  // fields is all it reads in these two modes).
  if (const GroupAdvantageOptions* adv = advantage_options(objective_); adv && source_ != AdvantageSource::per_token) {
    LossBatch<Real> host;
    host.rows = B;
    host.columns = columns_;
    host.reward = in.reward;
    host.group = in.group;
    if (source_ == AdvantageSource::given_per_sequence) host.advantages = in.advantages;
    const TokenAdvantages<Real> advantages(host, counts_, *adv);
    per_sequence_advantages_ = advantages.per_sequence();
    for (std::size_t i = 0; i < B; ++i) plans_[i].adv = per_sequence_advantages_[i];
  }

  result_ = {};
  auto& d = result_.diagnostics;
  if (const auto* o = std::get_if<TrajectoryBalanceOptions>(&objective_.options)) {
    // src/loss/trajectory_balance.cpp
    result_.grad_log_z.assign(B, Real(0));
    std::vector<double> residual(B), weight(B), log_weight(B, 0.0);
    for (std::size_t i = 0; i < B; ++i) {
      const double log_ratio_ref = sums[i].ref_diff;
      const double log_ratio_old = o->weight == TbWeight::none ? 0.0 : sums[i].old_diff;
      const double scale = o->length_normalize ? 1.0 / double(std::max<std::size_t>(counts_[i], 1)) : 1.0;
      const double delta = double(in.log_z[i]) + scale * log_ratio_ref - o->beta * double(in.reward[i]);
      double w = 1.0;
      if (o->weight == TbWeight::clipped) {
        w = std::clamp(std::exp(log_ratio_old), 1.0 - o->clip_ratio_low, 1.0 + o->clip_ratio_high);
      } else if (o->weight == TbWeight::importance) {
        w = std::exp(log_ratio_old);
      }
      residual[i] = delta;
      weight[i] = w;
      log_weight[i] = log_ratio_old;
      const double g = 2.0 / double(B) * w * delta;
      result_.grad_log_z[i] = Real(g);
      plans_[i].fill = g * scale;
    }
    finish_trajectory_balance(result_, std::move(residual), std::move(weight), log_weight);
  } else if (const auto* o = std::get_if<FlowRlOptions>(&objective_.options)) {
    // src/loss/flowrl.cpp without cispo (so the kept mask is the mask and n' = n)
    result_.grad_log_z.assign(B, Real(0));
    std::vector<double> residual(B), weight(B), log_weight(B);
    for (std::size_t i = 0; i < B; ++i) {
      const std::size_t n = counts_[i];
      const double sum_logp = sums[i].logp;
      const double sum_ref = sums[i].logp_ref;
      // TokenAdvantages::masked_row_sum: n = 0 never reads the advantage.
      const double sum_adv = source_ == AdvantageSource::per_token ? sums[i].adv
                                                                   : (n == 0 ? 0.0 : plans_[i].adv * double(n));
      const double sum_log_ratio = sums[i].old_diff;
      const double denominator = double(n) + kMaskedMeanEpsilon;
      const double delta = double(in.log_z[i]) + sum_logp / denominator - o->beta * (sum_adv / denominator) -
                           sum_ref / denominator;
      double w = std::exp(sum_log_ratio);
      switch (o->weight_clip) {
        case FlowRlWeightClip::none:
          break;
        case FlowRlWeightClip::max10:
          w = std::min(w, o->weight_clamp_max);
          break;
        case FlowRlWeightClip::cispo:  // excluded by gpu_loss_unsupported
          throw std::logic_error("flowrl cispo reached the GPU plan");
        case FlowRlWeightClip::symmetric:
          w = std::clamp(w, 1.0 - o->clip_ratio, 1.0 + o->clip_ratio);
          break;
      }
      residual[i] = delta;
      weight[i] = w;
      log_weight[i] = sum_log_ratio;
      const double g = 2.0 / double(B) * w * delta;
      result_.grad_log_z[i] = Real(g);
      plans_[i].fill = g / denominator;
    }
    double loss = 0.0, squares = 0.0, weight_max = 0.0;
    for (std::size_t i = 0; i < B; ++i) {
      if (!std::isfinite(weight[i])) {
        throw NumericalError(fmt::format(
            "flowrl: importance weight of row {} overflows (sum of log-ratios {}; weight_clip=none as in the "
            "paper release; try weight_clip=max10)",
            i, log_weight[i]));
      }
      loss += weight[i] * residual[i] * residual[i];
      squares += residual[i] * residual[i];
      weight_max = std::max(weight_max, weight[i]);
    }
    result_.loss = loss / double(B);
    if (!std::isfinite(result_.loss)) {
      throw NumericalError(fmt::format("flowrl: the loss is not finite ({})", result_.loss));
    }
    require_finite_row_gradients("flowrl", result_.grad_log_z, weight, residual);
    d.scalars["residual_rms"] = std::sqrt(squares / double(B));
    d.scalars["weight_max"] = weight_max;
    if (!per_sequence_advantages_.empty()) d.per_sequence["advantages"] = per_sequence_advantages_;
    d.per_sequence["residual"] = std::move(residual);
    d.per_sequence["weight"] = std::move(weight);
  } else if (const auto* o = std::get_if<GrpoOptions>(&objective_.options)) {
    // src/loss/grpo.cpp: c_i here, the token loop in pass 3, the sums in finish()
    const std::vector<double> c = aggregation_coefficients(o->loss_agg_mode, counts_, columns_, objective_.name);
    for (std::size_t i = 0; i < B; ++i) plans_[i].c = c[i];
  } else if (const auto* o = std::get_if<GspoOptions>(&objective_.options)) {
    // src/loss/gspo.cpp
    (void)o;
    const std::vector<double> c = aggregation_coefficients(LossAggMode::seq_mean_token_mean, counts_, columns_, objective_.name);
    constexpr double kMaxLogRatio = 10.0;  // gspo.cpp's clamp of the log ratio
    std::vector<double> ratio(B, 1.0);
    for (std::size_t i = 0; i < B; ++i) {
      const double log_s = sums[i].old_diff / double(std::max<std::size_t>(counts_[i], 1));
      plans_[i].c = c[i];
      plans_[i].passes = log_s <= kMaxLogRatio ? 1 : 0;
      plans_[i].ratio = std::exp(std::min(log_s, kMaxLogRatio));
      ratio[i] = plans_[i].ratio;
    }
    d.per_sequence["ratio"] = std::move(ratio);
  }
  row_sums_old_diff_.resize(B);
  for (std::size_t i = 0; i < B; ++i) row_sums_old_diff_[i] = sums[i].old_diff;
}

// The heads' require_finite_token_gradients after their loss check: pass 3 counted each
// row's entries that are not finite once rounded; only then is grad_logp read back, and
// the head's own function names the first entry.
template <class Real>
void LossPlan<Real>::require_finite_gradients(const char* head, const std::vector<TokenSums>& token_sums,
                                              const std::function<std::vector<Real>()>& grad_logp_on_host) const {
  std::vector<unsigned char> row_finite(rows_, 1);
  double nonfinite = 0;
  for (std::size_t i = 0; i < rows_; ++i) {
    row_finite[i] = token_sums[i].nonfinite == 0;
    nonfinite += token_sums[i].nonfinite;
  }
  if (nonfinite == 0) return;
  const std::vector<Real> grad = grad_logp_on_host();
  if (grad.size() != rows_ * columns_) throw std::logic_error("LossPlan::finish: grad_logp of B x T entries expected");
  require_finite_token_gradients(head, grad, columns_, row_finite);
  throw std::logic_error(fmt::format("{}: the token pass counted {} non-finite gradient entries that grad_logp does "
                                     "not hold",
                                     head, nonfinite));
}

template <class Real>
LossResult<Real> LossPlan<Real>::finish(const std::vector<TokenSums>& token_sums,
                                        const std::function<std::vector<Real>()>& grad_logp_on_host) {
  const std::size_t B = rows_;
  auto& d = result_.diagnostics;
  if (const auto* o = std::get_if<GrpoOptions>(&objective_.options)) {
    if (token_sums.size() != B) throw std::logic_error("LossPlan::finish: grpo needs one TokenSums per row");
    double pg_loss = 0.0, kl_value = 0.0, neg_log_ratio = 0.0;
    std::size_t tokens = 0, clipped_total = 0, dual_total = 0;
    for (std::size_t i = 0; i < B; ++i) {
      pg_loss += plans_[i].c * token_sums[i].pg;
      kl_value += plans_[i].c * token_sums[i].kl;
      neg_log_ratio += token_sums[i].neg_log_ratio;
      tokens += counts_[i];
      clipped_total += static_cast<std::size_t>(token_sums[i].clipped);
      dual_total += static_cast<std::size_t>(token_sums[i].dual);
    }
    result_.loss = pg_loss + o->kl_coef * kl_value;
    if (!std::isfinite(result_.loss)) {
      throw NumericalError(fmt::format("grpo: the loss is not finite ({})", result_.loss));
    }
    require_finite_gradients("grpo", token_sums, grad_logp_on_host);
    const double masked_mean_denominator = double(tokens) + kMaskedMeanEpsilon;
    d.scalars["pg_loss"] = pg_loss;
    d.scalars["pg_clipfrac"] = double(clipped_total) / masked_mean_denominator;
    d.scalars["pg_clipfrac_lower"] = double(dual_total) / masked_mean_denominator;
    d.scalars["ppo_kl"] = neg_log_ratio / masked_mean_denominator;
    if (params_.with_kl) d.scalars["kl_loss"] = kl_value;
    if (!per_sequence_advantages_.empty()) d.per_sequence["advantages"] = per_sequence_advantages_;
  } else if (std::holds_alternative<GspoOptions>(objective_.options)) {
    if (token_sums.size() != B) throw std::logic_error("LossPlan::finish: gspo needs one TokenSums per row");
    double loss = 0.0, neg_log_ratio = 0.0;
    std::size_t tokens = 0, clipped_total = 0;
    for (std::size_t i = 0; i < B; ++i) {
      loss += plans_[i].c * token_sums[i].pg;
      neg_log_ratio -= row_sums_old_diff_[i];
      tokens += counts_[i];
      clipped_total += static_cast<std::size_t>(token_sums[i].clipped);
    }
    result_.loss = loss;
    if (!std::isfinite(result_.loss)) {
      throw NumericalError(fmt::format("gspo: the loss is not finite ({})", result_.loss));
    }
    require_finite_gradients("gspo", token_sums, grad_logp_on_host);
    const double masked_mean_denominator = double(tokens) + kMaskedMeanEpsilon;
    d.scalars["pg_clipfrac"] = double(clipped_total) / masked_mean_denominator;
    d.scalars["pg_clipfrac_lower"] = 0.0;
    d.scalars["ppo_kl"] = neg_log_ratio / masked_mean_denominator;
    if (!per_sequence_advantages_.empty()) d.per_sequence["advantages"] = per_sequence_advantages_;
  }
  return std::move(result_);
}

template class LossPlan<float>;
template class LossPlan<double>;

}  // namespace disa::kernels

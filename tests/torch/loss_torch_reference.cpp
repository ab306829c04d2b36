#include "tests/torch/loss_torch_reference.h"

#include <torch/torch.h>

#include <stdexcept>
#include <variant>

namespace disa::torch_reference {
namespace {

using torch::Tensor;
namespace L = disa::loss;

constexpr double kMaskedMeanEpsilon = 1e-8;  // verl's sum(mask) + 1e-8

// The batch with its padding zeroed (through where, so no NaN reaches a gradient),
// the float mask and the row counts n_i.
struct Clean {
  Tensor lp, old, ref, m, mb, n;
  std::int64_t B = 0, T = 0;
};

Tensor zero_padding(const Tensor& x, const Tensor& mb) {
  return x.defined() ? torch::where(mb, x, 0.0) : x;
}

Clean clean(const Batch& b) {
  Clean c;
  c.mb = b.mask.to(torch::kBool);
  c.m = c.mb.to(b.logp.scalar_type());
  c.n = c.m.sum(1);
  c.lp = zero_padding(b.logp, c.mb);
  c.old = zero_padding(b.logp_old, c.mb);
  c.ref = zero_padding(b.logp_ref, c.mb);
  c.B = b.logp.size(0);
  c.T = b.logp.size(1);
  return c;
}

// agg_loss (aggregation.h): L is finite everywhere (padding already zeroed upstream).
Tensor aggregate(const Tensor& loss_tok, const Tensor& m, L::LossAggMode mode) {
  const Tensor n = m.sum(1);
  const Tensor row = (loss_tok * m).sum(1);
  const Tensor nonempty = (n > 0).to(loss_tok.scalar_type());
  switch (mode) {
    case L::LossAggMode::token_mean:
      return row.sum() / n.sum();
    case L::LossAggMode::seq_mean_token_sum:
      return (row * nonempty).sum() / nonempty.sum();
    case L::LossAggMode::seq_mean_token_mean:
      return (row / (n + kMaskedMeanEpsilon) * nonempty).sum() / nonempty.sum();
    case L::LossAggMode::seq_mean_token_sum_norm:
      return row.sum() / static_cast<double>(loss_tok.size(1));
  }
  throw std::logic_error("aggregate: unknown mode");
}

// GRPO outcome advantage per row (grpo_advantage.h), group statistics by scatter-add.
Tensor grpo_advantages(const Batch& b, const Clean& c, const L::GroupAdvantageOptions& o) {
  const auto dtype = c.m.scalar_type();
  const Tensor s = torch::where(c.n > 0, b.reward.reshape({-1}).to(dtype), 0.0);
  const auto [ids, inverse, counts] = at::_unique2(b.group.reshape({-1}), true, true, true);
  const Tensor size_g = counts.to(dtype);
  const Tensor zeros_g = torch::zeros({ids.size(0)}, s.options());
  const Tensor mean = (zeros_g.index_add(0, inverse, s) / size_g).index_select(0, inverse);
  const Tensor dev2 = zeros_g.index_add(0, inverse, (s - mean).square());
  const Tensor std = (dev2 / (size_g - 1).clamp_min(1)).sqrt().index_select(0, inverse);
  const Tensor multi = o.norm_adv_by_std ? (s - mean) / (std + o.epsilon) : s - mean;
  Tensor single;
  if (o.singleton_groups == L::SingletonGroups::zero)
    single = torch::zeros_like(s);
  else  // verl divides by torch.tensor(1.0) + epsilon, a float32 sum
    single = o.norm_adv_by_std ? s / static_cast<double>(1.0f + static_cast<float>(o.epsilon)) : s;
  return torch::where(size_g.index_select(0, inverse) > 1, multi, single);
}

// A[i,t]: the batch's override (per token or per row) or GRPO advantages; 0 at padding.
Tensor token_advantages(const Batch& b, const Clean& c, const L::GroupAdvantageOptions& o) {
  Tensor a;
  if (b.advantages.defined() && b.advantages.numel() == c.B * c.T)
    a = b.advantages.reshape({c.B, c.T}).to(c.m.scalar_type());
  else if (b.advantages.defined())
    a = b.advantages.reshape({c.B, 1}).to(c.m.scalar_type()).expand({c.B, c.T});
  else
    a = grpo_advantages(b, c, o).unsqueeze(1).expand({c.B, c.T});
  return torch::where(c.mb, a, 0.0);
}

// kl_penalty.h, elementwise.
Tensor kl_tokens(const Tensor& lp, const Tensor& ref, L::KlEstimator estimator) {
  const Tensor u = lp - ref;
  switch (estimator) {
    case L::KlEstimator::k1:
      return u;
    case L::KlEstimator::abs:
      return u.abs();
    case L::KlEstimator::k2:
      return 0.5 * u.square();
    case L::KlEstimator::k3: {
      const Tensor x = (ref - lp).clamp(-20, 20);
      return (x.exp() - x - 1).clamp(-10, 10);
    }
  }
  throw std::logic_error("kl_tokens: unknown estimator");
}

Tensor grpo(const Batch& b, const L::GrpoOptions& o) {
  const Clean c = clean(b);
  const Tensor A = token_advantages(b, c, o.advantage);
  const Tensor rho = (c.lp - c.old).clamp(-20, 20).exp();
  const Tensor l1 = -A * rho;
  const Tensor l2 = -A * rho.clamp(1 - o.clip.clip_ratio_low, 1 + o.clip.clip_ratio_high);
  const Tensor lc = torch::maximum(l1, l2);
  const Tensor tok = torch::where(A < 0, torch::minimum(lc, -A * o.clip.clip_ratio_c), lc);
  Tensor loss = aggregate(tok, c.m, o.loss_agg_mode);
  if (o.kl_coef != 0) loss = loss + o.kl_coef * aggregate(kl_tokens(c.lp, c.ref, o.kl_estimator), c.m, o.loss_agg_mode);
  return loss;
}

Tensor gspo(const Batch& b, const L::GspoOptions& o) {
  const Clean c = clean(b);
  const Tensor A = token_advantages(b, c, o.advantage);
  const Tensor log_s = ((c.lp - c.old) * c.m).sum(1) / c.n.clamp_min(1);
  const Tensor s_it = (c.lp - c.lp.detach() + log_s.detach().unsqueeze(1)).clamp_max(10).exp();
  const Tensor l1 = -A * s_it;
  const Tensor l2 = -A * s_it.clamp(1 - o.clip_ratio_low, 1 + o.clip_ratio_high);
  return aggregate(torch::maximum(l1, l2), c.m, L::LossAggMode::seq_mean_token_mean);
}

Tensor sft(const Batch& b, const L::SftOptions& o) {
  const Clean c = clean(b);
  const Tensor keep = (b.reward.reshape({-1}) >= o.reward_threshold).to(c.m.scalar_type());
  const Tensor mk = c.m * keep.unsqueeze(1);
  if (mk.sum().item<double>() == 0) return (c.lp * mk).sum();  // 0, with a zero gradient
  return aggregate(-c.lp, mk, o.loss_agg_mode);
}

Tensor kl(const Batch& b, const L::KlLossOptions& o) {
  const Clean c = clean(b);
  return o.kl_coef * aggregate(kl_tokens(c.lp, c.ref, o.kl_estimator), c.m, o.loss_agg_mode);
}

Tensor trajectory_balance(const Batch& b, const L::TrajectoryBalanceOptions& o) {
  const Clean c = clean(b);
  const Tensor sum_log_ratio = ((c.lp - c.ref) * c.m).sum(1);
  const Tensor scaled = o.length_normalize ? sum_log_ratio / c.n.clamp_min(1) : sum_log_ratio;
  const Tensor delta = b.log_z.reshape({-1}) + scaled - o.beta * b.reward.reshape({-1});
  Tensor w = torch::ones_like(delta);
  if (o.weight != L::TbWeight::none) {
    w = ((c.lp - c.old) * c.m).sum(1).detach().exp();
    if (o.weight == L::TbWeight::clipped) w = w.clamp(1 - o.clip_ratio_low, 1 + o.clip_ratio_high);
  }
  return (w * delta.square()).mean();
}

Tensor flowrl(const Batch& b, const L::FlowRlOptions& o) {
  const Clean c = clean(b);
  const Tensor A = token_advantages(b, c, o.advantage);
  Tensor mk = c.m;
  if (o.weight_clip == L::FlowRlWeightClip::cispo) {
    const Tensor ratio = (c.lp - c.old).detach().exp();
    const Tensor drop = ((A > 0) & (ratio > 1 + o.clip_ratio_high)) | ((A < 0) & (ratio < 1 - o.clip_ratio_low));
    mk = c.m * drop.logical_not().to(c.m.scalar_type());
  }
  const Tensor denom = mk.sum(1) + kMaskedMeanEpsilon;
  const Tensor mean_lp = (c.lp * mk).sum(1) / denom;
  const Tensor mean_ref = (c.ref * mk).sum(1) / denom;
  const Tensor mean_adv = (A * mk).sum(1) / denom;
  const Tensor delta = b.log_z.reshape({-1}) + mean_lp - o.beta * mean_adv - mean_ref;
  Tensor w = ((c.lp - c.old) * mk).sum(1).detach().exp();
  switch (o.weight_clip) {
    case L::FlowRlWeightClip::none:
      break;
    case L::FlowRlWeightClip::max10:
      w = w.clamp_max(o.weight_clamp_max);
      break;
    case L::FlowRlWeightClip::cispo:
      w = w.clamp(1 - o.clip_ratio_low, 1 + o.clip_ratio_high);
      break;
    case L::FlowRlWeightClip::symmetric:
      w = w.clamp(1 - o.clip_ratio, 1 + o.clip_ratio);
      break;
  }
  return (w * delta.square()).mean();
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

torch::Tensor loss(const disa::loss::Objective& objective, const Batch& batch) {
  return std::visit(Overloaded{[&](const L::TrajectoryBalanceOptions& o) { return trajectory_balance(batch, o); },
                               [&](const L::FlowRlOptions& o) { return flowrl(batch, o); },
                               [&](const L::GrpoOptions& o) { return grpo(batch, o); },
                               [&](const L::GspoOptions& o) { return gspo(batch, o); },
                               [&](const L::SftOptions& o) { return sft(batch, o); },
                               [&](const L::KlLossOptions& o) { return kl(batch, o); }},
                    objective.options);
}

}  // namespace disa::torch_reference

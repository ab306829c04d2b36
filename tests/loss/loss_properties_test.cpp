// Property-based checks of the loss heads (src/loss/) on random padded batches
// (tests/util/loss_batch_gen.h), for every objective and the options that change a
// head's code path:
//   - the analytic gradient (grad_logp on valid tokens, grad_log_z) equals a central
//     finite difference in double; entries whose +-h interval straddles a kink of a
//     piecewise-smooth loss are skipped, counted, and must stay a small fraction;
//   - padding never matters: NaN / inf / 1e300 there gives bit-identical results and a
//     zero gradient;
//   - permuting sequences permutes the gradient rows and keeps the loss;
//   - GRPO advantages are invariant to a positive affine map of a group's rewards
//     (exactly with epsilon 0, within the derived epsilon effect otherwise); equal
//     rewards give zero policy gradient; at ratio 1 nothing clips;
//   - TB is invariant to (r, log Z) -> (r + c, log Z + beta c);
//   - the float instantiation agrees with double within a derived bound;
//   - one and two OpenMP threads give bit-identical results;
//   - bad batches and options are InputErrors naming the field.
//
// Stop-gradient weights (tb weight=clipped/importance, flowrl's w) are constants of the
// gradient: the finite difference moves logp_old with logp at the same token, so the
// log-ratio, hence the weight and the CISPO token mask, stay bit-identical (the
// generator's grid makes x + h exact) while everything else sees the step.
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>
#include <rapidcheck.h>

#include "src/input_error.h"
#include "src/loss/diagnostics_merge.h"
#include "src/loss/objective.h"
#include "src/numerical_error.h"
#include "tests/util/errors.h"
#include "tests/util/loss_batch_gen.h"

namespace disa::loss {
namespace {

using test::AdvantageForm;
using test::LossBatchGenOptions;
using test::Spread;

// ---------------------------------------------------------------------------------
// Tolerances: every one of this file, with where it comes from.
//
// Error model. Each head is a short chain of sums, products, exp and clamps. For
// every output we compute in double a magnitude S (error_scales below): the same
// formula with every term replaced by an absolute value and every input-dependent
// rounding source spelled out (e.g. for w = e^{sum d}: |w| (1 + sum |logp| + |logp_old|),
// since the sum's absolute error becomes w's relative error). Floating-point
// evaluation with unit roundoff u then moves that output by at most K u S, where K
// bounds the number of roundings on one path: a sum of at most B*T = 96 terms
// (gamma_96 = 96 u) plus ~10 operations per term and per group statistic, so K = 128.
//
// Central difference. With step h, (f(x+h) - f(x-h)) / 2h - f'(x) is
//   truncation  h^2/6 |f'''|          (Taylor; every head here has |f'''| <= S_grad:
//                                      exp-type terms have f''' = f', quadratic ones 0)
//   rounding    2 K u S_loss / 2h      (each loss value is off by at most K u S_loss)
// and the analytic gradient itself is off by K u S_grad, so
//   |fd - grad| <= h^2 S_grad + K u (S_loss / h + S_grad).
// The two h-dependent terms balance near h ~ (K u S_loss/S_grad)^(1/3) ~ 1e-5 for O(1)
// ratios; h = 2^-16 ~ 1.5e-5 is a power of two, so x +- h is exact on the generator's
// 2^-24 grid.
//
// Kinks (clip, clamp, max, |u|). A one-sided difference differs from f' by
// h/2 |f''| + K u S_loss / h (+ K u S_grad), with |f''| <= S_grad as above. If the
// central difference fails, the entry is skipped as straddling a kink only when there
// is evidence of one (a clip diagnostic differs between x - h and x + h, or the two
// one-sided differences disagree by more than kink_jump_factor times that bound, which
// smooth curvature cannot do) and the analytic gradient matches one side within it
// (a kink inside (x, x + h) leaves the left difference clean). Kinks are met with
// probability ~ h times a density, so skips must stay below max_skip_fraction of
// the checked entries and at least min_checked entries must be compared.
//
// Float versus double: the same bound with u = 2^-24, plus the final rounding of each
// gradient entry to float (u |g|). A branch decided differently in float (a ratio within
// rounding of a clip boundary) is not an error: batches whose branch quantities lie
// within the margins below of a boundary are skipped and counted. The margins exceed
// the float error of those quantities: a token log-ratio is one subtraction
// (u_f (|d| + 1) < 1e-6); a row sum of 12 log-ratios, even as sum(logp) - sum(logp_old),
// is off by at most gamma_12 * 1200 u_f < 1e-3 (row-sum margin 2e-3); a GSPO mean, that
// over n, by at most 100 n u_f < 7.2e-5 (margin 1e-4 in mean log-ratio, which fits
// inside the 3e-4 paper clip range).
// ---------------------------------------------------------------------------------
struct Tolerances {
  double fd_step = 0x1p-16;
  double rounding_ops = 128;  // K
  double unit_roundoff_double = DBL_EPSILON / 2;
  double unit_roundoff_float = FLT_EPSILON / 2;
  double kink_jump_factor = 4;
  double max_skip_fraction = 0.01;
  std::size_t min_checked = 300;
  std::size_t fd_entries_per_case = 8;  // random subsets of valid tokens and of rows (log_z),
  std::size_t fd_rows_per_case = 3;     // so the suite stays fast
  double branch_margin_token = 1e-4;
  double branch_margin_row_sum = 2e-3;
  double branch_margin_gspo_mean = 1e-4;
  double max_float_skip_fraction = 0.1;
};
constexpr Tolerances kTol;

// ---------------------------------------------------------------------------------
// Objective configurations: every option that selects a different code path.
// ---------------------------------------------------------------------------------
struct Config {
  std::string label;
  std::string objective;
  std::vector<std::string> settings;
  LossBatchGenOptions gen;
};

void PrintTo(const Config& c, std::ostream* os) { *os << c.label; }

LossBatchGenOptions gen_with(AdvantageForm adv) {
  LossBatchGenOptions o;
  o.advantages = adv;
  return o;
}

// GSPO's paper clip range (3e-4 / 4e-4) leaves only near-on-policy rows unclipped: zero
// and tiny spreads keep the mean log-ratio inside it and at least 1.5e-4 from its
// boundaries, so the unclipped branch is exercised often; small and large spreads
// mostly clip.
LossBatchGenOptions gspo_gen(AdvantageForm adv = AdvantageForm::kComputed) {
  LossBatchGenOptions o;
  o.advantages = adv;
  o.old_spreads = {Spread::kZero, Spread::kTiny, Spread::kTiny, Spread::kSmall, Spread::kLarge};
  return o;
}

std::vector<Config> all_configs() {
  std::vector<Config> c;
  for (const char* w : {"none", "clipped", "importance"}) {
    for (const char* ln : {"false", "true"}) {
      c.push_back({std::string("tb_") + w + (std::string(ln) == "true" ? "_lennorm" : ""), "tb",
                   {std::string("weight=") + w, std::string("length_normalize=") + ln, "beta=2.5"}, {}});
    }
  }
  c.push_back({"disa_alias_default", "disa", {}, {}});
  for (const char* w : {"none", "max10", "cispo", "symmetric"}) {
    c.push_back({std::string("flowrl_") + w, "flowrl", {std::string("weight_clip=") + w}, {}});
  }
  c.push_back({"flowrl_cispo_asym_per_token_adv", "flowrl",
               {"weight_clip=cispo", "clip_ratio_low=0.2", "clip_ratio_high=0.2"}, gen_with(AdvantageForm::kPerToken)});
  c.push_back({"flowrl_none_dr_grpo", "flowrl", {"norm_adv_by_std=false"}, {}});
  c.push_back({"grpo_default", "grpo", {}, {}});
  for (const char* m : {"token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"}) {
    std::string label = std::string("grpo_") + m;
    std::replace(label.begin(), label.end(), '-', '_');
    c.push_back({label, "grpo", {std::string("loss_agg_mode=") + m, "clip_ratio_low=0.2", "clip_ratio_high=0.28"}, {}});
  }
  c.push_back({"grpo_dual_clip_tight", "grpo", {"clip_ratio_c=1.5"}, {}});
  c.push_back({"grpo_asym_clip", "grpo", {"clip_ratio_low=0.1", "clip_ratio_high=0.4", "clip_ratio_c=10"}, {}});
  for (const char* k : {"k1", "abs", "k2", "k3"}) {
    c.push_back({std::string("grpo_kl_") + k, "grpo", {"kl_coef=0.1", std::string("kl_estimator=") + k}, {}});
  }
  c.push_back({"grpo_kl_low_var_kl_seq_mean", "grpo",
               {"kl_coef=0.5", "kl_estimator=low_var_kl", "loss_agg_mode=seq-mean-token-mean"}, {}});
  c.push_back({"grpo_dr_grpo", "grpo", {"norm_adv_by_std=false", "loss_agg_mode=seq-mean-token-sum-norm"}, {}});
  c.push_back({"grpo_singleton_zero", "grpo", {"singleton_groups=zero"}, {}});
  c.push_back({"grpo_per_token_adv", "grpo", {}, gen_with(AdvantageForm::kPerToken)});
  c.push_back({"grpo_per_sequence_adv", "grpo", {"loss_agg_mode=seq-mean-token-mean"}, gen_with(AdvantageForm::kPerSequence)});
  c.push_back({"gspo_default", "gspo", {}, gspo_gen()});
  c.push_back({"gspo_wide_clip", "gspo", {"clip_ratio_low=0.2", "clip_ratio_high=0.28"}, gspo_gen()});
  c.push_back({"gspo_per_sequence_adv", "gspo", {}, gspo_gen(AdvantageForm::kPerSequence)});
  for (const char* m : {"token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"}) {
    std::string label = std::string("sft_") + m;
    std::replace(label.begin(), label.end(), '-', '_');
    c.push_back({label, "sft", {std::string("loss_agg_mode=") + m}, {}});
  }
  c.push_back({"sft_threshold_quarter", "sft", {"reward_threshold=0.25"}, {}});
  for (const char* k : {"k1", "abs", "k2", "k3"}) {
    c.push_back({std::string("kl_") + k, "kl", {std::string("kl_estimator=") + k}, {}});
  }
  c.push_back({"kl_mse_seq_sum_norm_coef", "kl", {"kl_estimator=mse", "loss_agg_mode=seq-mean-token-sum-norm", "kl_coef=0.3"}, {}});
  return c;
}

std::string config_name(const ::testing::TestParamInfo<Config>& info) { return info.param.label; }

// ---------------------------------------------------------------------------------
// Independent double-precision models used for tolerances and expected values.
// ---------------------------------------------------------------------------------
std::vector<std::size_t> counts_of(const BatchData<double>& b) {
  std::vector<std::size_t> n(b.rows, 0);
  for (std::size_t i = 0; i < b.rows; ++i) {
    for (std::size_t t = 0; t < b.columns; ++t) n[i] += b.mask[i * b.columns + t] != 0;
  }
  return n;
}

// c_i of aggregation.h, written out from its header's table.
std::vector<double> agg_coefficients(LossAggMode mode, const std::vector<std::size_t>& n, std::size_t T) {
  std::size_t N = 0, Bp = 0;
  for (std::size_t v : n) {
    N += v;
    Bp += v > 0;
  }
  std::vector<double> c(n.size(), 0.0);
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (n[i] == 0) continue;
    switch (mode) {
      case LossAggMode::token_mean:
        c[i] = 1.0 / double(N);
        break;
      case LossAggMode::seq_mean_token_sum:
        c[i] = 1.0 / double(Bp);
        break;
      case LossAggMode::seq_mean_token_mean:
        c[i] = 1.0 / (double(Bp) * (double(n[i]) + kMaskedMeanEpsilon));
        break;
      case LossAggMode::seq_mean_token_sum_norm:
        c[i] = 1.0 / double(T);
        break;
    }
  }
  return c;
}

struct GroupStats {
  std::size_t size = 0;
  double mean = 0, std = 0, max_abs = 0;
};

// A[i,t] as grpo_advantage.h defines it (or the batch's override) and its error scale.
struct AdvantageModel {
  std::size_t columns = 0;
  bool per_token = false;
  std::vector<double> value, scale;  // B or B*T
  std::vector<GroupStats> group;     // per row (computed advantages only)
  double at(std::size_t i, std::size_t t) const { return per_token ? value[i * columns + t] : value[i]; }
  double err(std::size_t i, std::size_t t) const { return per_token ? scale[i * columns + t] : scale[i]; }
};

AdvantageModel advantage_model(const BatchData<double>& b, const GroupAdvantageOptions& o) {
  AdvantageModel m;
  m.columns = b.columns;
  const auto n = counts_of(b);
  if (b.advantages.size() == b.rows * b.columns && !b.advantages.empty()) {
    m.per_token = true;
    m.value = b.advantages;
    m.scale.resize(m.value.size());
    for (std::size_t k = 0; k < m.value.size(); ++k) m.scale[k] = std::fabs(m.value[k]);
    return m;
  }
  if (b.advantages.size() == b.rows && !b.advantages.empty()) {
    m.value = b.advantages;
    m.scale.resize(b.rows);
    for (std::size_t i = 0; i < b.rows; ++i) m.scale[i] = std::fabs(m.value[i]);
    return m;
  }
  std::vector<double> s(b.rows);
  for (std::size_t i = 0; i < b.rows; ++i) s[i] = n[i] > 0 ? b.reward[i] : 0.0;
  std::map<std::int64_t, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < b.rows; ++i) members[b.group[i]].push_back(i);
  m.value.assign(b.rows, 0.0);
  m.scale.assign(b.rows, 0.0);
  m.group.resize(b.rows);
  for (const auto& [id, rows] : members) {
    GroupStats g;
    g.size = rows.size();
    for (std::size_t i : rows) {
      g.mean += s[i];
      g.max_abs = std::max(g.max_abs, std::fabs(s[i]));
    }
    g.mean /= double(g.size);
    if (g.size >= 2) {
      double ss = 0;
      for (std::size_t i : rows) ss += (s[i] - g.mean) * (s[i] - g.mean);
      g.std = std::sqrt(ss / double(g.size - 1));
    }
    const bool all_equal = std::all_of(rows.begin(), rows.end(), [&](std::size_t i) { return s[i] == s[rows[0]]; });
    for (std::size_t i : rows) {
      m.group[i] = g;
      double a = 0, e = 0;
      if (g.size == 1) {
        if (o.singleton_groups == SingletonGroups::reference) {
          a = o.norm_adv_by_std ? s[i] / double(1.0f + float(o.epsilon)) : s[i];
          e = std::fabs(a);
        }
      } else if (!all_equal) {
        if (o.norm_adv_by_std) {
          a = (s[i] - g.mean) / (g.std + o.epsilon);
          e = (1 + std::fabs(a)) * g.max_abs / (g.std + o.epsilon) + std::fabs(a);
        } else {
          a = s[i] - g.mean;
          e = g.max_abs + std::fabs(a);
        }
      }
      m.value[i] = a;
      m.scale[i] = e;
    }
  }
  return m;
}

// Output magnitudes S of the error model (see Tolerances): floating-point evaluation
// moves the loss by at most K u loss and gradient entry k by at most K u grad_logp[k].
struct Scales {
  double loss = 0;
  std::vector<double> grad_logp;
  std::vector<double> grad_log_z;
};

struct KlTerm {
  double value = 0, value_err = 0, grad = 0, grad_err = 0;
};

// An estimator's value and derivative with their error scales (x = logp_ref - logp).
KlTerm kl_term(KlEstimator est, double lp, double ref) {
  const TokenTerm k = kl_penalty(est, lp, ref);
  const double u = lp - ref;
  const double x = std::clamp(ref - lp, -20.0, 20.0);
  KlTerm r{std::fabs(k.value), 0, std::fabs(k.dvalue_dlogp), 0};
  switch (est) {
    case KlEstimator::k1:
    case KlEstimator::abs:
      r.value_err = std::fabs(u) + 1;
      break;
    case KlEstimator::k2:
      r.value_err = u * u + std::fabs(u);
      r.grad_err = std::fabs(u) + 1;  // also bounds f'' = 1 for the one-sided check
      break;
    case KlEstimator::k3:
      // Where a clamp is active the value is the clamp bound and the gradient 0, exactly.
      if (std::fabs(ref - lp) <= 20 && std::exp(x) - x - 1 <= 10) {
        r.value_err = std::exp(x) * (1 + std::fabs(x)) + std::fabs(x) + 1;
        r.grad_err = std::exp(x) * (1 + std::fabs(x)) + 1;
      }
      break;
  }
  return r;
}

// Residual-type heads (tb, flowrl): L = (1/B) sum_i w_i delta_i^2 with
// dL/dlogp = (2/B) w delta s m, dL/dlog_z = (2/B) w delta.
void residual_scales(Scales& out, const BatchData<double>& b, std::size_t i, double w, double w_rel_err,
                     double delta, double delta_abs, double s, const std::vector<bool>& kept) {
  const double B = double(b.rows);
  const double d = std::fabs(delta);
  out.loss += w / B * (d * d + 2 * d * delta_abs + d * d * w_rel_err);
  const double core = 2 / B * w * (delta_abs + d * w_rel_err + s + 1);
  for (std::size_t t = 0; t < b.columns; ++t) {
    if (kept[t]) out.grad_logp[i * b.columns + t] = core * s;
  }
  out.grad_log_z[i] = core;
}

Scales error_scales(const Objective& obj, const BatchData<double>& b) {
  const std::size_t B = b.rows, T = b.columns;
  const auto n = counts_of(b);
  Scales out;
  out.grad_logp.assign(B * T, 0.0);
  out.grad_log_z.assign(B, 0.0);
  auto valid = [&](std::size_t i, std::size_t t) { return b.mask[i * T + t] != 0; };
  auto at = [&](const std::vector<double>& v, std::size_t i, std::size_t t) { return v[i * T + t]; };

  auto kl_part = [&](KlEstimator est, double coef, const std::vector<double>& c) {
    for (std::size_t i = 0; i < B; ++i) {
      for (std::size_t t = 0; t < T; ++t) {
        if (!valid(i, t)) continue;
        const KlTerm k = kl_term(est, at(b.logp, i, t), at(b.logp_ref, i, t));
        out.loss += std::fabs(coef) * c[i] * (k.value + k.value_err);
        out.grad_logp[i * T + t] += std::fabs(coef) * c[i] * (k.grad + k.grad_err);
      }
    }
  };

  std::visit(
      [&](const auto& o) {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, GrpoOptions>) {
          const auto adv = advantage_model(b, o.advantage);
          const auto c = agg_coefficients(o.loss_agg_mode, n, T);
          const double top = std::max({1 + o.clip.clip_ratio_high, o.clip.clip_ratio_c, 1.0});
          for (std::size_t i = 0; i < B; ++i) {
            for (std::size_t t = 0; t < T; ++t) {
              if (!valid(i, t)) continue;
              const double d = std::clamp(at(b.logp, i, t) - at(b.logp_old, i, t), -20.0, 20.0);
              const double rho = std::exp(d);
              const double A = std::fabs(adv.at(i, t)), e = adv.err(i, t);
              out.loss += c[i] * (A * std::max(rho, top) + e * std::max(rho, top) + A * rho * (1 + std::fabs(d)));
              out.grad_logp[i * T + t] = c[i] * (A * rho * (2 + std::fabs(d)) + e * rho);
            }
          }
          if (o.kl_coef != 0) kl_part(o.kl_estimator, o.kl_coef, c);
        } else if constexpr (std::is_same_v<O, GspoOptions>) {
          const auto adv = advantage_model(b, o.advantage);
          const auto c = agg_coefficients(LossAggMode::seq_mean_token_mean, n, T);
          for (std::size_t i = 0; i < B; ++i) {
            if (n[i] == 0) continue;
            double sum = 0, sum_abs = 0;
            for (std::size_t t = 0; t < n[i]; ++t) {
              sum += at(b.logp, i, t) - at(b.logp_old, i, t);
              sum_abs += std::fabs(at(b.logp, i, t)) + std::fabs(at(b.logp_old, i, t));
            }
            const double s = std::exp(std::min(sum / double(n[i]), 10.0));
            const double rel = 2 + sum_abs / double(n[i]);
            const double top = std::max(s, 1 + o.clip_ratio_high);
            for (std::size_t t = 0; t < T; ++t) {
              if (!valid(i, t)) continue;
              const double A = std::fabs(adv.at(i, t)), e = adv.err(i, t);
              out.loss += c[i] * (A * top + e * top + A * s * rel);
              out.grad_logp[i * T + t] = c[i] * (e * s + A * s * rel);
            }
          }
        } else if constexpr (std::is_same_v<O, TrajectoryBalanceOptions>) {
          for (std::size_t i = 0; i < B; ++i) {
            double S = 0, S_abs = 0, D = 0, D_abs = 0;
            for (std::size_t t = 0; t < n[i]; ++t) {
              S += at(b.logp, i, t) - at(b.logp_ref, i, t);
              S_abs += std::fabs(at(b.logp, i, t)) + std::fabs(at(b.logp_ref, i, t));
              D += at(b.logp, i, t) - at(b.logp_old, i, t);
              D_abs += std::fabs(at(b.logp, i, t)) + std::fabs(at(b.logp_old, i, t));
            }
            const double s = o.length_normalize && n[i] > 0 ? 1.0 / double(n[i]) : 1.0;
            const double delta = b.log_z[i] + s * S - o.beta * b.reward[i];
            const double delta_abs = std::fabs(b.log_z[i]) + s * S_abs + std::fabs(o.beta * b.reward[i]) + std::fabs(delta);
            double w = 1, w_err = 0;
            if (o.weight != TbWeight::none) {
              w = std::exp(D);
              if (o.weight == TbWeight::clipped) w = std::clamp(w, 1 - o.clip_ratio_low, 1 + o.clip_ratio_high);
              w_err = 1 + D_abs;
            }
            std::vector<bool> kept(T);
            for (std::size_t t = 0; t < T; ++t) kept[t] = valid(i, t);
            residual_scales(out, b, i, w, w_err, delta, delta_abs, s, kept);
          }
        } else if constexpr (std::is_same_v<O, FlowRlOptions>) {
          const auto adv = advantage_model(b, o.advantage);
          for (std::size_t i = 0; i < B; ++i) {
            std::vector<bool> kept(T);
            std::size_t nk = 0;
            double D = 0, D_abs = 0, lp_sum = 0, ref_sum = 0, a_sum = 0, max_abs = 0, a_max = 0;
            for (std::size_t t = 0; t < T; ++t) {
              if (!valid(i, t)) continue;
              const double d = at(b.logp, i, t) - at(b.logp_old, i, t);
              const double A = adv.at(i, t);
              const bool drop = o.weight_clip == FlowRlWeightClip::cispo &&
                                ((A > 0 && std::exp(d) > 1 + o.clip_ratio_high) || (A < 0 && std::exp(d) < 1 - o.clip_ratio_low));
              if (drop) continue;
              kept[t] = true;
              ++nk;
              D += d;
              D_abs += std::fabs(at(b.logp, i, t)) + std::fabs(at(b.logp_old, i, t));
              lp_sum += at(b.logp, i, t);
              ref_sum += at(b.logp_ref, i, t);
              a_sum += A;
              max_abs = std::max({max_abs, std::fabs(at(b.logp, i, t)), std::fabs(at(b.logp_ref, i, t))});
              a_max = std::max(a_max, std::fabs(A) + adv.err(i, t));
            }
            const double den = double(nk) + kMaskedMeanEpsilon;
            const double delta = b.log_z[i] + lp_sum / den - o.beta * a_sum / den - ref_sum / den;
            const double delta_abs = std::fabs(b.log_z[i]) + 2 * max_abs + std::fabs(o.beta) * a_max + std::fabs(delta);
            double w = std::exp(D);
            switch (o.weight_clip) {
              case FlowRlWeightClip::none:
                break;
              case FlowRlWeightClip::max10:
                w = std::min(w, o.weight_clamp_max);
                break;
              case FlowRlWeightClip::cispo:
                w = std::clamp(w, 1 - o.clip_ratio_low, 1 + o.clip_ratio_high);
                break;
              case FlowRlWeightClip::symmetric:
                w = std::clamp(w, 1 - o.clip_ratio, 1 + o.clip_ratio);
                break;
            }
            residual_scales(out, b, i, w, 1 + D_abs, delta, delta_abs, 1.0 / den, kept);
          }
        } else if constexpr (std::is_same_v<O, SftOptions>) {
          std::vector<std::size_t> kept(B);
          for (std::size_t i = 0; i < B; ++i) kept[i] = b.reward[i] >= o.reward_threshold ? n[i] : 0;
          if (std::accumulate(kept.begin(), kept.end(), std::size_t(0)) == 0) return;
          const auto c = agg_coefficients(o.loss_agg_mode, kept, T);
          for (std::size_t i = 0; i < B; ++i) {
            for (std::size_t t = 0; t < T; ++t) {
              if (!valid(i, t) || kept[i] == 0) continue;
              out.loss += c[i] * (std::fabs(at(b.logp, i, t)) + 1);
              out.grad_logp[i * T + t] = c[i];
            }
          }
        } else if constexpr (std::is_same_v<O, KlLossOptions>) {
          kl_part(o.kl_estimator, o.kl_coef, agg_coefficients(o.loss_agg_mode, n, T));
        }
      },
      obj.options);
  return out;
}

double bound(double unit_roundoff, double scale) { return kTol.rounding_ops * unit_roundoff * scale; }

// Roots of e^x - x - 1 = 10, where k3's value clamp starts (Newton from each side).
std::array<double, 2> k3_clamp_roots() {
  std::array<double, 2> r{3.0, -12.0};
  for (double& x : r) {
    for (int it = 0; it < 100; ++it) x -= (std::exp(x) - x - 11.0) / (std::exp(x) - 1.0);
  }
  return r;
}

// Whether every branch quantity of the head (token log-ratios against clip bounds, row
// sums against weight clips, GSPO means, k3's clamps) is farther than the margins of
// Tolerances from its boundary, so float and double must take the same branches.
bool far_from_branches(const Objective& obj, const BatchData<double>& b) {
  const std::size_t T = b.columns;
  const auto n = counts_of(b);
  auto far = [](double v, std::initializer_list<double> edges, double margin) {
    for (double e : edges) {
      if (std::fabs(v - e) <= margin) return false;
    }
    return true;
  };
  const auto roots = k3_clamp_roots();
  auto kl_far = [&](KlEstimator est) {
    if (est != KlEstimator::k3) return true;
    for (std::size_t k = 0; k < b.rows * T; ++k) {
      if (b.mask[k] == 0) continue;
      const double x = b.logp_ref[k] - b.logp[k];
      if (!far(x, {-20.0, 20.0, roots[0], roots[1]}, kTol.branch_margin_token)) return false;
    }
    return true;
  };
  auto row_sum = [&](std::size_t i) {
    double D = 0;
    for (std::size_t t = 0; t < n[i]; ++t) D += b.logp[i * T + t] - b.logp_old[i * T + t];
    return D;
  };
  return std::visit(
      [&](const auto& o) -> bool {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, GrpoOptions>) {
          for (std::size_t k = 0; k < b.rows * T; ++k) {
            if (b.mask[k] == 0) continue;
            const double d = b.logp[k] - b.logp_old[k];
            if (!far(d, {std::log1p(-o.clip.clip_ratio_low), std::log1p(o.clip.clip_ratio_high), std::log(o.clip.clip_ratio_c)},
                     kTol.branch_margin_token)) {
              return false;
            }
          }
          return o.kl_coef == 0 || kl_far(o.kl_estimator);
        } else if constexpr (std::is_same_v<O, GspoOptions>) {
          for (std::size_t i = 0; i < b.rows; ++i) {
            if (n[i] == 0) continue;
            const double mean = row_sum(i) / double(n[i]);
            if (!far(mean, {std::log1p(-o.clip_ratio_low), std::log1p(o.clip_ratio_high), 10.0}, kTol.branch_margin_gspo_mean)) {
              return false;
            }
          }
          return true;
        } else if constexpr (std::is_same_v<O, TrajectoryBalanceOptions>) {
          if (o.weight != TbWeight::clipped) return true;
          for (std::size_t i = 0; i < b.rows; ++i) {
            if (!far(row_sum(i), {std::log1p(-o.clip_ratio_low), std::log1p(o.clip_ratio_high)}, kTol.branch_margin_row_sum)) {
              return false;
            }
          }
          return true;
        } else if constexpr (std::is_same_v<O, FlowRlOptions>) {
          const double lo = o.weight_clip == FlowRlWeightClip::cispo ? std::log1p(-o.clip_ratio_low) : std::log1p(-o.clip_ratio);
          const double hi = o.weight_clip == FlowRlWeightClip::cispo ? std::log1p(o.clip_ratio_high) : std::log1p(o.clip_ratio);
          const auto adv = advantage_model(b, o.advantage);
          for (std::size_t i = 0; i < b.rows; ++i) {
            // The weight clip sees the sum over kept tokens; CISPO's token test sees each ratio.
            double kept_sum = 0;
            for (std::size_t t = 0; t < n[i]; ++t) {
              const double d = b.logp[i * T + t] - b.logp_old[i * T + t];
              const double A = adv.at(i, t);
              if (o.weight_clip == FlowRlWeightClip::cispo) {
                if (!far(d, {lo, hi}, kTol.branch_margin_token)) return false;
                if ((A > 0 && std::exp(d) > 1 + o.clip_ratio_high) || (A < 0 && std::exp(d) < 1 - o.clip_ratio_low)) continue;
              }
              kept_sum += d;
            }
            switch (o.weight_clip) {
              case FlowRlWeightClip::none:
                break;
              case FlowRlWeightClip::max10:
                if (!far(kept_sum, {std::log(o.weight_clamp_max)}, kTol.branch_margin_row_sum)) return false;
                break;
              case FlowRlWeightClip::cispo:
              case FlowRlWeightClip::symmetric:
                if (!far(kept_sum, {lo, hi}, kTol.branch_margin_row_sum)) return false;
                break;
            }
          }
          return true;
        } else if constexpr (std::is_same_v<O, KlLossOptions>) {
          return kl_far(o.kl_estimator);
        } else {
          return true;
        }
      },
      obj.options);
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------
LossResult<double> run(const Objective& obj, const BatchData<double>& b) { return compute_loss<double>(obj, b.view()); }

bool uses_frozen_weight(const Objective& obj) {
  if (const auto* tb = std::get_if<TrajectoryBalanceOptions>(&obj.options)) return tb->weight != TbWeight::none;
  return std::holds_alternative<FlowRlOptions>(obj.options);
}

// The branch-count diagnostics; a change between x - h and x + h means a kink in between.
std::vector<double> branch_flags(const LossResult<double>& r) {
  std::vector<double> flags;
  for (const auto& [name, value] : r.diagnostics.scalars) {
    if (name.find("clipfrac") != std::string::npos || name.find("dropped") != std::string::npos) flags.push_back(value);
  }
  for (const auto& [name, values] : r.diagnostics.per_sequence) {
    if (name.find("kept") != std::string::npos) flags.insert(flags.end(), values.begin(), values.end());
  }
  return flags;
}

// rc::check inside a gtest test rather than RC_GTEST_PROP: a test runs the property once
// per configuration (RC_PARAMS's case count each) and can then assert over all its
// cases, e.g. that finite-difference skips stayed rare.
template <class F>
void expect_property(const std::string& description, F&& property) {
  const bool ok = rc::check(description, std::forward<F>(property));
  EXPECT_TRUE(ok) << description;
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class Real>
bool same_bits(const std::vector<Real>& a, const std::vector<Real>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Real)) == 0);
}

// Bit-identical loss, gradients and diagnostics; the first difference otherwise.
// Per-sequence diagnostics are compared on the rows in `rows` (all when empty).
std::string first_difference(const LossResult<double>& a, const LossResult<double>& b,
                             const std::vector<bool>& rows = {}) {
  std::ostringstream os;
  os.precision(17);
  if (!same_bits(a.loss, b.loss)) os << "loss " << a.loss << " vs " << b.loss;
  else if (!same_bits(a.grad_logp, b.grad_logp)) {
    for (std::size_t k = 0; k < std::min(a.grad_logp.size(), b.grad_logp.size()); ++k) {
      if (!same_bits(a.grad_logp[k], b.grad_logp[k])) {
        os << "grad_logp[" << k << "] " << a.grad_logp[k] << " vs " << b.grad_logp[k];
        break;
      }
    }
    if (os.str().empty()) os << "grad_logp sizes " << a.grad_logp.size() << " vs " << b.grad_logp.size();
  } else if (!same_bits(a.grad_log_z, b.grad_log_z)) {
    os << "grad_log_z differs";
  } else {
    for (const auto& [name, v] : a.diagnostics.scalars) {
      const auto it = b.diagnostics.scalars.find(name);
      if (it == b.diagnostics.scalars.end() || !same_bits(v, it->second)) {
        os << "diagnostic " << name << " " << v << " vs " << (it == b.diagnostics.scalars.end() ? NAN : it->second);
        return os.str();
      }
    }
    for (const auto& [name, v] : a.diagnostics.per_sequence) {
      const auto it = b.diagnostics.per_sequence.find(name);
      if (it == b.diagnostics.per_sequence.end() || it->second.size() != v.size()) {
        os << "per-sequence diagnostic " << name << " missing or resized";
        return os.str();
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        if ((rows.empty() || rows[i]) && !same_bits(v[i], it->second[i])) {
          os << "per-sequence diagnostic " << name << "[" << i << "] " << v[i] << " vs " << it->second[i];
          return os.str();
        }
      }
    }
    if (a.diagnostics.scalars.size() != b.diagnostics.scalars.size() ||
        a.diagnostics.per_sequence.size() != b.diagnostics.per_sequence.size()) {
      os << "diagnostic sets differ";
    }
  }
  return os.str();
}

std::vector<std::size_t> valid_entries(const BatchData<double>& b) {
  std::vector<std::size_t> v;
  for (std::size_t k = 0; k < b.mask.size(); ++k) {
    if (b.mask[k] != 0) v.push_back(k);
  }
  return v;
}

const std::vector<double>* per_sequence(const LossResult<double>& r, const std::string& name) {
  const auto it = r.diagnostics.per_sequence.find(name);
  return it == r.diagnostics.per_sequence.end() ? nullptr : &it->second;
}

double scalar(const LossResult<double>& r, const std::string& name) {
  const auto it = r.diagnostics.scalars.find(name);
  return it == r.diagnostics.scalars.end() ? NAN : it->second;
}

// ---------------------------------------------------------------------------------
// Finite differences
// ---------------------------------------------------------------------------------
struct FdStats {
  std::size_t checked = 0, skipped = 0;
  double worst = 0;  // max |fd - grad| / tolerance over passing entries
};

enum class Verdict { kPass, kSkip, kFail };

struct FdEntry {
  double analytic = 0, central = 0, right = 0, left = 0, tol = 0, one_sided_tol = 0;
  bool flags_changed = false;
};

Verdict judge(const FdEntry& e) {
  if (std::fabs(e.central - e.analytic) <= e.tol) return Verdict::kPass;
  const bool jump = std::fabs(e.right - e.left) > kTol.kink_jump_factor * e.one_sided_tol;
  const bool one_side = std::min(std::fabs(e.right - e.analytic), std::fabs(e.left - e.analytic)) <= e.one_sided_tol;
  return (jump || e.flags_changed) && one_side ? Verdict::kSkip : Verdict::kFail;
}

// Central and one-sided differences of the loss along logp[k] (or log_z[k]) with their
// tolerances. A stop-gradient weight is held fixed by moving logp_old[k] along.
FdEntry probe(const Objective& obj, const BatchData<double>& b, const LossResult<double>& r0, const Scales& sc,
              bool on_log_z, std::size_t k) {
  const double h = kTol.fd_step, u = kTol.unit_roundoff_double;
  BatchData<double> plus = b, minus = b;
  if (on_log_z) {
    plus.log_z[k] += h;
    minus.log_z[k] -= h;
  } else {
    plus.logp[k] += h;
    minus.logp[k] -= h;
    if (uses_frozen_weight(obj)) {
      plus.logp_old[k] += h;
      minus.logp_old[k] -= h;
    }
  }
  const LossResult<double> rp = run(obj, plus), rm = run(obj, minus);
  const double grad_scale = on_log_z ? sc.grad_log_z[k] : sc.grad_logp[k];
  FdEntry e;
  e.analytic = on_log_z ? r0.grad_log_z[k] : r0.grad_logp[k];
  e.central = (rp.loss - rm.loss) / (2 * h);
  e.right = (rp.loss - r0.loss) / h;
  e.left = (r0.loss - rm.loss) / h;
  e.tol = h * h * grad_scale + kTol.rounding_ops * u * (sc.loss / h + grad_scale);
  e.one_sided_tol = h * grad_scale + kTol.rounding_ops * u * (2 * sc.loss / h + grad_scale);
  e.flags_changed = branch_flags(rp) != branch_flags(rm);
  return e;
}

class FiniteDifference : public ::testing::TestWithParam<Config> {};

TEST_P(FiniteDifference, AnalyticGradientMatchesCentralDifference) {
  const Config& cfg = GetParam();
  const Objective obj = make_objective(cfg.objective, cfg.settings);
  const bool has_z = has_log_z_gradient(obj);
  FdStats stats;
  expect_property(cfg.label + ": analytic gradient vs central difference", [&] {
    const BatchData<double> b = *test::gen_loss_batch(cfg.gen);
    const LossResult<double> r0 = run(obj, b);
    const Scales sc = error_scales(obj, b);
    RC_ASSERT(r0.grad_logp.size() == b.rows * b.columns);
    RC_ASSERT(r0.grad_log_z.size() == (has_z ? b.rows : 0));

    auto check = [&](bool on_log_z, std::size_t k) {
      const FdEntry e = probe(obj, b, r0, sc, on_log_z, k);
      ++stats.checked;
      switch (judge(e)) {
        case Verdict::kPass:
          stats.worst = std::max(stats.worst, std::fabs(e.central - e.analytic) / e.tol);
          return;
        case Verdict::kSkip:
          ++stats.skipped;
          return;
        case Verdict::kFail:
          break;
      }
      std::ostringstream os;
      os.precision(17);
      os << (on_log_z ? "grad_log_z[" : "grad_logp[") << k << "]: analytic " << e.analytic << ", central difference "
         << e.central << " (right " << e.right << ", left " << e.left << "), |diff| "
         << std::fabs(e.central - e.analytic) << " > tol " << e.tol << "; loss " << r0.loss;
      RC_FAIL(os.str());
    };

    // A random subset of valid tokens and of rows keeps the suite fast; over the
    // cases every kind of entry is met many times.
    std::vector<std::size_t> entries = valid_entries(b);
    for (std::size_t j = 0; j < std::min(entries.size(), kTol.fd_entries_per_case); ++j) {
      std::swap(entries[j], entries[*rc::gen::inRange(j, entries.size())]);
      check(false, entries[j]);
    }
    std::vector<std::size_t> rows(b.rows);
    std::iota(rows.begin(), rows.end(), 0);
    for (std::size_t j = 0; has_z && j < std::min(rows.size(), kTol.fd_rows_per_case); ++j) {
      std::swap(rows[j], rows[*rc::gen::inRange(j, rows.size())]);
      check(true, rows[j]);
    }
  });
  EXPECT_GE(stats.checked, kTol.min_checked) << "too few entries compared: the property would pass vacuously";
  EXPECT_LE(double(stats.skipped), kTol.max_skip_fraction * double(stats.checked))
      << stats.skipped << " of " << stats.checked << " entries skipped as straddling a kink";
  std::cout << "[ fd       ] " << cfg.label << ": " << stats.checked << " entries, " << stats.skipped
            << " skipped at kinks, worst |fd - grad| / tol = " << stats.worst << "\n";
}

// The kink classifier itself: a GRPO token whose ratio sits h/4 below the upper clip
// bound 1.2 (A > 0) has a central difference halfway between -A rho c and 0; it must be
// skipped (evidence: pg_clipfrac flips, one-sided differences jump), not passed or failed.
// A ratio h/4 inside the range of a smooth head must pass instead.
TEST(FiniteDifferenceSelfTest, KinkInsideTheStepIsSkippedNotPassed) {
  const Objective obj = make_objective("grpo", {});
  BatchData<double> b;
  b.rows = 2;
  b.columns = 1;
  b.mask = {1, 1};
  b.reward = {1, 0};
  b.group = {3, 3};
  b.logp_old = {-1.0, -1.0};
  b.logp = {-1.0 + std::log(1.2) - kTol.fd_step / 4, -1.0};
  const LossResult<double> r0 = run(obj, b);
  const Scales sc = error_scales(obj, b);
  const FdEntry e = probe(obj, b, r0, sc, false, 0);
  EXPECT_TRUE(e.flags_changed);
  EXPECT_GT(std::fabs(e.central - e.analytic), e.tol);
  EXPECT_EQ(judge(e), Verdict::kSkip);
  b.logp[0] = -1.0 + std::log(1.1);
  const LossResult<double> r1 = run(obj, b);
  EXPECT_EQ(judge(probe(obj, b, r1, error_scales(obj, b), false, 0)), Verdict::kPass);
}

INSTANTIATE_TEST_SUITE_P(AllObjectives, FiniteDifference, ::testing::ValuesIn(all_configs()), config_name);

// ---------------------------------------------------------------------------------
// Padding, permutation, threads, float
// ---------------------------------------------------------------------------------
class Invariance : public ::testing::TestWithParam<Config> {};

// Padding is never read: NaN, infinities or huge values there change no bit of the
// result, and padding receives exactly zero gradient.
TEST_P(Invariance, PaddingIsNeverRead) {
  const Config& cfg = GetParam();
  const Objective obj = make_objective(cfg.objective, cfg.settings);
  const std::vector<double> poisons = {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::infinity(), 1e300, -1e300};
  expect_property(cfg.label + ": padding is never read", [&] {
    const BatchData<double> b = *test::gen_loss_batch(cfg.gen);
    const LossResult<double> r0 = run(obj, b);
    for (std::size_t k = 0; k < b.mask.size(); ++k) {
      if (b.mask[k] == 0) RC_ASSERT(r0.grad_logp[k] == 0.0);
    }
    // A per-sequence diagnostic of an empty row may echo that row's input (with T = 1 a
    // per-token advantage override is read as per-sequence, padding included): only
    // rows with a valid token are compared there. Loss and gradients are compared whole.
    std::vector<bool> nonempty(b.rows);
    const auto n = counts_of(b);
    for (std::size_t i = 0; i < b.rows; ++i) nonempty[i] = n[i] > 0;
    // Two poisons per case, drawn: over the cases every one is used many times.
    for (int j = 0; j < 2; ++j) {
      const double poison = *rc::gen::elementOf(poisons);
      const LossResult<double> r = run(obj, test::poison_padding(b, poison));
      const std::string diff = first_difference(r0, r, nonempty);
      if (!diff.empty()) RC_FAIL("padding = " + std::to_string(poison) + ": " + diff);
    }
  });
}

// Rows are exchangeable: group statistics and aggregation counts do not depend on the
// order, only their rounding does (tolerance K u S of the error model).
TEST_P(Invariance, PermutingSequencesPermutesGradients) {
  const Config& cfg = GetParam();
  const Objective obj = make_objective(cfg.objective, cfg.settings);
  const double u = kTol.unit_roundoff_double;
  expect_property(cfg.label + ": row permutation", [&] {
    const BatchData<double> b = *test::gen_loss_batch(cfg.gen);
    std::vector<std::size_t> perm(b.rows);
    std::iota(perm.begin(), perm.end(), 0);
    for (std::size_t i = 0; i + 1 < perm.size(); ++i) std::swap(perm[i], perm[*rc::gen::inRange(i, perm.size())]);
    const BatchData<double> p = test::permute_rows(b, perm);
    const LossResult<double> r0 = run(obj, b), rp = run(obj, p);
    const Scales sc = error_scales(obj, b);
    RC_ASSERT(std::fabs(r0.loss - rp.loss) <= 2 * bound(u, sc.loss));
    const std::size_t T = b.columns;
    for (std::size_t i = 0; i < b.rows; ++i) {
      for (std::size_t t = 0; t < T; ++t) {
        const std::size_t src = perm[i] * T + t;
        RC_ASSERT(std::fabs(rp.grad_logp[i * T + t] - r0.grad_logp[src]) <= 2 * bound(u, sc.grad_logp[src]));
      }
      if (!r0.grad_log_z.empty()) {
        RC_ASSERT(std::fabs(rp.grad_log_z[i] - r0.grad_log_z[perm[i]]) <= 2 * bound(u, sc.grad_log_z[perm[i]]));
      }
    }
  });
}

// The heads may split rows over threads, but every reduction must be ordered so the
// result does not depend on the thread count.
TEST(Threads, ThreadCountDoesNotChangeAnyBit) {
  const std::vector<Config> configs = all_configs();
  const int saved = omp_get_max_threads();
  // Heads split rows over threads only from kMinParallelTokens entries on, so each case
  // tiles a generated batch past that size; each case draws its configuration, which
  // keeps 100 large cases cheap.
  expect_property("1 vs 2 OpenMP threads", [&] {
    const Config& cfg = *rc::gen::elementOf(configs);
    const Objective obj = make_objective(cfg.objective, cfg.settings);
    const BatchData<double> b = test::tile_rows(*test::gen_loss_batch(cfg.gen), kMinParallelTokens);
    RC_ASSERT(b.rows * b.columns >= kMinParallelTokens);
    omp_set_num_threads(1);
    const LossResult<double> r1 = run(obj, b);
    omp_set_num_threads(2);
    const LossResult<double> r2 = run(obj, b);
    const std::string diff = first_difference(r1, r2);
    if (!diff.empty()) RC_FAIL(cfg.label + ": " + diff);
  });
  omp_set_num_threads(saved);
}

// compute_loss<float> on the float-rounded batch against compute_loss<double> on the
// same (exactly representable) values: within K u_f S plus the final rounding.
TEST_P(Invariance, FloatAgreesWithDouble) {
  const Config& cfg = GetParam();
  const Objective obj = make_objective(cfg.objective, cfg.settings);
  const double uf = kTol.unit_roundoff_float;
  std::size_t cases = 0, skipped = 0;
  double worst = 0;  // max |float - double| / tolerance over compared entries
  expect_property(cfg.label + ": float vs double", [&] {
    const BatchData<float> fb = test::convert_batch<float>(*test::gen_loss_batch(cfg.gen));
    const BatchData<double> db = test::convert_batch<double>(fb);
    ++cases;
    if (!far_from_branches(obj, db)) {
      ++skipped;
      return;
    }
    const LossResult<float> rf = compute_loss<float>(obj, fb.view());
    const LossResult<double> rd = run(obj, db);
    const Scales sc = error_scales(obj, db);
    RC_ASSERT(rf.grad_logp.size() == rd.grad_logp.size());
    RC_ASSERT(rf.grad_log_z.size() == rd.grad_log_z.size());
    worst = std::max(worst, std::fabs(rf.loss - rd.loss) / bound(uf, sc.loss));
    if (!(std::fabs(rf.loss - rd.loss) <= bound(uf, sc.loss))) {
      std::ostringstream os;
      os.precision(17);
      os << "loss float " << rf.loss << " double " << rd.loss << " tol " << bound(uf, sc.loss);
      RC_FAIL(os.str());
    }
    for (std::size_t k = 0; k < rd.grad_logp.size(); ++k) {
      const double tol = bound(uf, sc.grad_logp[k]) + uf * std::fabs(rd.grad_logp[k]);
      if (tol > 0) worst = std::max(worst, std::fabs(double(rf.grad_logp[k]) - rd.grad_logp[k]) / tol);
      if (!(std::fabs(double(rf.grad_logp[k]) - rd.grad_logp[k]) <= tol)) {
        std::ostringstream os;
        os.precision(17);
        os << "grad_logp[" << k << "] float " << rf.grad_logp[k] << " double " << rd.grad_logp[k] << " tol " << tol;
        RC_FAIL(os.str());
      }
    }
    for (std::size_t i = 0; i < rd.grad_log_z.size(); ++i) {
      const double tol = bound(uf, sc.grad_log_z[i]) + uf * std::fabs(rd.grad_log_z[i]);
      RC_ASSERT(std::fabs(double(rf.grad_log_z[i]) - rd.grad_log_z[i]) <= tol);
    }
  });
  EXPECT_LE(double(skipped), kTol.max_float_skip_fraction * double(cases))
      << skipped << " of " << cases << " batches skipped as near a branch boundary";
  std::cout << "[ float    ] " << cfg.label << ": " << cases - skipped << " batches compared, " << skipped
            << " skipped near a branch boundary, worst |float - double| / tol = " << worst << "\n";
}

// Magnitude of a loss-share diagnostic for the error model: the loss scale, divided by
// kl_coef for the KL terms reported before the coefficient (grpo's kl_loss, kl's kl).
double diagnostic_scale(const Objective& obj, const std::string& name, double loss_scale) {
  if (name == "kl_loss") return loss_scale / std::get<GrpoOptions>(obj.options).kl_coef;
  if (name == "kl") return loss_scale / std::get<KlLossOptions>(obj.options).kl_coef;
  return loss_scale;
}

// Gradient accumulation: the batch sorted by group and cut into micro-batches of whole
// groups, each padded to a width of its own (any width that keeps its tokens), gives the
// batch's loss and gradients once each micro-batch is weighted by D_m / D
// (loss_denominator). Micro-batches with D_m = 0 are left out, as a trainer must. The
// identity is exact in real arithmetic; each side is off by its error-model bound, the
// micro side by the sum of its parts' bounds times their weights (factor 2 for the
// weighting's own roundings, as in the permutation test).
// The scalar diagnostics merged by DiagnosticsMerge give the batch's: counts and maxima
// exactly (per-row values do not depend on the rest of the batch); residual_rms within
// 2 K u of itself (sums of the same non-negative squares); token means within
// (1e-8 + 2 K u) X / N, X = the sum of |term| over valid tokens (1e-8 is the heads'
// masked-mean epsilon, divided by N_m instead of N); loss terms as the loss.
TEST_P(Invariance, MicroBatchesOfWholeGroupsWeightedByTheirDenominatorGiveTheBatch) {
  const Config& cfg = GetParam();
  const Objective obj = make_objective(cfg.objective, cfg.settings);
  const double u = kTol.unit_roundoff_double;
  std::size_t split_cases = 0;
  expect_property(cfg.label + ": micro-batches", [&] {
    // Full size: RapidCheck scales ranges by a size that grows over the cases, and small
    // batches rarely hold two groups to cut between.
    BatchData<double> b = *rc::gen::resize(100, test::gen_loss_batch(cfg.gen));
    std::vector<std::size_t> order(b.rows);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return b.group[x] < b.group[y]; });
    b = test::permute_rows(b, order);
    const std::size_t T = b.columns;
    const bool per_token_adv = b.advantages.size() == b.rows * T && T > 1;
    const std::vector<std::size_t> n = counts_of(b);
    const std::vector<double> reward(b.reward.begin(), b.reward.end());
    const double D = loss_denominator(obj, n, reward, T);
    RC_PRE(D > 0.0);  // nothing to weight by (sft with no kept row: loss 0 either way)
    const LossResult<double> whole = run(obj, b);
    const Scales sc = error_scales(obj, b);

    // Cut at every group boundary, or (every other case) at a random half of them.
    const bool every_boundary = *rc::gen::arbitrary<bool>();
    std::vector<std::size_t> cuts{0};
    for (std::size_t i = 1; i < b.rows; ++i) {
      if (b.group[i] != b.group[i - 1] && (every_boundary || *rc::gen::arbitrary<bool>())) cuts.push_back(i);
    }
    cuts.push_back(b.rows);
    split_cases += cuts.size() > 2;

    std::size_t N = 0;
    double abs_log_ratio = 0;  // X of ppo_kl
    for (std::size_t k = 0; k < b.mask.size(); ++k) {
      if (b.mask[k] == 0) continue;
      ++N;
      if (!b.logp_old.empty()) abs_log_ratio += std::fabs(b.logp_old[k] - b.logp[k]);
    }
    const double token_mean_scale = std::max(1.0, N > 0 ? abs_log_ratio / double(N) : 0.0);
    DiagnosticsMerge merged;
    std::map<std::string, double> merged_tol;  // loss-share diagnostics: the micro side's bounds
    double loss = 0, loss_tol = bound(u, sc.loss);
    std::vector<double> grad(b.rows * T, 0.0), grad_tol(b.rows * T, 0.0), grad_z(whole.grad_log_z.size(), 0.0),
        grad_z_tol(whole.grad_log_z.size(), 0.0);
    for (std::size_t m = 0; m + 1 < cuts.size(); ++m) {
      const std::size_t begin = cuts[m], end = cuts[m + 1];
      std::size_t longest = per_token_adv ? 2 : 1;
      for (std::size_t i = begin; i < end; ++i) longest = std::max(longest, n[i]);
      const std::size_t width = *rc::gen::inRange(std::min(longest, T), T + 1);
      const BatchData<double> part = test::slice_rows(b, begin, end, width);
      const std::vector<std::size_t> part_n(n.begin() + std::ptrdiff_t(begin), n.begin() + std::ptrdiff_t(end));
      const std::vector<double> part_reward(part.reward.begin(), part.reward.end());
      const double Dm = loss_denominator(obj, part_n, part_reward, width);
      if (Dm == 0.0) continue;
      const double share = Dm / D;
      const LossResult<double> r = run(obj, part);
      const Scales part_sc = error_scales(obj, part);
      loss += r.loss * share;
      loss_tol += bound(u, part_sc.loss) * share;
      std::size_t Nm = 0;
      for (std::size_t v : part_n) Nm += v;
      merged.add(r.diagnostics.scalars, {share, N > 0 ? double(Nm) / double(N) : 0.0, double(end - begin) / double(b.rows)});
      for (const auto& [name, v] : r.diagnostics.scalars) {
        if (diagnostic_rule(name) == DiagnosticRule::loss_share) {
          merged_tol[name] += bound(u, diagnostic_scale(obj, name, part_sc.loss)) * share;
        }
      }
      for (std::size_t i = begin; i < end; ++i) {
        for (std::size_t t = 0; t < width; ++t) {
          grad[i * T + t] = r.grad_logp[(i - begin) * width + t] * share;
          grad_tol[i * T + t] = bound(u, part_sc.grad_logp[(i - begin) * width + t]) * share;
        }
        if (!r.grad_log_z.empty()) {
          grad_z[i] = r.grad_log_z[i - begin] * share;
          grad_z_tol[i] = bound(u, part_sc.grad_log_z[i - begin]) * share;
        }
      }
    }
    std::ostringstream os;
    os.precision(17);
    if (!(std::fabs(loss - whole.loss) <= 2 * loss_tol)) {
      os << "loss: micro-batches " << loss << ", batch " << whole.loss << ", tolerance " << 2 * loss_tol;
      RC_FAIL(os.str());
    }
    for (std::size_t k = 0; k < grad.size(); ++k) {
      if (b.mask[k] == 0) continue;
      const double tol = 2 * (grad_tol[k] + bound(u, sc.grad_logp[k]));
      if (!(std::fabs(grad[k] - whole.grad_logp[k]) <= tol)) {
        os << "grad_logp[" << k << "]: micro-batches " << grad[k] << ", batch " << whole.grad_logp[k] << ", tolerance "
           << tol;
        RC_FAIL(os.str());
      }
    }
    for (std::size_t i = 0; i < grad_z.size(); ++i) {
      RC_ASSERT(std::fabs(grad_z[i] - whole.grad_log_z[i]) <= 2 * (grad_z_tol[i] + bound(u, sc.grad_log_z[i])));
    }
    const std::map<std::string, double> diagnostics = merged.result();
    for (const auto& [name, expected] : whole.diagnostics.scalars) {
      const auto it = diagnostics.find(name);
      if (it == diagnostics.end()) RC_FAIL("diagnostic " + name + " missing from the merge");
      double tol = 0;
      switch (diagnostic_rule(name)) {
        case DiagnosticRule::sum:
        case DiagnosticRule::max:
          break;
        case DiagnosticRule::row_rms:
          tol = 2 * bound(u, std::fabs(expected));
          break;
        case DiagnosticRule::token_share:
          tol = (kMaskedMeanEpsilon + 2 * kTol.rounding_ops * u) * token_mean_scale;
          break;
        case DiagnosticRule::loss_share:
          tol = 2 * (bound(u, diagnostic_scale(obj, name, sc.loss)) + merged_tol[name]);
          break;
      }
      if (!(std::fabs(it->second - expected) <= tol)) {
        os << "diagnostic " << name << ": merged " << it->second << ", batch " << expected << ", tolerance " << tol;
        RC_FAIL(os.str());
      }
    }
    RC_ASSERT(diagnostics.size() == whole.diagnostics.scalars.size());
  });
  std::cout << "[ micro    ] " << cfg.label << ": " << split_cases << " batches cut into micro-batches\n";
  // The property is empty without cuts. About half the full-size batches hold two groups
  // or more (41-63 of 100 over 5 seeds x 42 configurations); fewer than 25 has a binomial
  // probability of ~3e-7 per configuration at p = 0.5, so failing means the cuts broke.
  EXPECT_GE(split_cases, 25u) << cfg.label;
}

INSTANTIATE_TEST_SUITE_P(AllObjectives, Invariance, ::testing::ValuesIn(all_configs()), config_name);

// ---------------------------------------------------------------------------------
// GRPO / GSPO / FlowRL specifics
// ---------------------------------------------------------------------------------

// A positive affine map r -> a_g r + b_g of each group's rewards (groups of >= 2
// non-empty rows; singletons are not standardised, so they are left alone).
// With std normalisation, A = (s - mu)/(sigma + eps) becomes (s - mu)/(sigma + eps/a):
//   A' - A = A eps (1 - 1/a) / (sigma + eps/a),
// zero for eps = 0 and at most |A| eps |1 - 1/a| / (sigma + eps/a) otherwise; both
// asserted up to the rounding of both evaluations (K u S of the advantage model).
void check_affine_invariance(double epsilon) {
  const std::vector<std::string> settings = {"epsilon=" + std::to_string(epsilon)};
  const Objective obj = make_objective("grpo", settings);
  const GroupAdvantageOptions adv_opts = std::get<GrpoOptions>(obj.options).advantage;
  ASSERT_EQ(adv_opts.epsilon, epsilon);
  const double u = kTol.unit_roundoff_double;
  LossBatchGenOptions gen;
  gen.allow_empty_rows = false;
  expect_property("grpo advantages, affine rewards, epsilon " + std::to_string(epsilon), [&] {
    const BatchData<double> b = *test::gen_loss_batch(gen);
    BatchData<double> m = b;
    std::map<std::int64_t, std::pair<double, double>> maps;
    std::map<std::int64_t, int> sizes;
    for (std::int64_t g : b.group) ++sizes[g];
    for (const auto& [g, size] : sizes) {
      maps[g] = {*rc::gen::inRange(4, 65) / 16.0, *rc::gen::inRange(-64, 65) / 8.0};  // a in [1/4, 4], b in [-8, 8]
    }
    for (std::size_t i = 0; i < b.rows; ++i) {
      if (sizes[b.group[i]] >= 2) m.reward[i] = maps[b.group[i]].first * b.reward[i] + maps[b.group[i]].second;
    }
    const LossResult<double> r0 = run(obj, b), r1 = run(obj, m);
    const std::vector<double>* a0 = per_sequence(r0, "advantages");
    const std::vector<double>* a1 = per_sequence(r1, "advantages");
    RC_ASSERT(a0 != nullptr);
    RC_ASSERT(a1 != nullptr);
    const AdvantageModel m0 = advantage_model(b, adv_opts), m1 = advantage_model(m, adv_opts);
    for (std::size_t i = 0; i < b.rows; ++i) {
      const double a = sizes[b.group[i]] >= 2 ? maps[b.group[i]].first : 1.0;
      const double sigma = m0.group[i].std;
      const double A = m0.value[i];
      const double predicted = sigma > 0 ? A * epsilon * (1 - 1 / a) / (sigma + epsilon / a) : 0.0;
      const double rounding = bound(u, m0.scale[i]) + bound(u, m1.scale[i]);
      const double change = (*a1)[i] - (*a0)[i];
      RC_ASSERT(std::fabs(change) <= std::fabs(predicted) + rounding);
      RC_ASSERT(std::fabs(change - predicted) <= rounding);
    }
    // The policy gradient is linear in A, so it moves by at most c_i rho |A' - A|.
    const Scales s0 = error_scales(obj, b), s1 = error_scales(obj, m);
    const auto c = agg_coefficients(LossAggMode::token_mean, counts_of(b), b.columns);
    for (std::size_t k = 0; k < r0.grad_logp.size(); ++k) {
      if (b.mask[k] == 0) continue;
      const std::size_t i = k / b.columns;
      const double rho = std::exp(std::clamp(b.logp[k] - b.logp_old[k], -20.0, 20.0));
      const double allowed = c[i] * rho * std::fabs((*a1)[i] - (*a0)[i]) + bound(u, s0.grad_logp[k]) + bound(u, s1.grad_logp[k]);
      RC_ASSERT(std::fabs(r1.grad_logp[k] - r0.grad_logp[k]) <= allowed);
    }
  });
}

// The batch generator reaches its documented ranges from the first case: 400 batches drawn
// at RapidCheck's sizes 0 (its first case) and 10, where a size-scaled inRange gave B = 1,
// T = 1, logp = -8 and only negative log-ratios. Every B in [1, 8] and T in [1, 12] must
// appear (a value of probability 1/12 is missed by 400 draws with probability (11/12)^400
// = 8e-16); at least 15% of the tokens confident (logp >= -0.1; expected 0.85 (5/19 +
// 14/19 * 0.1/8) = 0.231, ~7000 tokens, so 0.15 is > 10 binomial sd below), some exactly 0;
// and of the nonzero log-ratios logp_old - logp, at least 40% of each sign (expected 50%,
// > 5 sd over the ~3000 of them). False-alarm rate below 1e-7 per size; the seed is fixed.
TEST(LossBatchGen, CoversItsRangesAtEverySize) {
  for (const int size : {0, 10}) {
    std::map<std::size_t, int> rows, columns;
    double tokens = 0, confident = 0, zero = 0, up = 0, down = 0;
    rc::Random random(20261123u + static_cast<std::uint64_t>(size));
    for (int d = 0; d < 400; ++d) {
      const BatchData<double> b = test::gen_loss_batch()(random.split(), size).value();
      ++rows[b.rows];
      ++columns[b.columns];
      for (std::size_t k = 0; k < b.rows * b.columns; ++k) {
        if (b.mask[k] == 0) continue;
        ++tokens;
        confident += b.logp[k] >= -0.1;
        zero += b.logp[k] == 0.0;
        up += b.logp_old[k] > b.logp[k];
        down += b.logp_old[k] < b.logp[k];
      }
    }
    for (std::size_t v = 1; v <= 8; ++v) EXPECT_GT(rows[v], 0) << "size " << size << ": B = " << v << " never drawn";
    for (std::size_t v = 1; v <= 12; ++v) {
      EXPECT_GT(columns[v], 0) << "size " << size << ": T = " << v << " never drawn";
    }
    EXPECT_EQ(rows.size(), 8u) << "size " << size;
    EXPECT_EQ(columns.size(), 12u) << "size " << size;
    EXPECT_GE(confident / tokens, 0.15) << "size " << size << ": " << confident << " of " << tokens;
    EXPECT_GT(zero, 0) << "size " << size;
    EXPECT_GE(up / (up + down), 0.4) << "size " << size << ": " << up << " up, " << down << " down";
    EXPECT_GE(down / (up + down), 0.4) << "size " << size << ": " << up << " up, " << down << " down";
  }
}

TEST(GrpoAdvantage, AffineRewardMapLeavesAdvantagesExactlyWithoutEpsilon) { check_affine_invariance(0.0); }
TEST(GrpoAdvantage, AffineRewardMapMovesAdvantagesByTheEpsilonEffect) { check_affine_invariance(1e-6); }

// Rows of a group whose rewards are all equal have A = 0 exactly, so with no KL term
// their policy gradient is exactly zero (the rest of the batch is arbitrary).
TEST(PolicyGradient, EqualRewardGroupGetsZeroGradient) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> objectives = {
      {"grpo", {}},
      {"grpo", {"loss_agg_mode=seq-mean-token-mean", "clip_ratio_c=1.5"}},
      {"grpo", {"norm_adv_by_std=false"}},
      {"grpo", {"epsilon=0"}},
      {"gspo", {}},
      {"gspo", {"clip_ratio_low=0.2", "clip_ratio_high=0.28"}},
      {"gspo", {"epsilon=0"}}};
  for (const auto& [name, settings] : objectives) {
    const Objective obj = make_objective(name, settings);
    std::string label = name + " equal-reward group";
    for (const std::string& e : settings) label += " " + e;
    expect_property(label, [&] {
      BatchData<double> b = *test::gen_loss_batch(name == "gspo" ? gspo_gen() : LossBatchGenOptions{});
      const std::int64_t g = b.group[*rc::gen::inRange<std::size_t>(0, b.rows)];
      const auto n = counts_of(b);
      bool has_empty = false;
      for (std::size_t i = 0; i < b.rows; ++i) has_empty = has_empty || (b.group[i] == g && n[i] == 0);
      // An empty row scores 0 whatever its reward, so such a group is equal only at 0.
      const double common = has_empty ? 0.0 : *rc::gen::element(0.0, 1.0, 0.375);
      for (std::size_t i = 0; i < b.rows; ++i) {
        if (b.group[i] == g) b.reward[i] = common;
      }
      const LossResult<double> r = run(obj, b);
      for (std::size_t i = 0; i < b.rows; ++i) {
        if (b.group[i] != g) continue;
        if (std::count(b.group.begin(), b.group.end(), g) < 2) continue;  // a singleton is not a baseline
        for (std::size_t t = 0; t < b.columns; ++t) RC_ASSERT(r.grad_logp[i * b.columns + t] == 0.0);
      }
    });
  }
}

// On-policy (logp == logp_old) every ratio is 1, inside every clip range: nothing clips
// and the gradient is the unclipped one, -A_i c_i (grpo) and -A_i / (B' (n_i + 1e-8))
// (gspo). Tolerance: K u S of the error model (A and c_i are rounded once each).
TEST(Clipping, InactiveAtRatioOne) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> objectives = {
      {"grpo", {}},
      {"grpo", {"clip_ratio_low=0.1", "clip_ratio_high=0.28", "clip_ratio_c=1.01"}},
      {"grpo", {"loss_agg_mode=seq-mean-token-sum"}},
      {"grpo", {"loss_agg_mode=seq-mean-token-mean"}},
      {"grpo", {"loss_agg_mode=seq-mean-token-sum-norm", "norm_adv_by_std=false"}},
      {"gspo", {}},
      {"gspo", {"clip_ratio_low=0.2", "clip_ratio_high=0.28"}}};
  const double u = kTol.unit_roundoff_double;
  LossBatchGenOptions gen;
  gen.old_spreads = {Spread::kZero};
  for (const auto& [name, settings] : objectives) {
    const Objective obj = make_objective(name, settings);
    expect_property(name + " at ratio 1", [&] {
      const BatchData<double> b = *test::gen_loss_batch(gen);
      const LossResult<double> r = run(obj, b);
      RC_ASSERT(scalar(r, "pg_clipfrac") == 0.0);
      RC_ASSERT(scalar(r, "pg_clipfrac_lower") == 0.0);
      const Scales sc = error_scales(obj, b);
      const auto n = counts_of(b);
      LossAggMode mode = LossAggMode::seq_mean_token_mean;
      GroupAdvantageOptions adv_opts;
      if (const auto* g = std::get_if<GrpoOptions>(&obj.options)) {
        mode = g->loss_agg_mode;
        adv_opts = g->advantage;
      } else {
        adv_opts = std::get<GspoOptions>(obj.options).advantage;
      }
      const AdvantageModel adv = advantage_model(b, adv_opts);
      const auto c = agg_coefficients(mode, n, b.columns);
      for (std::size_t i = 0; i < b.rows; ++i) {
        for (std::size_t t = 0; t < n[i]; ++t) {
          const std::size_t k = i * b.columns + t;
          const double want = -adv.value[i] * c[i];
          RC_ASSERT(std::fabs(r.grad_logp[k] - want) <= bound(u, sc.grad_logp[k]));
        }
      }
    });
  }
}

// FlowRL's CISPO variant at ratio 1: no token is dropped and the weight is clamp(1) = 1,
// so it computes the same loss as the unclipped paper version.
TEST(Clipping, FlowRlCispoDropsNothingAtRatioOne) {
  const Objective cispo = make_objective("flowrl", {"weight_clip=cispo"});
  const Objective plain = make_objective("flowrl", {"weight_clip=none"});
  const double u = kTol.unit_roundoff_double;
  LossBatchGenOptions gen;
  gen.old_spreads = {Spread::kZero};
  expect_property("flowrl cispo at ratio 1", [&] {
    const BatchData<double> b = *test::gen_loss_batch(gen);
    const LossResult<double> rc_ = run(cispo, b), rn = run(plain, b);
    RC_ASSERT(scalar(rc_, "dropped_token_fraction") == 0.0);
    const auto n = counts_of(b);
    const std::vector<double>* kept = per_sequence(rc_, "kept_tokens");
    const std::vector<double>* weight = per_sequence(rc_, "weight");
    RC_ASSERT(kept != nullptr);
    RC_ASSERT(weight != nullptr);
    for (std::size_t i = 0; i < b.rows; ++i) {
      RC_ASSERT((*kept)[i] == double(n[i]));
      RC_ASSERT((*weight)[i] == 1.0);
    }
    const Scales sc = error_scales(plain, b);
    RC_ASSERT(std::fabs(rc_.loss - rn.loss) <= bound(u, sc.loss));
    for (std::size_t k = 0; k < rn.grad_logp.size(); ++k) {
      RC_ASSERT(std::fabs(rc_.grad_logp[k] - rn.grad_logp[k]) <= bound(u, sc.grad_logp[k]));
    }
    for (std::size_t i = 0; i < b.rows; ++i) {
      RC_ASSERT(std::fabs(rc_.grad_log_z[i] - rn.grad_log_z[i]) <= bound(u, sc.grad_log_z[i]));
    }
  });
}

// ---------------------------------------------------------------------------------
// Trajectory balance
// ---------------------------------------------------------------------------------

// delta = log_z + s sum(logp - logp_ref) - beta r is unchanged by r -> r + c,
// log_z -> log_z + beta c; only the rounding of the shifted inputs and of delta moves
// (K u S for either batch).
TEST(TrajectoryBalance, RewardShiftAbsorbedByLogZ) {
  const double u = kTol.unit_roundoff_double;
  for (const std::vector<std::string>& settings :
       {std::vector<std::string>{}, {"beta=2.5", "length_normalize=true"}, {"weight=importance", "beta=0.5"},
        {"weight=clipped", "beta=7"}}) {
    const Objective obj = make_objective("tb", settings);
    const double beta = std::get<TrajectoryBalanceOptions>(obj.options).beta;
    std::string label = "tb reward shift";
    for (const std::string& e : settings) label += " " + e;
    expect_property(label, [&] {
      const BatchData<double> b = *test::gen_loss_batch();
      const double c = *test::gen_dyadic(-4.0, 4.0);
      BatchData<double> s = b;
      for (std::size_t i = 0; i < b.rows; ++i) {
        s.reward[i] += c;
        s.log_z[i] += beta * c;
      }
      const LossResult<double> r0 = run(obj, b), r1 = run(obj, s);
      const Scales s0 = error_scales(obj, b), s1 = error_scales(obj, s);
      RC_ASSERT(std::fabs(r0.loss - r1.loss) <= bound(u, s0.loss) + bound(u, s1.loss));
      for (std::size_t k = 0; k < r0.grad_logp.size(); ++k) {
        RC_ASSERT(std::fabs(r0.grad_logp[k] - r1.grad_logp[k]) <= bound(u, s0.grad_logp[k]) + bound(u, s1.grad_logp[k]));
      }
      for (std::size_t i = 0; i < b.rows; ++i) {
        RC_ASSERT(std::fabs(r0.grad_log_z[i] - r1.grad_log_z[i]) <= bound(u, s0.grad_log_z[i]) + bound(u, s1.grad_log_z[i]));
      }
    });
  }
}

// ---------------------------------------------------------------------------------
// Bad batches and options: InputError naming the field
// ---------------------------------------------------------------------------------

// A fixed valid batch: B = 3, T = 4, rows of length 4, 2, 0; groups {5, 5, 9}.
BatchData<double> valid_batch() {
  BatchData<double> b;
  b.rows = 3;
  b.columns = 4;
  b.mask = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  b.logp = {-0.5, -1.0, -0.25, -2.0, -0.75, -1.5, 9e9, 9e9, 9e9, 9e9, 9e9, 9e9};
  b.logp_old = {-0.5, -1.25, -0.25, -1.0, -0.5, -1.5, 0, 0, 0, 0, 0, 0};
  b.logp_ref = {-1.0, -1.0, -0.5, -2.0, -0.75, -2.0, 0, 0, 0, 0, 0, 0};
  b.reward = {1.0, 0.0, 0.5};
  b.group = {5, 5, 9};
  b.log_z = {0.5, -0.25, 1.0};
  return b;
}

std::string error_for(const std::string& objective, const BatchData<double>& b, const std::vector<std::string>& settings = {}) {
  return test::input_error_message([&] { (void)compute_loss<double>(make_objective(objective, settings), b.view()); });
}

TEST(BadBatch, ValidBatchIsAcceptedByEveryObjective) {
  for (const char* name : {"tb", "disa", "flowrl", "grpo", "gspo", "sft", "kl"}) {
    EXPECT_EQ(error_for(name, valid_batch()), "<no exception thrown>") << name;
  }
}

TEST(BadBatch, WrongSizesNameTheField) {
  const std::size_t BT = 12;
  {
    auto b = valid_batch();
    b.logp.resize(BT - 1);
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"logp"}));
  }
  {
    auto b = valid_batch();
    b.logp_old.push_back(0.0);
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"logp_old"}));
  }
  {
    auto b = valid_batch();
    b.logp_ref.resize(BT - 4);
    EXPECT_TRUE(test::contains_all(error_for("tb", b), {"logp_ref"}));
  }
  {
    auto b = valid_batch();
    b.mask.resize(BT + 4, 0.0);
    EXPECT_TRUE(test::contains_all(error_for("sft", b), {"mask"}));
  }
  {
    auto b = valid_batch();
    b.reward.push_back(1.0);
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"reward"}));
    EXPECT_TRUE(test::contains_all(error_for("tb", b), {"reward"}));
  }
  {
    auto b = valid_batch();
    b.group.clear();
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"group"}));
    EXPECT_TRUE(test::contains_all(error_for("flowrl", b), {"group"}));
  }
  {
    auto b = valid_batch();
    b.group.pop_back();
    EXPECT_TRUE(test::contains_all(error_for("gspo", b), {"group"}));
  }
  {
    auto b = valid_batch();
    b.log_z.clear();
    EXPECT_TRUE(test::contains_all(error_for("tb", b), {"log_z"}));
    EXPECT_TRUE(test::contains_all(error_for("flowrl", b), {"log_z"}));
  }
  {
    auto b = valid_batch();
    b.log_z.push_back(0.0);
    EXPECT_TRUE(test::contains_all(error_for("flowrl", b), {"log_z"}));
  }
  {
    auto b = valid_batch();
    b.logp_ref.clear();
    EXPECT_TRUE(test::contains_all(error_for("kl", b), {"logp_ref"}));
  }
  for (std::size_t size : {std::size_t(2), std::size_t(4), BT - 1, BT + 1}) {
    auto b = valid_batch();
    b.advantages.assign(size, 0.5);
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"advantages"})) << size << " entries";
  }
}

TEST(BadBatch, MaskMustBeZeroOrOne) {
  for (double bad : {0.5, 2.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    auto b = valid_batch();
    b.mask[5] = bad;
    EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"mask"})) << bad;
    EXPECT_TRUE(test::contains_all(error_for("tb", b), {"mask"})) << bad;
  }
}

TEST(BadBatch, NonFiniteValidValuesNameTheField) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::string objective;
    std::vector<double> BatchData<double>::*field;
    std::size_t index;
    double value;
    std::string name;
  };
  const std::vector<Case> cases = {
      {"grpo", &BatchData<double>::logp, 1, nan, "logp"},        {"tb", &BatchData<double>::logp, 5, -inf, "logp"},
      {"grpo", &BatchData<double>::logp_old, 2, inf, "logp_old"}, {"flowrl", &BatchData<double>::logp_old, 4, nan, "logp_old"},
      {"tb", &BatchData<double>::logp_ref, 0, -inf, "logp_ref"},  {"kl", &BatchData<double>::logp_ref, 3, nan, "logp_ref"},
      {"grpo", &BatchData<double>::reward, 0, nan, "reward"},     {"sft", &BatchData<double>::reward, 1, inf, "reward"},
      {"tb", &BatchData<double>::reward, 1, -inf, "reward"},      {"tb", &BatchData<double>::log_z, 1, inf, "log_z"},
      {"flowrl", &BatchData<double>::log_z, 0, nan, "log_z"},
  };
  for (const Case& c : cases) {
    auto b = valid_batch();
    (b.*c.field)[c.index] = c.value;
    EXPECT_TRUE(test::contains_all(error_for(c.objective, b), {c.name})) << c.objective << " " << c.name;
  }
  auto b = valid_batch();
  b.advantages.assign(12, 0.5);
  b.advantages[3] = nan;  // a valid token (row 0)
  EXPECT_TRUE(test::contains_all(error_for("grpo", b), {"advantages"}));
}

// An importance weight e^{sum log-ratio} that overflows (sum > ~709.78) is an error
// naming the row (trajectory_balance.h, flowrl.h), not an inf loss.
TEST(BadBatch, OverflowingImportanceWeightNamesTheRow) {
  auto b = valid_batch();
  for (std::size_t t = 0; t < 2; ++t) b.logp_old[4 + t] = b.logp[4 + t] - 360.0;  // row 1: sum 720
  for (const auto& [name, settings] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"tb", {"weight=importance"}}, {"flowrl", {"weight_clip=none"}}}) {
    const std::string message =
        test::error_message([&] { (void)compute_loss<double>(make_objective(name, settings), b.view()); });
    EXPECT_TRUE(test::contains_all(message, {"row 1"})) << name;
  }
  // A clipped weight cannot overflow: the same batch is fine.
  EXPECT_EQ(error_for("flowrl", b, {"weight_clip=max10"}), "<no exception thrown>");
  EXPECT_EQ(error_for("tb", b, {"weight=clipped"}), "<no exception thrown>");
}

// One row, one token, a weight e^{s} that fits the precision while the gradient 2 w delta
// (delta = log_z = 0.9) does not: the loss w delta^2 is finite and was all that was checked.
template <class Real>
void expect_overflowing_gradient_is_an_error(double log_ratio) {
  BatchData<Real> b;
  b.rows = 1;
  b.columns = 1;
  b.mask = {1};
  b.logp = {0};
  b.logp_old = {Real(-log_ratio)};
  b.logp_ref = {0};
  b.reward = {0};
  b.group = {0};
  b.log_z = {Real(0.9)};
  for (const auto& [name, settings] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"tb", {"weight=importance"}}, {"flowrl", {"weight_clip=none"}}}) {
    std::string message = "<no exception thrown>";
    try {
      (void)compute_loss<Real>(make_objective(name, settings), b.view());
    } catch (const NumericalError& e) {
      message = e.what();
    }
    EXPECT_TRUE(test::contains_all(message, {name + ": the gradient of row 0 overflows"})) << name << ": " << message;
  }
}

TEST(BadBatch, AGradientThatOverflowsIsAnErrorThoughTheLossIsFinite) {
  expect_overflowing_gradient_is_an_error<double>(709.7);  // w = 1.65e308, gradient 2.97e308
  expect_overflowing_gradient_is_an_error<float>(88.5);    // w = 2.7e38 < FLT_MAX, gradient 4.9e38
}

std::string objective_error(const std::string& name, const std::vector<std::string>& settings) {
  return test::input_error_message([&] { (void)make_objective(name, settings); });
}

TEST(BadOptions, UnknownObjectiveAndKeysAreNamed) {
  EXPECT_TRUE(test::contains_all(objective_error("ppo2", {}), {"ppo2"}));
  EXPECT_TRUE(test::contains_all(objective_error("grpo", {"clip_ratio_hgih=0.3"}), {"clip_ratio_hgih"}));
  EXPECT_TRUE(test::contains_all(objective_error("tb", {"weight_clip=none"}), {"weight_clip"}));  // a flowrl key
  EXPECT_TRUE(test::contains_all(objective_error("sft", {"kl_coef=0.1"}), {"kl_coef"}));
}

TEST(BadOptions, MalformedValuesAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"grpo", "clip_ratio_low=abc"}, {"grpo", "loss_agg_mode=foo"},      {"flowrl", "weight_clip=bar"},
      {"grpo", "kl_estimator=k9"},    {"tb", "length_normalize=maybe"},   {"tb", "weight=heavy"},
      {"gspo", "clip_ratio_high="},   {"grpo", "singleton_groups=drop"},  {"kl", "kl_coef=1e"},
      {"sft", "reward_threshold=x"},  {"grpo", "norm_adv_by_std=2"},
  };
  for (const auto& [name, entry] : cases) {
    const std::string key = entry.substr(0, entry.find('='));
    EXPECT_TRUE(test::contains_all(objective_error(name, {entry}), {key})) << name << " " << entry;
  }
}

TEST(BadOptions, OutOfRangeValuesAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"grpo", "clip_ratio_low=-0.1"}, {"grpo", "clip_ratio_high=-0.2"}, {"grpo", "clip_ratio=-0.2"},
      {"grpo", "clip_ratio_c=1"},      {"grpo", "clip_ratio_c=0.5"},     {"gspo", "clip_ratio_low=-3e-4"},
      {"gspo", "clip_ratio_high=-1"},  {"flowrl", "clip_ratio_low=-0.2"}, {"flowrl", "clip_ratio=-0.2"},
      {"tb", "clip_ratio_high=-0.28"},
      // verl's aliases, named as given (the penalty weight is >= 0 in both heads).
      {"grpo", "kl_loss_coef=-1"},     {"kl", "kl_coef=-1"},             {"kl", "kl_loss_type=k9"},
      {"grpo", "kl_penalty=k0"},
  };
  for (const auto& [name, entry] : cases) {
    const std::string key = entry.substr(0, entry.find('='));
    EXPECT_TRUE(test::contains_all(objective_error(name, {entry}), {name + ": " + key + "="})) << name << " " << entry;
  }
  // Underflow is not "not a finite number": the value is finite, only too small for a double.
  EXPECT_TRUE(test::contains_all(objective_error("tb", {"beta=1e-400"}), {"tb: beta=1e-400", "underflows"}));
  EXPECT_TRUE(test::contains_all(objective_error("tb", {"beta=1e400"}), {"tb: beta=1e400", "finite"}));
}


// ---------------------------------------------------------------------------------
// Clip-range options: verl's clip_ratio fallback, and bounds a weight variant never reads
// ---------------------------------------------------------------------------------

// verl's compute_policy_loss_vanilla and compute_policy_loss_gspo both take clip_ratio_low
// and clip_ratio_high, each falling back to clip_ratio when not given (LOSSES.md sections
// 3 and 5; golden gspo cases pass all three). gspo used to refuse clip_ratio as unknown.
TEST(ClipOptions, GspoTakesClipRatioAsTheLowHighFallbackAsGrpoDoes) {
  struct Case {
    std::string objective;
    std::vector<std::string> settings;
    double low, high;
  };
  const std::vector<Case> cases = {
      {"grpo", {}, 0.2, 0.2},
      {"grpo", {"clip_ratio=0.1"}, 0.1, 0.1},
      {"grpo", {"clip_ratio=0.1", "clip_ratio_high=0.28"}, 0.1, 0.28},
      {"gspo", {}, 3e-4, 4e-4},  // the GSPO paper's range when nothing is given
      {"gspo", {"clip_ratio=0.1"}, 0.1, 0.1},
      {"gspo", {"clip_ratio=0.1", "clip_ratio_high=0.28"}, 0.1, 0.28},
      {"gspo", {"clip_ratio=0.1", "clip_ratio_low=0.05"}, 0.05, 0.1},
      {"gspo", {"clip_ratio=0.2", "clip_ratio_low=3e-4", "clip_ratio_high=4e-4"}, 3e-4, 4e-4},
  };
  for (const Case& c : cases) {
    std::string label = c.objective;
    for (const std::string& e : c.settings) label += " " + e;
    Objective obj;
    ASSERT_EQ(test::input_error_message([&] { obj = make_objective(c.objective, c.settings); }), "<no exception thrown>")
        << label;
    double low = 0, high = 0;
    if (const auto* g = std::get_if<GrpoOptions>(&obj.options)) {
      low = g->clip.clip_ratio_low;
      high = g->clip.clip_ratio_high;
    } else {
      low = std::get<GspoOptions>(obj.options).clip_ratio_low;
      high = std::get<GspoOptions>(obj.options).clip_ratio_high;
    }
    EXPECT_EQ(low, c.low) << label;
    EXPECT_EQ(high, c.high) << label;
  }
  // Range-checked as grpo's: it feeds the lower bound 1 - clip_ratio, so [0, 1).
  EXPECT_TRUE(test::contains_all(objective_error("gspo", {"clip_ratio=1"}), {"gspo: clip_ratio=1", "[0, 1)"}));
  EXPECT_TRUE(test::contains_all(objective_error("gspo", {"clip_ratio=-0.1"}), {"gspo: clip_ratio=-0.1"}));
}

// Each flowrl weight_clip reads its own bounds (flowrl.h). A bound the chosen variant
// never reads used to be accepted and ignored: weight_clip=cispo clip_ratio=0.1 ran with
// 0.2/0.28. Now it is refused, naming the option, its value and the variant.
TEST(ClipOptions, FlowRlRefusesABoundItsWeightClipDoesNotRead) {
  const std::map<std::string, std::vector<std::string>> reads = {
      {"none", {}},
      {"max10", {"weight_clamp_max"}},
      {"cispo", {"clip_ratio_low", "clip_ratio_high"}},
      {"symmetric", {"clip_ratio"}},
  };
  const std::vector<std::string> bounds = {"weight_clamp_max", "clip_ratio", "clip_ratio_low", "clip_ratio_high"};
  for (const auto& [variant, keys] : reads) {
    for (const std::string& key : bounds) {
      const std::string entry = key + "=0.1";
      const std::string message = objective_error("flowrl", {"weight_clip=" + variant, entry});
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
        EXPECT_EQ(message, "<no exception thrown>") << variant << " " << entry;
      } else {
        EXPECT_TRUE(test::contains_all(message, {"flowrl: " + entry, "not read by weight_clip=" + variant}))
            << variant << " " << entry;
      }
    }
  }
  // weight_clip not given is none, and the message says so.
  EXPECT_TRUE(test::contains_all(objective_error("flowrl", {"clip_ratio=0.2"}),
                                 {"flowrl: clip_ratio=0.2", "not read by weight_clip=none"}));
  // The brief's case: cispo names the bounds it does use.
  EXPECT_TRUE(test::contains_all(objective_error("flowrl", {"weight_clip=cispo", "clip_ratio=0.1"}),
                                 {"flowrl: clip_ratio=0.1", "weight_clip=cispo", "clip_ratio_low", "clip_ratio_high"}));
}

// What option_list (disa loss --list, the options echoed in results) shows is what the
// head reads: for every objective and flowrl variant, the listed options given back as
// settings are accepted and resolve to the same list; flowrl lists only its variant's bounds.
TEST(ClipOptions, ListedOptionsAreExactlyTheOnesReadAndAreAcceptedBack) {
  std::vector<std::pair<std::string, std::vector<std::string>>> objectives;
  for (const std::string& name : objective_names()) objectives.push_back({name, {}});
  for (const char* w : {"none", "max10", "cispo", "symmetric"}) objectives.push_back({"flowrl", {std::string("weight_clip=") + w}});
  for (const auto& [name, settings] : objectives) {
    const OptionList listed = option_list(make_objective(name, settings));
    std::vector<std::string> back;
    for (const auto& [key, value] : listed) back.push_back(key + "=" + value);
    OptionList again;
    EXPECT_EQ(test::input_error_message([&] { again = option_list(make_objective(name, back)); }), "<no exception thrown>")
        << name << (settings.empty() ? "" : " " + settings[0]);
    EXPECT_EQ(again, listed) << name;
  }
  const std::map<std::string, std::vector<std::string>> bounds = {
      {"none", {}},
      {"max10", {"weight_clamp_max"}},
      {"cispo", {"clip_ratio_low", "clip_ratio_high"}},
      {"symmetric", {"clip_ratio"}},
  };
  for (const auto& [variant, keys] : bounds) {
    std::vector<std::string> listed;
    for (const auto& [key, value] : option_list(make_objective("flowrl", {"weight_clip=" + variant}))) {
      if (key == "weight_clamp_max" || key.starts_with("clip_ratio")) listed.push_back(key);
    }
    EXPECT_EQ(listed, keys) << variant;
  }
}

// ---------------------------------------------------------------------------------
// Gradients that overflow the precision though the loss (in double) is finite
// ---------------------------------------------------------------------------------

template <class Real>
BatchData<Real> one_token(double logp, double logp_old, double logp_ref, double advantage) {
  BatchData<Real> b;
  b.rows = 1;
  b.columns = 1;
  b.mask = {1};
  b.logp = {Real(logp)};
  b.logp_old = {Real(logp_old)};
  b.logp_ref = {Real(logp_ref)};
  b.reward = {0};
  b.group = {0};
  b.advantages = {Real(advantage)};
  return b;
}

template <class Real>
std::string numerical_error_for(const std::string& name, const std::vector<std::string>& settings,
                                const BatchData<Real>& b, LossResult<Real>* out = nullptr) {
  try {
    LossResult<Real> r = compute_loss<Real>(make_objective(name, settings), b.view());
    if (out != nullptr) *out = std::move(r);
  } catch (const NumericalError& e) {
    return e.what();
  }
  return "<no exception thrown>";
}

// The per-token heads checked their double loss but rounded each gradient entry to Real
// unchecked, so a float gradient could be +-inf with no error (the reviewer's cases):
//   kl   k2, kl_coef 10, logp -3e38: loss 10 * 0.5 * 9e76 = 4.5e77, gradient 10 * (-3e38) = -3e39
//   grpo A = 3e38, d = 0.15 (inside the 0.2 clip): loss = gradient = -A e^0.15 = -3.49e38
//   gspo A = -1e38, d = 2 (unclipped for A < 0): loss = gradient = -A e^2 / (1 + 1e-8) = 7.39e38
// All beyond FLT_MAX = 3.40e38 and finite in double. sft needs no check: its gradient is
// -c_i with |c_i| <= 1 (aggregation.h), which cannot overflow.
TEST(BadBatch, AFloatGradientThatOverflowsIsAnErrorInThePerTokenHeads) {
  struct Case {
    std::string name;
    std::vector<std::string> settings;
    double logp, logp_old, logp_ref, advantage;
    double loss, gradient;  // by hand, in double
  };
  const double e015 = std::exp(0.15);
  const std::vector<Case> cases = {
      {"kl", {"kl_estimator=k2", "kl_coef=10"}, -3e38, 0, 0, 0, 4.5e77, -3e39},
      {"grpo", {}, 0.15, 0, 0, 3e38, -3e38 * e015, -3e38 * e015},
      {"gspo", {}, 2, 0, 0, -1e38, 1e38 * std::exp(2.0) / (1 + 1e-8), 1e38 * std::exp(2.0) / (1 + 1e-8)},
  };
  for (const Case& c : cases) {
    // float: the logp and advantages above are floats' (3e38 < FLT_MAX); only the gradient overflows.
    const BatchData<float> f = one_token<float>(c.logp, c.logp_old, c.logp_ref, c.advantage);
    EXPECT_TRUE(test::contains_all(numerical_error_for<float>(c.name, c.settings, f),
                                   {c.name + ": the gradient at row 0, token 0", "float"}))
        << c.name;
    // double: the same batch is fine, and its numbers are the hand-written ones.
    const BatchData<double> d = one_token<double>(double(f.logp[0]), double(f.logp_old[0]), double(f.logp_ref[0]),
                                                  double(f.advantages[0]));
    LossResult<double> r;
    ASSERT_EQ(numerical_error_for<double>(c.name, c.settings, d, &r), "<no exception thrown>") << c.name;
    EXPECT_NEAR(r.loss, c.loss, 1e-6 * std::fabs(c.loss)) << c.name;
    EXPECT_NEAR(r.grad_logp[0], c.gradient, 1e-6 * std::fabs(c.gradient)) << c.name;
  }
}

// ---------------------------------------------------------------------------------
// Clamps and aggregation against values written out by hand from LOSSES.md
// ---------------------------------------------------------------------------------

// LOSSES.md section 3: d = clamp(lp - lp_old, -20, 20), rho = e^d; the gradient -A rho
// only where the unclipped branch is active and d inside the clamp. Clip ranges wide
// enough that the clip does not hide the clamp: one token, A per sequence.
TEST(HandValues, PpoLogRatioIsClampedAtPlusMinus20) {
  struct Case {
    std::vector<std::string> settings;
    double d, advantage;
    double loss, gradient, ppo_kl;
  };
  const double e20 = std::exp(20.0), e19 = std::exp(19.0), em20 = std::exp(-20.0);
  const double den = 1 + 1e-8;  // ppo_kl = masked_mean(-d), masked_mean's 1e-8
  const std::vector<Case> cases = {
      // d = 25 -> 20: l1 = l2 = -e^20 (1 + 1e10 exceeds e^20), value -e^20 (not -e^25), gradient 0.
      {{"clip_ratio_high=1e10"}, 25, 1, -e20, 0, -20 / den},
      // d = 19 is inside: value and gradient -e^19.
      {{"clip_ratio_high=1e10"}, 19, 1, -e19, -e19, -19 / den},
      // d = -25 -> -20: 1 - clip_ratio_low = 1e-9 < e^-20 = 2.06e-9, so unclipped: -e^-20, gradient 0.
      {{"clip_ratio_low=0.999999999"}, -25, 1, -em20, 0, 20 / den},
  };
  for (const Case& c : cases) {
    BatchData<double> b = one_token<double>(c.d, 0, 0, c.advantage);
    std::vector<std::string> settings = c.settings;
    const LossResult<double> r = run(make_objective("grpo", settings), b);
    EXPECT_NEAR(r.loss, c.loss, 1e-13 * std::fabs(c.loss)) << "d = " << c.d;
    EXPECT_NEAR(r.grad_logp[0], c.gradient, 1e-13 * std::fabs(c.gradient)) << "d = " << c.d;
    EXPECT_NEAR(scalar(r, "ppo_kl"), c.ppo_kl, 1e-13 * std::fabs(c.ppo_kl)) << "d = " << c.d;
    EXPECT_EQ(scalar(r, "pg_clipfrac"), 0.0) << "d = " << c.d;
  }
}

// LOSSES.md section 5: s_i = e^{sum_t m d / max(n_i, 1)}, log s_it clamped at max 10 (value
// and gradient: none past the clamp), loss_tok = max(-A s, -A clamp(s, 1 - lo, 1 + hi)),
// always seq-mean-token-mean. Row 0: two tokens, d = 12 each: log s = 12 -> 10, value e^10,
// gradient 0. Row 1: one token (one padding), d = 9: value e^9, gradient -A e^9 / (B' (1 + 1e-8)).
// A = -1 on both rows, so the unclipped branch -A s is the max.
TEST(HandValues, GspoLogRatioIsClampedAt10) {
  BatchData<double> b;
  b.rows = 2;
  b.columns = 2;
  b.mask = {1, 1, 1, 0};
  b.logp = {12, 12, 9, 0};
  b.logp_old = {0, 0, 0, 0};
  b.reward = {0, 0};
  b.group = {0, 1};
  b.advantages = {-1, -1};
  const LossResult<double> r = run(make_objective("gspo"), b);
  const double e10 = std::exp(10.0), e9 = std::exp(9.0);
  const double loss = 0.5 * (2 * e10 / (2 + 1e-8) + e9 / (1 + 1e-8));
  EXPECT_NEAR(r.loss, loss, 1e-13 * loss);
  EXPECT_EQ(r.grad_logp[0], 0.0);
  EXPECT_EQ(r.grad_logp[1], 0.0);
  EXPECT_NEAR(r.grad_logp[2], e9 / (2 * (1 + 1e-8)), 1e-13 * e9);
  EXPECT_EQ(r.grad_logp[3], 0.0);
  const std::vector<double>* ratio = per_sequence(r, "ratio");
  ASSERT_NE(ratio, nullptr);
  EXPECT_NEAR((*ratio)[0], e10, 1e-13 * e10);
  EXPECT_NEAR((*ratio)[1], e9, 1e-13 * e9);
}

// LOSSES.md section 4: seq-mean-token-sum sums each row and averages over the non-empty
// rows only (B' = 2 of B = 3 here). Through the kl head with k1 (value lp - ref, derivative
// 1) and kl_coef 1: rows lp - ref = {0.5, -1, 2}, {} (empty), {3}.
TEST(HandValues, SeqMeanTokenSumAveragesOverNonEmptyRows) {
  BatchData<double> b;
  b.rows = 3;
  b.columns = 3;
  b.mask = {1, 1, 1, 0, 0, 0, 1, 0, 0};
  b.logp = {0.5, -1, 2, 7, 7, 7, 3, 7, 7};
  b.logp_ref = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  const LossResult<double> r =
      run(make_objective("kl", {"kl_estimator=k1", "kl_coef=1", "loss_agg_mode=seq-mean-token-sum"}), b);
  EXPECT_DOUBLE_EQ(r.loss, (0.5 - 1 + 2 + 3) / 2.0);  // 2.25, not / 3
  const std::vector<double> grad = {0.5, 0.5, 0.5, 0, 0, 0, 0.5, 0, 0};
  for (std::size_t k = 0; k < grad.size(); ++k) EXPECT_EQ(r.grad_logp[k], grad[k]) << k;
}

}  // namespace
}  // namespace disa::loss

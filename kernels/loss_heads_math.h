// The per-token math of kernel 2 (the loss heads on the GPU), shared by the CUDA kernels
// (loss_heads.cu) and the CPU emulation (loss_heads_emulate.cpp), and tested on the CPU
// (tests/kernels/loss_heads_math_test.cpp):
//   - ppo_clipped_token_hd / kl_penalty_hd: device-callable transcriptions of
//     disa::loss::ppo_clipped_token (src/loss/ppo_clip.h) and disa::loss::kl_penalty
//     (src/loss/kl_penalty.h), whose bodies use std::clamp and friends (host only). The
//     test checks them bit for bit against the originals; src/ stays the definition.
//   - accumulate_row: one token's contribution to a row's masked sums (pass 1).
//   - token_step: one token's gradient and its contribution to the row's token sums
//     (pass 3), for every covered head.
// Everything is accumulated in double whatever Real is, as the CPU heads do.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/host_device.h"

namespace disa::kernels {

// std::clamp / std::max / std::min with the same comparisons (so the same NaN behaviour).
DISA_HD inline double hd_clamp(double v, double lo, double hi) { return v < lo ? lo : (hi < v ? hi : v); }
DISA_HD inline double hd_max(double a, double b) { return a < b ? b : a; }
DISA_HD inline double hd_min(double a, double b) { return b < a ? b : a; }
DISA_HD inline bool hd_finite(double x) { return x == x && x != INFINITY && x != -INFINITY; }

// ---- transcriptions of src/loss/ppo_clip.h and src/loss/kl_penalty.h --------------------
struct ClipRangeHd {
  double clip_ratio_low, clip_ratio_high, clip_ratio_c;
};

struct ClippedTokenHd {
  double value = 0;
  double dvalue_dlogp = 0;
  bool clipped = false;
  bool dual_clipped = false;
  double log_ratio = 0;
};

DISA_HD inline ClippedTokenHd ppo_clipped_token_hd(double logp, double logp_old, double advantage,
                                                  const ClipRangeHd& clip) {
  const double raw = logp - logp_old;
  const double d = hd_clamp(raw, -20.0, 20.0);
  const bool d_inside = raw >= -20.0 && raw <= 20.0;
  const double rho = exp(d);
  const double l1 = -advantage * rho;
  const double l2 = -advantage * hd_clamp(rho, 1.0 - clip.clip_ratio_low, 1.0 + clip.clip_ratio_high);
  ClippedTokenHd out;
  out.log_ratio = d;
  out.clipped = l2 > l1;
  const double lc = hd_max(l1, l2);
  double grad = (l1 >= l2 && d_inside) ? -advantage * rho : 0.0;
  double value = lc;
  if (advantage < 0) {
    const double l3 = -advantage * clip.clip_ratio_c;
    if (lc > l3) {
      out.dual_clipped = true;
      value = l3;
      grad = 0.0;
    }
  }
  out.value = value;
  out.dvalue_dlogp = grad;
  return out;
}

// Same order as disa::loss::KlEstimator.
enum KlEstimatorHd : int { kKlK1 = 0, kKlAbs = 1, kKlK2 = 2, kKlK3 = 3 };

struct TokenTermHd {
  double value = 0;
  double dvalue_dlogp = 0;
};

DISA_HD inline TokenTermHd kl_penalty_hd(int estimator, double logp, double logp_ref) {
  const double u = logp - logp_ref;
  TokenTermHd r;
  switch (estimator) {
    case kKlK1:
      r.value = u;
      r.dvalue_dlogp = 1.0;
      break;
    case kKlAbs:
      r.value = fabs(u);
      r.dvalue_dlogp = u > 0 ? 1.0 : (u < 0 ? -1.0 : 0.0);
      break;
    case kKlK2:
      r.value = 0.5 * u * u;
      r.dvalue_dlogp = u;
      break;
    case kKlK3: {
      const double raw = -u;
      const double x = hd_clamp(raw, -20.0, 20.0);
      const bool x_inside = raw >= -20.0 && raw <= 20.0;
      const double e = exp(x);
      const double k = e - x - 1.0;
      r.value = hd_clamp(k, -10.0, 10.0);
      const bool k_inside = k >= -10.0 && k <= 10.0;
      r.dvalue_dlogp = (x_inside && k_inside) ? 1.0 - e : 0.0;
      break;
    }
    default:
      break;
  }
  return r;
}

// ---- pass 1: per-row masked sums ----------------------------------------------------
// Per-token inputs of one batch; a null pointer is a field the objective does not read
// (then it is neither summed nor checked, as the CPU validation does not check it).
template <class Real>
struct TokenFields {
  const Real* logp = nullptr;
  const Real* logp_old = nullptr;
  const Real* logp_ref = nullptr;
  const Real* mask = nullptr;
  const Real* advantages = nullptr;  // per-token advantages (B x T), or null
};

// Counts are doubles (exact below 2^53) so that one reduction adds every field.
struct RowSums {
  double n = 0;         // valid tokens (mask != 0)
  double bad = 0;       // mask not 0/1, or a non-finite read value at a valid token
  double logp = 0;      // sum m logp
  double logp_ref = 0;  // sum m logp_ref
  double ref_diff = 0;  // sum m (logp - logp_ref)
  double old_diff = 0;  // sum m (logp - logp_old)
  double adv = 0;       // sum m A (per-token advantages only)

  DISA_HD void add(const RowSums& o) {
    n += o.n;
    bad += o.bad;
    logp += o.logp;
    logp_ref += o.logp_ref;
    ref_diff += o.ref_diff;
    old_diff += o.old_diff;
    adv += o.adv;
  }
};

// Entry k = i * T + t. Padding is skipped by a branch, never multiplied by 0 (it may be NaN).
template <class Real>
DISA_HD inline void accumulate_row(RowSums& s, const TokenFields<Real>& f, std::int64_t k) {
  const Real m = f.mask[k];
  if (!(m == Real(0) || m == Real(1))) s.bad += 1;  // also NaN masks
  if (m == Real(0)) return;
  s.n += 1;
  const double lp = double(f.logp[k]);
  if (!hd_finite(lp)) s.bad += 1;
  s.logp += lp;
  if (f.logp_old) {
    const double lo = double(f.logp_old[k]);
    if (!hd_finite(lo)) s.bad += 1;
    s.old_diff += lp - lo;
  }
  if (f.logp_ref) {
    const double lr = double(f.logp_ref[k]);
    if (!hd_finite(lr)) s.bad += 1;
    s.logp_ref += lr;
    s.ref_diff += lp - lr;
  }
  if (f.advantages) {
    const double a = double(f.advantages[k]);
    if (!hd_finite(a)) s.bad += 1;
    s.adv += a;
  }
}

// ---- pass 3: per-token gradient and token sums ----------------------------------------
enum TokenRule : int {
  kRuleFill = 0,  // tb, flowrl: grad = fill_i at valid tokens
  kRulePpo = 1,   // grpo: PPO clip + dual clip (+ KL)
  kRuleGspo = 2,  // gspo: sequence ratio, clipped
};

struct HeadParams {
  int rule = kRuleFill;
  ClipRangeHd clip{0.2, 0.2, 3.0};  // grpo; gspo uses clip_ratio_low/high only
  double kl_coef = 0;
  int kl_estimator = kKlK3;
  bool with_kl = false;
};

// What pass 3 needs of one row, computed on the host from pass 1's sums.
struct RowPlan {
  double fill = 0;      // kRuleFill: the gradient at every valid token
  double c = 0;         // aggregation coefficient c_i (kRulePpo, kRuleGspo)
  double adv = 0;       // per-sequence advantage (when not per token)
  double ratio = 1;     // kRuleGspo: s_i
  int passes = 1;       // kRuleGspo: log s_i <= 10 (the clamp passes the gradient)
};

struct TokenSums {
  double pg = 0;
  double kl = 0;
  double neg_log_ratio = 0;
  double clipped = 0;
  double dual = 0;

  DISA_HD void add(const TokenSums& o) {
    pg += o.pg;
    kl += o.kl;
    neg_log_ratio += o.neg_log_ratio;
    clipped += o.clipped;
    dual += o.dual;
  }
};

// The gradient at entry k (0 at padding), accumulating the row's token sums. For kRuleFill
// the value is Real(fill) exactly as masked_row_fill stores it.
template <class Real>
DISA_HD inline Real token_step(const HeadParams& h, const RowPlan& p, const TokenFields<Real>& f, std::int64_t k,
                               TokenSums& sums) {
  if (f.mask[k] == Real(0)) return Real(0);
  if (h.rule == kRuleFill) return Real(p.fill);
  const double lp = double(f.logp[k]);
  const double a = f.advantages ? double(f.advantages[k]) : p.adv;
  if (h.rule == kRuleGspo) {
    const double l1 = -a * p.ratio;
    const double l2 = -a * hd_clamp(p.ratio, 1.0 - h.clip.clip_ratio_low, 1.0 + h.clip.clip_ratio_high);
    sums.pg += hd_max(l1, l2);
    sums.clipped += l2 > l1 ? 1.0 : 0.0;
    return Real((l1 >= l2 && p.passes) ? p.c * (-a * p.ratio) : 0.0);
  }
  const ClippedTokenHd tok = ppo_clipped_token_hd(lp, double(f.logp_old[k]), a, h.clip);
  sums.pg += tok.value;
  sums.clipped += tok.clipped ? 1.0 : 0.0;
  sums.dual += tok.dual_clipped ? 1.0 : 0.0;
  sums.neg_log_ratio -= tok.log_ratio;
  double g = tok.dvalue_dlogp;
  if (h.with_kl) {
    const TokenTermHd kl = kl_penalty_hd(h.kl_estimator, lp, double(f.logp_ref[k]));
    sums.kl += kl.value;
    g += h.kl_coef * kl.dvalue_dlogp;
  }
  return Real(p.c * g);
}

}  // namespace disa::kernels

// The per-token math of kernel 2 (the loss heads on the GPU), called by its kernels
// (loss_heads_device.cuh, on the GPU and on the CPU device), and tested on the CPU
// (tests/kernels/loss_heads_math_test.cpp):
//   - the per-token PPO clip and KL penalty are src/loss's own definitions
//     (disa::loss::ppo_clipped_token, disa::loss::kl_penalty), which are DISA_HD.
//   - accumulate_row: one token's contribution to a row's masked sums (pass 1).
//   - token_step: one token's gradient and its contribution to the row's token sums
//     (pass 3), for every covered head.
// Everything is accumulated in double whatever Real is, as the CPU heads do.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/host_device.h"
#include "src/loss/kl_penalty.h"
#include "src/loss/ppo_clip.h"

namespace disa::kernels {

DISA_HD inline bool hd_finite(double x) { return x == x && x != INFINITY && x != -INFINITY; }


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
  loss::PpoClipRange clip{0.2, 0.2, 3.0};  // grpo; gspo uses clip_ratio_low/high only
  double kl_coef = 0;
  loss::KlEstimator kl_estimator = loss::KlEstimator::k3;
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
  // Entries whose gradient, rounded to Real, is not finite (the loss, in double, may still
  // be): the heads' require_finite_token_gradients error (src/loss/finite_gradient.h).
  double nonfinite = 0;

  DISA_HD void add(const TokenSums& o) {
    pg += o.pg;
    kl += o.kl;
    neg_log_ratio += o.neg_log_ratio;
    clipped += o.clipped;
    dual += o.dual;
    nonfinite += o.nonfinite;
  }
};

// The rounded gradient entry, counted in sums.nonfinite when it does not fit Real.
template <class Real>
DISA_HD inline Real rounded_gradient(double g, TokenSums& sums) {
  const Real r = Real(g);
  sums.nonfinite += hd_finite(double(r)) ? 0.0 : 1.0;
  return r;
}

// The gradient at entry k (0 at padding), accumulating the row's token sums (with a count of
// the entries that overflow Real). For kRuleFill the value is Real(fill) exactly as
// masked_row_fill stores it (its finiteness is checked on the host, grad_log_z).
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
    return rounded_gradient<Real>((l1 >= l2 && p.passes) ? p.c * (-a * p.ratio) : 0.0, sums);
  }
  const loss::ClippedToken tok = loss::ppo_clipped_token(lp, double(f.logp_old[k]), a, h.clip);
  sums.pg += tok.value;
  sums.clipped += tok.clipped ? 1.0 : 0.0;
  sums.dual += tok.dual_clipped ? 1.0 : 0.0;
  sums.neg_log_ratio -= tok.log_ratio;
  double g = tok.dvalue_dlogp;
  if (h.with_kl) {
    const loss::TokenTerm kl = loss::kl_penalty(h.kl_estimator, lp, double(f.logp_ref[k]));
    sums.kl += kl.value;
    g += h.kl_coef * kl.dvalue_dlogp;
  }
  return rounded_gradient<Real>(p.c * g, sums);
}

}  // namespace disa::kernels

// The per-element math of kernel 1 (token log-probabilities from logits), shared by the
// CUDA kernel (token_logprobs.cu) and tested on the CPU (tests/kernels/
// token_logprobs_math_test.cpp) against long-double brute force.
//
// Online softmax state over a stream of logits x (one pass, no second read):
//   m = max of the finite x seen,  s = sum e^{x-m},  u = sum e^{x-m} (x-m)
// so that  lse = m + log s  and  entropy H = -sum p log p = log s - u/s.
// u is kept relative to m (not sum e^{x-m} x) so that H does not cancel when |x| >> H.
// Rescaling to a new max M >= m with d = m - M, f = e^d:
//   s' = f s,   u' = f (u + s d)
// and two states merge by rescaling both to the larger max and adding.
//
// Edge cases (src/log_sum_exp.h's conventions for lse; entropy and log p follow):
//   -inf entries contribute nothing; a row of only -inf has lse = -inf, and then
//   log p(target) = x_t - lse = NaN and H = NaN (no distribution; torch's log_softmax
//   also gives NaN there); any +inf -> lse = +inf, H = NaN; any NaN -> lse = H = NaN.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/host_device.h"

namespace disa::kernels {

// bf16 storage: the upper half of an IEEE float; layout-compatible with __nv_bfloat16
// and at::BFloat16 (both a single uint16_t), so device and torch buffers cast to it.
struct bf16 {
  std::uint16_t bits;
};

DISA_HD inline float to_float(float x) { return x; }
DISA_HD inline float to_float(bf16 x) { return bits_float(std::uint32_t(x.bits) << 16); }

// Round to nearest even; every NaN becomes the canonical 0x7fff. What
// __float2bfloat16_rn does: on sm_80+ one cvt.rn.bf16.f32 instruction (instead of the
// ~7 integer instructions below, per element of kernel 1's bf16 backward), elsewhere
// cuda_bf16.hpp's software rounding, which this is.
DISA_HD inline bf16 float_to_bf16(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  bf16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r.bits) : "f"(f));
  return r;
#else
  std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{std::uint16_t(0x7fffu)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{std::uint16_t(u >> 16)};
#endif
}

template <class Elem>
DISA_HD inline Elem from_float(float f);
template <>
DISA_HD inline float from_float<float>(float f) {
  return f;
}
template <>
DISA_HD inline bf16 from_float<bf16>(float f) {
  return float_to_bf16(f);
}

DISA_HD inline float hd_exp(float x) { return expf(x); }
DISA_HD inline double hd_exp(double x) { return exp(x); }
DISA_HD inline float hd_exp2(float x) { return exp2f(x); }
DISA_HD inline double hd_exp2(double x) { return exp2(x); }
DISA_HD inline float hd_fmax(float a, float b) { return fmaxf(a, b); }
DISA_HD inline double hd_fmax(double a, double b) { return fmax(a, b); }
DISA_HD inline float hd_log(float x) { return logf(x); }
DISA_HD inline double hd_log(double x) { return log(x); }

inline constexpr int kSoftmaxHasNan = 1, kSoftmaxHasPosInf = 2;

template <class Acc>
struct SoftmaxState {
  static constexpr Acc kLog2e = Acc(1.442695040888963407359924681001892137L);

  Acc m = -INFINITY;
  Acc s = 0;
  Acc u = 0;
  int flags = 0;

  // Rescale to a new max M >= m (M finite).
  DISA_HD void rescale_to(Acc M) {
    if (m == -INFINITY) {  // s = u = 0: nothing to rescale (and -inf * 0 would be NaN)
      m = M;
      return;
    }
    const Acc d = m - M;
    const Acc f = hd_exp(d);
    // f = 0: every old term underflows (u's terms e^d d too). Tested, not multiplied:
    // with logits masked at the float minimum (-3.4e38, torch.finfo.min) s * d
    // overflows to -inf, and 0 * -inf would make the entropy NaN.
    if (f == 0) {
      s = u = 0;
    } else {
      u = f * (u + s * d);
      s = f * s;
    }
    m = M;
  }

  // n values at once (the kernel's 16-byte vectors): one rescale per chunk, not per value.
  // Fast path, for a chunk of finite values (the common case): no branch per value, and
  // e^d as 2^(d log2 e): a multiply and the GPU's ex2 instead of expf's range reduction,
  // about half the instructions a value of the classified path (kernel 1's bf16 forward
  // is otherwise bound by instruction issue, not by memory: bench/RESULTS.md). A
  // non-finite value shows in the chunk's own results (+inf: cm = +inf; NaN: e = NaN;
  // -inf: e d = 0 * -inf = NaN), and then the chunk is redone value by value. The state
  // is untouched until then except for the rescale to the chunk's finite max, which the
  // classified path makes identically.
  DISA_HD void add_chunk(const Acc* x, int n) {
    if (n <= 0) return;
    Acc cm = x[0];
    for (int k = 1; k < n; ++k) cm = hd_fmax(cm, x[k]);  // fmax ignores NaN
    if (!(cm > -INFINITY && cm < INFINITY)) return add_chunk_classified(x, n);
    if (cm > m) rescale_to(cm);
    Acc cs = 0, cu = 0;
    for (int k = 0; k < n; ++k) {
      const Acc d = x[k] - m;
      const Acc e = hd_exp2(d * kLog2e);
      cs += e;
      cu += e * d;
    }
    if (!(cs == cs && cu == cu)) return add_chunk_classified(x, n);
    s += cs;
    u += cu;
  }

  // The same, value by value: NaN and +inf set flags, -inf contributes nothing.
  DISA_HD void add_chunk_classified(const Acc* x, int n) {
    Acc cm = -INFINITY;
    for (int k = 0; k < n; ++k) {
      const Acc v = x[k];
      if (v != v) {
        flags |= kSoftmaxHasNan;
      } else if (v == INFINITY) {
        flags |= kSoftmaxHasPosInf;
      } else if (v > cm) {
        cm = v;
      }
    }
    if (cm == -INFINITY) return;  // only -inf, +inf or NaN: no finite term
    if (cm > m) rescale_to(cm);
    for (int k = 0; k < n; ++k) {
      const Acc v = x[k];
      if (v > -INFINITY && v < INFINITY) {  // false for NaN and +-inf
        const Acc d = v - m;
        const Acc e = hd_exp(d);
        s += e;
        u += e * d;
      }
    }
  }

  DISA_HD void add(Acc x) { add_chunk(&x, 1); }

  // Every member, for code that moves a state member by member (block_merge.cuh's warp shuffles).
  template <class F>
  DISA_HD void for_each_field(F&& f) {
    f(m);
    f(s);
    f(u);
    f(flags);
  }

  DISA_HD void merge(const SoftmaxState& o) {
    flags |= o.flags;
    if (o.m == -INFINITY) return;  // o has no finite term
    if (m == -INFINITY) {
      m = o.m;
      s = o.s;
      u = o.u;
      return;
    }
    if (o.m > m) {
      rescale_to(o.m);
      s += o.s;
      u += o.u;
    } else {
      const Acc d = o.m - m;
      const Acc f = hd_exp(d);
      if (f == 0) return;  // o's terms all underflow (and o.s * d may overflow: rescale_to)
      s += f * o.s;
      u += f * (o.u + o.s * d);
    }
  }

  DISA_HD Acc lse() const {
    if (flags & kSoftmaxHasNan) return Acc(NAN);
    if (flags & kSoftmaxHasPosInf) return Acc(INFINITY);
    if (m == -INFINITY) return -INFINITY;
    return m + hd_log(s);
  }

  // log p of a logit x of this row as (x - m) - log s, not x - lse(): lse rounded to
  // the accumulator costs ulp(lse)/2 (1.9e-6 in float at lse = 40, Qwen-sized logits;
  // 3e-5 at 1000), as much as a confident token's whole log p (-1e-4), whereas x - m is
  // exact near the max (Sterbenz) and log s (s in [1, V]) is off by a few ulp of log s.
  // torch's log_softmax subtracts in this order too. Rows with NaN, +inf or only -inf
  // keep lse()'s conventions (NaN; -inf for a finite x beside +inf).
  DISA_HD Acc log_prob(Acc x) const {
    if (flags != 0 || m == -INFINITY) return x - lse();
    return (x - m) - hd_log(s);
  }

  DISA_HD Acc entropy() const {
    if (flags != 0 || m == -INFINITY) return Acc(NAN);
    return hd_log(s) - u / s;
  }
};

// How the kernels split a row of V elements starting at byte address `addr` (a multiple
// of elem_size): a scalar head up to the first 16-byte boundary, `vectors` 16-byte
// vectors, and a scalar tail [tail_begin, V). The three ranges tile [0, V) exactly.
struct RowSegments {
  std::int64_t head, vectors, tail_begin;
};
DISA_HD inline RowSegments row_segments(std::uint64_t addr, std::int64_t V, int elem_size) {
  const auto misalign = static_cast<std::int64_t>(addr % 16);
  std::int64_t head = misalign == 0 ? 0 : (16 - misalign) / elem_size;
  if (head > V) head = V;
  const std::int64_t per_vector = 16 / elem_size;
  const std::int64_t vectors = (V - head) / per_vector;
  return {head, vectors, head + vectors * per_vector};
}

// log p(target) from the row's lse; NaN for a target outside [0, V) (the kernel cannot
// throw; the torch glue checks targets on the host first).
DISA_HD inline bool target_in_range(std::int64_t target, std::int64_t V) { return target >= 0 && target < V; }

// The backward's target element is g (p_t - 1), with p_t - 1 = expm1(log p_t) from the
// forward's log p, not e^{x_t - lse} - 1: the float lse's rounding (ulp(lse)/2, 1.9e-6 at
// lse = 40) lands in full on p_t, and for a confident token 1 - p_t is that small
// (5e-4 at p_t = 0.9995: 0.4% error; 6% at lse = 1000), while log p's error is a few
// ulp(1) from the float sum s, whatever the shift (SoftmaxState::log_prob; 5.4e-7 on a
// 32000-term row), and expm1's slope p_t <= 1 passes it on unchanged. A NaN log p (a row
// of only -inf or with NaN) gives NaN; -inf (a masked target, or one beside a +inf) gives -1.
DISA_HD inline float target_softmax_minus_one(float logp) { return expm1f(logp); }

// One element of the backward, g (softmax_v - [v == target]): off the target softmax_v =
// e^{x - lse}, computed as 2^((x - lse) log2 e) (the GPU's ex2, as add_chunk's fast path;
// x = -inf gives 0, a NaN stays NaN); on it the row's target_softmax_minus_one. A select,
// not a branch: the vector loop stays straight-line (tests/kernels/kernel_resources_test.cpp).
DISA_HD inline float softmax_grad(float x, float lse, float g, bool is_target, float target_p_minus_one) {
  const float e = exp2f((x - lse) * SoftmaxState<float>::kLog2e);
  return g * (is_target ? target_p_minus_one : e);
}

}  // namespace disa::kernels

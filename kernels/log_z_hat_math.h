// The per-element math of kernel 3 (batched, segmented log Zhat and ESS), shared by the
// CUDA kernel (log_z_hat.cu) and tested on the CPU (tests/kernels/log_z_hat_math_test.cpp).
//
// Online state over the log-weights x of one prompt (double, as src/is_estimator):
//   m = max finite x,  s1 = sum e^{x-m},  s2 = sum e^{2(x-m)},  n = count,  flags
// Rescaling to M >= m with f = e^{m-M}:  s1' = f s1,  s2' = f^2 s2.
// Then, exactly as disa::estimate_log_partition (src/is_estimator.cpp) defines them:
//   log Zhat = m + log s1 - log n,  ESS = s1^2 / s2,  max_weight = 1 / s1
// and its edge cases as a status per segment (the kernel cannot throw; the host
// wrapper turns a status into the estimator's InputError):
//   n = 0 -> kEmpty; any NaN -> kNan; any +inf -> kPosInf (NaN takes precedence; the
//   estimator names whichever comes first, the status names the kind only);
//   all -inf -> kOk with log Zhat = -inf and ESS = max_weight = NaN ("all_weights_zero").
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/host_device.h"

namespace disa::kernels {

enum LogZStatus : int { kLogZOk = 0, kLogZEmpty = 1, kLogZNan = 2, kLogZPosInf = 3 };

struct LogZState {
  double m = -INFINITY;
  double s1 = 0.0;
  double s2 = 0.0;
  std::int64_t n = 0;
  int flags = 0;  // 1: NaN seen, 2: +inf seen

  DISA_HD void rescale_to(double M) {
    if (m != -INFINITY) {
      const double f = exp(m - M);
      s1 *= f;
      s2 *= f * f;
    }
    m = M;
  }

  DISA_HD void add(double x) {
    ++n;
    if (x != x) {
      flags |= 1;
    } else if (x == INFINITY) {
      flags |= 2;
    } else if (x > -INFINITY) {
      if (x > m) rescale_to(x);
      const double e = exp(x - m);
      s1 += e;
      s2 += e * e;
    }
  }

  // Every member, for code that moves a state member by member (block_merge.cuh's warp shuffles).
  template <class F>
  DISA_HD void for_each_field(F&& f) {
    f(m);
    f(s1);
    f(s2);
    f(n);
    f(flags);
  }

  DISA_HD void merge(const LogZState& o) {
    n += o.n;
    flags |= o.flags;
    if (o.m == -INFINITY) return;
    if (o.m > m) rescale_to(o.m);
    const double f = exp(o.m - m);
    s1 += f * o.s1;
    s2 += f * f * o.s2;
  }

  DISA_HD int status() const {
    if (n == 0) return kLogZEmpty;
    if (flags & 1) return kLogZNan;
    if (flags & 2) return kLogZPosInf;
    return kLogZOk;
  }
  // Valid when status() == kLogZOk.
  DISA_HD double log_z_hat() const { return m == -INFINITY ? -INFINITY : m + log(s1) - log(double(n)); }
  DISA_HD double ess() const { return m == -INFINITY ? NAN : s1 * s1 / s2; }
  DISA_HD double max_weight() const { return m == -INFINITY ? NAN : 1.0 / s1; }
};

}  // namespace disa::kernels

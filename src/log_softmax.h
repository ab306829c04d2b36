// Log-softmax of one row of logits, in the order that keeps the row normalised:
//
//   log_softmax(x)[a] = (x[a] - m) - log(sum_b exp(x[b] - m)),   m = max_b x[b].
//
// Not x[a] - log_sum_exp(x): log_sum_exp returns m + log(sum), which rounds log(sum) to
// the ulp of m. With logits sharing a large offset that loses the row's normalisation
// (offset 1e8: ulp 1.5e-8) and then everything exact downstream (offset 1e15: log Z off by
// 0.057 for zero rewards); subtracting m first is exact for entries near m (Sterbenz) and
// leaves log(sum) in [0, log V] at full precision.
#pragma once

#include <cmath>
#include <span>

namespace disa {

struct LogSoftmaxShift {
  double max;      // m = max_b x[b]: NaN if an entry is NaN, +inf if one is +inf, -inf if all are
  double log_sum;  // log(sum_b exp(x[b] - m)), in [0, log V] when m is finite
  double at(double x) const { return (x - max) - log_sum; }  // log_softmax at the entry x
};

// The row's shift; usable (at() finite for finite entries) iff std::isfinite(result.max).
inline LogSoftmaxShift log_softmax_shift(std::span<const double> x) {
  double m = -INFINITY;
  for (double v : x) {
    if (std::isnan(v)) return {v, NAN};
    if (v > m) m = v;
  }
  if (!std::isfinite(m)) return {m, NAN};
  double sum = 0.0;
  for (double v : x) sum += std::exp(v - m);
  return {m, std::log(sum)};
}

}  // namespace disa

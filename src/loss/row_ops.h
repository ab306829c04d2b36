// Masked reductions and fills over one row of a padded batch, written so the compiler
// vectorises them: padding is skipped by a select, never multiplied by 0 (it may hold
// NaN or inf), and `omp simd` lets the per-row sums be reassociated into vector lanes.
// The lane order is fixed at compile time, so results do not depend on the thread count.
#pragma once

#include <cstddef>

namespace disa::loss {

// sum_t [m_t != 0] a_t, accumulated in double
template <class Real>
inline double masked_row_sum(const Real* m, const Real* a, std::size_t T) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (std::size_t t = 0; t < T; ++t) {
    const double x = double(a[t]);
    sum += m[t] != Real(0) ? x : 0.0;
  }
  return sum;
}

// sum_t [m_t != 0] (a_t - b_t), accumulated in double
template <class Real>
inline double masked_row_difference(const Real* m, const Real* a, const Real* b, std::size_t T) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (std::size_t t = 0; t < T; ++t) {
    const double x = double(a[t]) - double(b[t]);
    sum += m[t] != Real(0) ? x : 0.0;
  }
  return sum;
}

// out_t = value where m_t != 0, else 0
template <class Real>
inline void masked_row_fill(Real* out, const Real* m, Real value, std::size_t T) {
#pragma omp simd
  for (std::size_t t = 0; t < T; ++t) out[t] = m[t] != Real(0) ? value : Real(0);
}

}  // namespace disa::loss

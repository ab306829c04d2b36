// Numerically stable log-sum-exp over flat arrays.
//
//   log_sum_exp(x) = m + log(sum_i exp(x_i - m)),  m = max_i x_i.
//
// Edge cases, following stan-dev/math's convention:
//   - empty input or all entries -inf      -> -inf (log of an empty sum, log 0);
//   - any entry +inf (and no NaN)          -> +inf;
//   - any NaN                              -> NaN (callers detect and report it).
// Used by every exact pass in log space (THEORY.md, "Flow") and by the log Zhat
// estimator (item 1).
#pragma once

#include <cmath>
#include <limits>
#include <span>

namespace disa {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();
inline constexpr double kPosInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow; exact at a = b = -inf.
inline double log_add_exp(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  const double m = a > b ? a : b;
  if (m == kNegInf || m == kPosInf) return m;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

inline double log_sum_exp(std::span<const double> x) {
  double m = kNegInf;
  for (double v : x) {
    if (std::isnan(v)) return std::numeric_limits<double>::quiet_NaN();
    if (v > m) m = v;
  }
  if (m == kNegInf || m == kPosInf) return m;
  double sum = 0.0;
  for (double v : x) sum += std::exp(v - m);
  return m + std::log(sum);
}

// One-pass (online) log-sum-exp, for sums whose terms are computed on the fly.
// Same edge cases as log_sum_exp.
class LogSumExpAccumulator {
 public:
  void add(double x) {
    if (std::isnan(x)) {
      nan_ = true;
    } else if (x == kPosInf) {
      pos_inf_ = true;
    } else if (x == kNegInf) {
      // exp(-inf) adds nothing
    } else if (x <= max_) {
      sum_ += std::exp(x - max_);
    } else {
      sum_ = sum_ * std::exp(max_ - x) + 1.0;
      max_ = x;
    }
  }
  double value() const {
    if (nan_) return std::numeric_limits<double>::quiet_NaN();
    if (pos_inf_) return kPosInf;
    return max_ == kNegInf ? kNegInf : max_ + std::log(sum_);
  }

 private:
  double max_ = kNegInf;
  double sum_ = 0.0;
  bool nan_ = false, pos_inf_ = false;
};

}  // namespace disa

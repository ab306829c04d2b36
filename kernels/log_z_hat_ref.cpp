// CPU reference of kernel 3: disa::estimate_log_partition (src/is_estimator.h) on each
// segment, PSIS off (the kernel computes the plain estimator only).
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include <fmt/format.h>

#include "kernels/log_z_hat.h"
#include "src/input_error.h"
#include "src/is_estimator.h"

namespace disa::kernels {

void log_z_hat_ref(const double* log_w, const std::int64_t* offset, std::int64_t num_segments, double* log_z_hat,
                   double* ess, double* max_weight, int* status) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  IsOptions options;
  options.psis = false;
  for (std::int64_t s = 0; s < num_segments; ++s) {
    const std::span<const double> seg(log_w + offset[s], static_cast<std::size_t>(offset[s + 1] - offset[s]));
    // The status the kernel reports for a segment the estimator rejects.
    int st = seg.empty() ? kLogZEmpty : kLogZOk;
    for (double x : seg) {
      if (std::isnan(x)) st = kLogZNan;
      if (x == std::numeric_limits<double>::infinity() && st != kLogZNan) st = kLogZPosInf;
    }
    status[s] = st;
    if (st != kLogZOk) {
      log_z_hat[s] = ess[s] = max_weight[s] = nan;
      continue;
    }
    const IsEstimate e = estimate_log_partition(seg, options);
    log_z_hat[s] = e.log_z_hat;
    ess[s] = e.ess;
    max_weight[s] = e.max_weight;
  }
}

void throw_on_bad_status(const int* status, std::int64_t num_segments) {
  for (std::int64_t s = 0; s < num_segments; ++s) {
    switch (status[s]) {
      case kLogZOk:
        continue;
      case kLogZEmpty:
        throw InputError(fmt::format("log_w segment {}: no samples (N = 0)", s));
      case kLogZNan:
        throw InputError(fmt::format("log_w segment {}: NaN log-weight", s));
      case kLogZPosInf:
        throw InputError(fmt::format("log_w segment {}: +inf log-weight", s));
      default:
        throw InputError(fmt::format("log_w segment {}: unknown status {}", s, status[s]));
    }
  }
}

}  // namespace disa::kernels

#include <span>

#include "kernels/segmented_log_sum_exp.h"
#include "src/log_sum_exp.h"

namespace disa::kernels {

void segmented_log_sum_exp_ref(const double* x, const std::int64_t* offset, std::int64_t num_segments,
                               double* out) {
  for (std::int64_t s = 0; s < num_segments; ++s) {
    out[s] = log_sum_exp(std::span<const double>(x + offset[s], static_cast<std::size_t>(offset[s + 1] - offset[s])));
  }
}

}  // namespace disa::kernels

// The segmented log-sum-exp on the CPU device (cpu_device.h), launched as
// segmented_log_sum_exp.cu launches it.
#include "kernels/segmented_log_sum_exp.h"
#include "kernels/segmented_log_sum_exp_device.cuh"

namespace disa::kernels {

using namespace segmented_log_sum_exp_device;

void segmented_log_sum_exp_cpu_device(const double* x, const std::int64_t* offset, std::int64_t num_segments,
                                      double* out, const cpu_device::LaunchOptions& options) {
  cpu_device::launch(&segmented_log_sum_exp_kernel, {static_cast<unsigned>(num_segments)}, {kThreads}, options, x,
                     offset, out);
}

}  // namespace disa::kernels

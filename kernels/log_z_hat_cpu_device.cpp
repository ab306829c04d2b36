// Kernel 3's launcher on the CPU device (cpu_device.h): the kernel of
// log_z_hat_device.cuh, launched as log_z_hat.cu launches it.
#include <stdexcept>
#include <string>

#include "kernels/log_z_hat.h"
#include "kernels/log_z_hat_device.cuh"

namespace disa::kernels {

using namespace log_z_hat_device;

void log_z_hat_cpu_device(const double* log_w, const std::int64_t* offset, std::int64_t num_segments,
                          double* log_z_hat, double* ess, double* max_weight, int* status,
                          const cpu_device::LaunchOptions& options) {
  if (!launchable(num_segments))
    throw std::invalid_argument("log_z_hat_cpu_device: num_segments = " + std::to_string(num_segments) +
                                " (need 0 to 2^31 - 1)");
  cpu_device::launch(&log_z_hat_kernel, {static_cast<unsigned>(num_segments)}, {kThreads}, options, log_w, offset,
                     log_z_hat, ess, max_weight, status);
}

}  // namespace disa::kernels

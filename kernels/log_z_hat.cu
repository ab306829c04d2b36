// Kernel 3's launcher on the GPU; the kernel is in log_z_hat_device.cuh.
#include <cuda_runtime.h>

#include "kernels/log_z_hat.h"
#include "kernels/log_z_hat_device.cuh"

namespace disa::kernels {

using namespace log_z_hat_device;

cudaError_t log_z_hat_cuda(const double* log_w, const std::int64_t* offset, std::int64_t num_segments,
                           double* log_z_hat, double* ess, double* max_weight, int* status, cudaStream_t stream) {
  if (!launchable(num_segments)) return cudaErrorInvalidValue;
  if (num_segments == 0) return cudaSuccess;
  log_z_hat_kernel<<<static_cast<unsigned>(num_segments), kThreads, 0, stream>>>(log_w, offset, log_z_hat, ess,
                                                                                max_weight, status);
  return cudaGetLastError();
}

}  // namespace disa::kernels

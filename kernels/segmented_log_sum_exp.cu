// The segmented log-sum-exp's launcher on the GPU; the kernel is in
// segmented_log_sum_exp_device.cuh.
#include <cuda_runtime.h>

#include "kernels/segmented_log_sum_exp.h"
#include "kernels/segmented_log_sum_exp_device.cuh"

namespace disa::kernels {

using namespace segmented_log_sum_exp_device;

int segmented_log_sum_exp_cuda(const double* d_x, const std::int64_t* d_offset, std::int64_t num_segments,
                               double* d_out) {
  if (num_segments == 0) return 0;
  segmented_log_sum_exp_kernel<<<static_cast<unsigned>(num_segments), kThreads>>>(d_x, d_offset, d_out);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace disa::kernels

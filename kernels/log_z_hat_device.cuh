// Kernel 3's device code, compiled by nvcc for the GPU (log_z_hat.cu) and by the host
// compiler for the CPU device (log_z_hat_cpu_device.cpp, kernels/cpu_device.h).
// One block of 256 threads per segment; each thread keeps a LogZState (log_z_hat_math.h,
// the code the CPU tests check) over a strided slice of the segment, then the block
// merges them (kernels/block_merge.cuh).
#pragma once

#include "kernels/device_code.h"  // first: CUDA, or the CPU device

#include <climits>
#include <cstdint>

#include "kernels/block_merge.cuh"
#include "kernels/log_z_hat_math.h"

namespace disa::kernels::log_z_hat_device {
// Internal linkage: this header is compiled into two objects of one library (the .cu and
// the CPU-device launchers), each with its own copy.
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    log_z_hat_kernel(const double* __restrict__ log_w, const std::int64_t* __restrict__ offset,
                     double* __restrict__ log_z_hat, double* __restrict__ ess, double* __restrict__ max_weight,
                     int* __restrict__ status) {
  const std::int64_t seg = blockIdx.x;
  const std::int64_t begin = offset[seg], end = offset[seg + 1];
  LogZState st;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) st.add(__ldg(log_w + i));
  const LogZState r = block_merge<kThreads>(st);
  if (threadIdx.x == 0) {
    const int s = r.status();
    status[seg] = s;
    log_z_hat[seg] = s == kLogZOk ? r.log_z_hat() : NAN;
    ess[seg] = s == kLogZOk ? r.ess() : NAN;
    max_weight[seg] = s == kLogZOk ? r.max_weight() : NAN;
  }
}

// The launchers' rule: the segments fit a 1-D grid.
inline bool launchable(std::int64_t num_segments) { return num_segments >= 0 && num_segments <= INT_MAX; }

}  // namespace
}  // namespace disa::kernels::log_z_hat_device

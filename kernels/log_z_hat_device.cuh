// Kernel 3's device code, compiled by nvcc for the GPU (log_z_hat.cu) and by the host
// compiler for the CPU device (log_z_hat_cpu_device.cpp, kernels/cpu_device.h).
// One block of 256 threads per segment; each thread keeps a LogZState (log_z_hat_math.h,
// the code the CPU tests check) over a strided slice of the segment, then the block
// merges them (warp shuffles, then one state per warp).
#pragma once

#include "kernels/device_code.h"  // first: CUDA, or the CPU device

#include <climits>
#include <cstdint>

#include "kernels/log_z_hat_math.h"

namespace disa::kernels::log_z_hat_device {
// Internal linkage: this header is compiled into two objects of one library (the .cu and
// the CPU-device launchers), each with its own copy.
namespace {

constexpr int kThreads = 256;
constexpr unsigned kFullMask = 0xffffffffu;

__global__ void __launch_bounds__(kThreads)
    log_z_hat_kernel(const double* __restrict__ log_w, const std::int64_t* __restrict__ offset,
                     double* __restrict__ log_z_hat, double* __restrict__ ess, double* __restrict__ max_weight,
                     int* __restrict__ status) {
  const std::int64_t seg = blockIdx.x;
  const std::int64_t begin = offset[seg], end = offset[seg + 1];
  LogZState st;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) st.add(__ldg(log_w + i));
  for (int o = 16; o > 0; o >>= 1) {
    LogZState q;
    q.m = __shfl_down_sync(kFullMask, st.m, o);
    q.s1 = __shfl_down_sync(kFullMask, st.s1, o);
    q.s2 = __shfl_down_sync(kFullMask, st.s2, o);
    q.n = __shfl_down_sync(kFullMask, static_cast<long long>(st.n), o);
    q.flags = __shfl_down_sync(kFullMask, st.flags, o);
    st.merge(q);
  }
  // Plain arrays: __shared__ variables cannot have a constructor (LogZState has one).
  __shared__ double sh_m[kThreads / 32], sh_s1[kThreads / 32], sh_s2[kThreads / 32];
  __shared__ long long sh_n[kThreads / 32];
  __shared__ int sh_flags[kThreads / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sh_m[warp] = st.m;
    sh_s1[warp] = st.s1;
    sh_s2[warp] = st.s2;
    sh_n[warp] = st.n;
    sh_flags[warp] = st.flags;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    LogZState r;
    for (int w = 0; w < kThreads / 32; ++w) {
      LogZState q;
      q.m = sh_m[w];
      q.s1 = sh_s1[w];
      q.s2 = sh_s2[w];
      q.n = sh_n[w];
      q.flags = sh_flags[w];
      r.merge(q);
    }
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

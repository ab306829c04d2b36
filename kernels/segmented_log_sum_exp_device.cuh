// The segmented log-sum-exp's device code, compiled by nvcc for the GPU
// (segmented_log_sum_exp.cu) and by the host compiler for the CPU device
// (segmented_log_sum_exp_cpu_device.cpp, kernels/cpu_device.h).
// One block per segment. Each thread keeps an online (max, sum) over a strided
// slice, then the block merges the pairs: (m1, s1) + (m2, s2) =
// (m, s1 e^{m1-m} + s2 e^{m2-m}), m = max(m1, m2). NaN and +inf are tracked as
// flags so the result matches the CPU reference's edge cases exactly.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include "kernels/cpu_device_cuda.h"
#endif

#include <cstdint>

namespace disa::kernels::segmented_log_sum_exp_device {

constexpr int kThreads = 256;
constexpr int kHasNan = 1, kHasPosInf = 2;

struct Partial {
  double max;
  double sum;
  int flags;
};

__device__ Partial merge(Partial a, Partial b) {
  Partial r;
  r.flags = a.flags | b.flags;
  r.max = fmax(a.max, b.max);
  if (r.max == -INFINITY) {
    r.sum = 0.0;
  } else {
    r.sum = (a.max == -INFINITY ? 0.0 : a.sum * exp(a.max - r.max)) +
            (b.max == -INFINITY ? 0.0 : b.sum * exp(b.max - r.max));
  }
  return r;
}

__global__ void segmented_log_sum_exp_kernel(const double* __restrict__ x, const std::int64_t* __restrict__ offset,
                                             double* __restrict__ out) {
  const std::int64_t begin = offset[blockIdx.x], end = offset[blockIdx.x + 1];
  Partial p{-INFINITY, 0.0, 0};
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = x[i];
    if (isnan(v)) {
      p.flags |= kHasNan;
    } else if (v == INFINITY) {
      p.flags |= kHasPosInf;
    } else if (v != -INFINITY) {
      p = merge(p, Partial{v, 1.0, 0});
    }
  }
  // Warp reduction, then one partial per warp through shared memory.
  for (int o = 16; o > 0; o >>= 1) {
    Partial q{__shfl_down_sync(0xffffffffu, p.max, o), __shfl_down_sync(0xffffffffu, p.sum, o),
              __shfl_down_sync(0xffffffffu, p.flags, o)};
    p = merge(p, q);
  }
  __shared__ Partial warp_partial[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_partial[threadIdx.x / 32] = p;
  __syncthreads();
  if (threadIdx.x == 0) {
    Partial r = warp_partial[0];
    for (int w = 1; w < kThreads / 32; ++w) r = merge(r, warp_partial[w]);
    double v;
    if (r.flags & kHasNan) {
      v = NAN;
    } else if (r.flags & kHasPosInf) {
      v = INFINITY;
    } else {
      v = r.max == -INFINITY ? -INFINITY : r.max + log(r.sum);
    }
    out[blockIdx.x] = v;
  }
}

}  // namespace disa::kernels::segmented_log_sum_exp_device

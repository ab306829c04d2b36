// Kernel 2's device code, compiled by nvcc for the GPU (loss_heads.cu) and by the host
// compiler for the CPU device (loss_heads_cpu_device.cpp, kernels/cpu_device.h): the two
// token passes of loss_heads.h. Only the C++17 src/ headers the per-token math needs
// (DISA_HD: the PPO clip, the KL penalty): nvcc runs at C++17, the rest of src/ is
// C++20. One block of 128 threads per row (T is a few thousand tokens: 128 threads
// stride a row in coalesced steps); each thread accumulates its tokens with the shared
// per-token functions (loss_heads_math.h), then the block sums the per-thread structs of
// doubles.
#pragma once

#include "kernels/device_code.h"  // first: CUDA, or the CPU device

#include <climits>
#include <cstdint>
#include <cstring>

#include "kernels/loss_heads_math.h"

namespace disa::kernels::loss_heads_device {
// Internal linkage: this header is compiled into two objects of one library (the .cu and
// the CPU-device launchers), each with its own copy.
namespace {

constexpr int kThreads = 128;
constexpr unsigned kFullMask = 0xffffffffu;

// Sum over the block of a struct of N doubles; the result is valid in thread 0 only.
template <class S, int N>
__device__ S block_sum(S s) {
  static_assert(sizeof(S) == N * sizeof(double), "block_sum: S must be N doubles");
  double v[N];
  memcpy(v, &s, sizeof(S));
  for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] += __shfl_down_sync(kFullMask, v[k], o);
  }
  __shared__ double sh[kThreads / 32][N];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < N; ++k) sh[warp][k] = v[k];
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) {
#pragma unroll
      for (int k = 0; k < N; ++k) v[k] += sh[w][k];
    }
  }
  memcpy(&s, v, sizeof(S));
  return s;
}

template <class Real>
__global__ void __launch_bounds__(kThreads) row_sums_kernel(TokenFields<Real> f, std::int64_t T, RowSums* out) {
  const std::int64_t row = blockIdx.x;
  RowSums s;
  for (std::int64_t t = threadIdx.x; t < T; t += kThreads) accumulate_row(s, f, row * T + t);
  s = block_sum<RowSums, 7>(s);
  if (threadIdx.x == 0) out[row] = s;
}

template <class Real>
__global__ void __launch_bounds__(kThreads)
    token_pass_kernel(TokenFields<Real> f, std::int64_t T, HeadParams h, const RowPlan* __restrict__ plans,
                      Real* __restrict__ grad, TokenSums* out) {
  const std::int64_t row = blockIdx.x;
  const RowPlan p = plans[row];
  TokenSums s;
  for (std::int64_t t = threadIdx.x; t < T; t += kThreads) {
    const std::int64_t k = row * T + t;
    grad[k] = token_step(h, p, f, k, s);
  }
  if (out == nullptr) return;  // uniform over the block: no thread reaches block_sum
  s = block_sum<TokenSums, 6>(s);
  if (threadIdx.x == 0) out[row] = s;
}

// The launchers' rule: the rows fit a 1-D grid.
inline bool launchable(std::int64_t rows) { return rows >= 0 && rows <= INT_MAX; }

}  // namespace
}  // namespace disa::kernels::loss_heads_device

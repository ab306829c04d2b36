// The block-wide merge that kernels 1 and 3 end with: every thread holds a partial state
// over its slice of a row (SoftmaxState, token_logprobs_math.h) or of a segment
// (LogZState, log_z_hat_math.h), and thread 0 needs the state of the whole. Compiled by
// nvcc for the GPU and by the host compiler for the CPU device, like the *_device.cuh
// that include it.
#pragma once

#include "kernels/device_code.h"  // first: CUDA, or the CPU device

#include <cstring>
#include <type_traits>

namespace disa::kernels {
// Internal linkage, as in the *_device.cuh: each object that includes it has its own copy.
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

// Merges the block's states; the result is valid in thread 0 only (the other threads get
// an unspecified state). All kThreads threads of the block must call it: it shuffles
// within warps and waits at a barrier.
// State: trivially copyable, with merge(const State&) (associative; the math headers'
// tests check that merging in any grouping gives the one-pass result) and
// for_each_field(f), which calls f on every member (a member it missed would be merged
// from the thread's own value: the kernels' checkers would see it).
// Two levels: a shuffle tree in each warp, then thread 0 merges the warps' results in
// warp order, from an empty state.
template <int kThreads, class State>
__device__ State block_merge(State st) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block_merge: whole warps, at most 1024 threads");
  static_assert(std::is_trivially_copyable_v<State>, "block_merge: states go through shuffles and shared memory");
  constexpr int kWarps = kThreads / 32;
  for (int o = 16; o > 0; o >>= 1) {
    State q = st;
    q.for_each_field([o](auto& v) { v = __shfl_down_sync(kFullMask, v, o); });
    st.merge(q);
  }
  // Raw storage moved by memcpy: a __shared__ variable cannot be initialised, and the
  // states' members have default initialisers.
  struct alignas(State) Raw {
    unsigned char bytes[sizeof(State)];
  };
  __shared__ Raw per_warp[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) memcpy(&per_warp[warp], &st, sizeof(State));
  __syncthreads();
  State r;
  if (threadIdx.x == 0) {
    for (int w = 0; w < kWarps; ++w) {
      State q;
      memcpy(static_cast<void*>(&q), &per_warp[w], sizeof(State));  // void*: State is trivially copyable
      r.merge(q);
    }
  }
  return r;
}

}  // namespace
}  // namespace disa::kernels

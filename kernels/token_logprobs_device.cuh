// Kernel 1's device code, compiled by nvcc for the GPU (token_logprobs.cu) and by the host
// compiler for the CPU device (token_logprobs_cpu_device.cpp, kernels/cpu_device.h).
// One block of 256 threads per row. Each thread streams its share of the row in 16-byte
// vectors (8 bf16 or 4 fp32) and keeps an online softmax state (token_logprobs_math.h:
// the same code the CPU tests check); the block then merges the 256 states
// (kernels/block_merge.cuh). Row starts are only 16-byte aligned when V is a multiple of
// the vector, so each row has a scalar head up to the first aligned address, the vector
// body, and a scalar tail.
#pragma once

#include "kernels/device_code.h"  // first: CUDA, or the CPU device

#include <climits>
#include <cstdint>

#include "kernels/block_merge.cuh"
#include "kernels/token_logprobs_math.h"

namespace disa::kernels::token_logprobs_device {
// Internal linkage: this header is compiled into two objects of one library (the .cu and
// the CPU-device launchers), each with its own copy.
namespace {

constexpr int kThreads = 256;

// Elements of one 16-byte vector.
template <class Elem>
constexpr int kVec = 16 / int(sizeof(Elem));

template <class Elem>
union Vec16 {
  uint4 raw;
  Elem e[kVec<Elem>];
};

template <class Elem>
__global__ void __launch_bounds__(kThreads, 4)
    token_logprobs_kernel(const Elem* __restrict__ logits, const std::int64_t* __restrict__ target, std::int64_t V,
                          float* __restrict__ logp, float* __restrict__ lse, float* __restrict__ entropy) {
  constexpr int kV = kVec<Elem>;
  const std::int64_t row = blockIdx.x;
  const Elem* x = logits + row * V;
  const RowSegments seg = row_segments(reinterpret_cast<std::uintptr_t>(x), V, int(sizeof(Elem)));
  const std::int64_t head = seg.head, vectors = seg.vectors, tail_begin = seg.tail_begin;

  SoftmaxState<float> st;
  for (std::int64_t i = threadIdx.x; i < head; i += kThreads) st.add(to_float(x[i]));
  const uint4* xv = reinterpret_cast<const uint4*>(x + head);  // 16-byte aligned by construction
  // Two vectors per iteration, both loaded before either is used: twice the bytes in
  // flight per thread. Vector j and j + kThreads; every j < vectors is visited once.
  for (std::int64_t j = threadIdx.x; j < vectors; j += 2 * kThreads) {
    const bool second = j + kThreads < vectors;
    Vec16<Elem> a, b;
    a.raw = __ldg(xv + j);
    if (second) b.raw = __ldg(xv + j + kThreads);
    float f[kV];
#pragma unroll
    for (int k = 0; k < kV; ++k) f[k] = to_float(a.e[k]);
    st.add_chunk(f, kV);
    if (second) {
#pragma unroll
      for (int k = 0; k < kV; ++k) f[k] = to_float(b.e[k]);
      st.add_chunk(f, kV);
    }
  }
  for (std::int64_t i = tail_begin + threadIdx.x; i < V; i += kThreads) st.add(to_float(x[i]));

  const SoftmaxState<float> r = block_merge<kThreads>(st);
  if (threadIdx.x == 0) {
    const std::int64_t t = target[row];
    float l = r.lse(), h = r.entropy(), lp = NAN;
    if (target_in_range(t, V)) {
      lp = r.log_prob(to_float(x[t]));
    } else {
      l = h = NAN;
    }
    logp[row] = lp;
    lse[row] = l;
    if (entropy) entropy[row] = h;
  }
}

// `vector_out`: dlogits has the same offset from 16-byte alignment as logits (always true
// in place), so both sides of the body use 16-byte accesses; otherwise scalar stores.
template <class Elem>
__global__ void __launch_bounds__(kThreads, 4)
    token_logprobs_backward_kernel(const Elem* logits, const std::int64_t* __restrict__ target,
                                   const float* __restrict__ lse, const float* __restrict__ logp,
                                   const float* __restrict__ grad_logp, std::int64_t V, Elem* dlogits,
                                   bool vector_out) {
  // No __restrict__ on logits/dlogits: they may be the same buffer (each element is read
  // and then written by the same thread, so in place is safe).
  constexpr int kV = kVec<Elem>;
  const std::int64_t row = blockIdx.x;
  const Elem* x = logits + row * V;
  Elem* out = dlogits + row * V;
  const std::int64_t t = target[row];
  const bool in_range = target_in_range(t, V);
  const float l = in_range ? lse[row] : NAN;
  const float g = grad_logp[row];
  const float tg = in_range ? target_softmax_minus_one(logp[row]) : NAN;
  const RowSegments seg = row_segments(reinterpret_cast<std::uintptr_t>(x), V, int(sizeof(Elem)));
  const std::int64_t head = seg.head, vectors = seg.vectors, tail_begin = seg.tail_begin;

  for (std::int64_t i = threadIdx.x; i < head; i += kThreads)
    out[i] = from_float<Elem>(softmax_grad(to_float(x[i]), l, g, i == t, tg));
  const uint4* xv = reinterpret_cast<const uint4*>(x + head);
  // Two vectors per iteration as in the forward (both loaded before either is stored).
  for (std::int64_t j0 = threadIdx.x; j0 < vectors; j0 += 2 * kThreads) {
    const bool second = j0 + kThreads < vectors;
    Vec16<Elem> v[2];
    v[0].raw = xv[j0];  // not __ldg: in place, this memory is written by the kernel
    if (second) v[1].raw = xv[j0 + kThreads];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      if (h == 1 && !second) break;
      const std::int64_t j = j0 + h * kThreads;
      const std::int64_t base = head + j * kV;
#pragma unroll
      for (int k = 0; k < kV; ++k)
        v[h].e[k] = from_float<Elem>(softmax_grad(to_float(v[h].e[k]), l, g, base + k == t, tg));
      if (vector_out) {
        reinterpret_cast<uint4*>(out + head)[j] = v[h].raw;
      } else {
#pragma unroll
        for (int k = 0; k < kV; ++k) out[base + k] = v[h].e[k];
      }
    }
  }
  for (std::int64_t i = tail_begin + threadIdx.x; i < V; i += kThreads)
    out[i] = from_float<Elem>(softmax_grad(to_float(x[i]), l, g, i == t, tg));
}

// The backward's store width: 16-byte stores when dlogits has the logits' offset from
// 16-byte alignment (always in place). Every row is shifted by the same V * sizeof(Elem)
// in both buffers, so equal offsets at the start mean equal offsets in every row.
inline bool same_vector_alignment(const void* logits, const void* dlogits) {
  return reinterpret_cast<std::uintptr_t>(logits) % 16 == reinterpret_cast<std::uintptr_t>(dlogits) % 16;
}

// The launchers' shape rule: N rows fit a 1-D grid, and a row has at least one entry.
inline bool launchable(std::int64_t N, std::int64_t V) { return N >= 0 && N <= INT_MAX && V >= 1; }

}  // namespace
}  // namespace disa::kernels::token_logprobs_device

// The CUDA names the kernels' source uses (threadIdx, blockIdx, blockDim, gridDim,
// __global__, __device__, __host__, __forceinline__, __shared__, __launch_bounds__,
// __syncthreads, __shfl_down_sync, __ldg, uint4), on the CPU device (cpu_device.h).
// kernels/device_code.h includes this instead of <cuda_runtime.h> when not compiled by
// nvcc (and tests/kernels/cpu_device_test.cpp for its test kernels); nothing else should:
// the names are macros.
#pragma once

#ifdef __CUDACC__
#error "kernels/cpu_device_cuda.h stands in for CUDA on the host; nvcc compiles the kernels for the GPU"
#endif

#include <math.h>  // the global exp/log/isnan/fmax/NAN/INFINITY that device code calls

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels/cpu_device.h"

// When the toolkit's headers are on the include path, the launchers' headers include
// <cuda_runtime_api.h>, which defines uint4 and, for a host compiler, defines __device__,
// __shared__ and friends as annotations that do nothing. Include it first (so that its
// include guard keeps it from coming back), take its uint4, and redefine the names.
#if __has_include(<cuda_runtime_api.h>)
#include <cuda_runtime_api.h>
#endif

// ---- CUDA's names for the kernel source -------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __launch_bounds__
#undef __shared__
#define threadIdx (::disa::kernels::cpu_device::thread_index())
#define blockIdx (::disa::kernels::cpu_device::block_index())
#define blockDim (::disa::kernels::cpu_device::block_dimensions())
#define gridDim (::disa::kernels::cpu_device::grid_dimensions())
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Shared by the fibers of a block (one OS thread runs them all); see the header comment.
#define __shared__ static thread_local

inline void __syncthreads() { ::disa::kernels::cpu_device::sync_threads(); }

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "__shfl_down_sync: at most 8 bytes");
  T out;
  ::disa::kernels::cpu_device::warp_exchange(mask, &value, &out, sizeof(T),
                                             ::disa::kernels::cpu_device::lane_id() + delta);
  return out;
}

// A read-only load; memcpy, because kernels load uint4 vectors through pointers to other types.
// memcpy itself is never checked for alignment (not by UBSan either), while the GPU faults
// on a misaligned ld.global.nc: the check is explicit.
template <class T>
T __ldg(const T* p) {
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(T) != 0) {
    throw ::disa::kernels::cpu_device::CpuDeviceError(
        "__ldg: misaligned load of " + std::to_string(sizeof(T)) + " bytes at an address " +
        std::to_string(reinterpret_cast<std::uintptr_t>(p) % alignof(T)) + " bytes past a multiple of " +
        std::to_string(alignof(T)));
  }
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

#if !defined(__VECTOR_TYPES_H__)
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
#endif

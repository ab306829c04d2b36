// DISA_HD marks the per-element math that both the CUDA kernels and their CPU
// references/tests call: the same source line runs on the device and is verified on the
// host (CI has no GPU, so everything that can be tested on the CPU lives in such
// functions). Plain C++ compilers see an empty macro.
//
// Only functions that behave identically on host and device may use it: <math.h>
// functions (exp, expf, log, logf) of the global namespace, comparisons and integer
// arithmetic; no std:: algorithms (not device code) and no intrinsics (no host version).
#pragma once

#include <cstdint>
#include <cstring>

#include "src/host_device.h"  // DISA_HD, hd_clamp / hd_max / hd_min

namespace disa::kernels {

// IEEE float <-> bits, the same on both sides.
DISA_HD inline std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

DISA_HD inline float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

}  // namespace disa::kernels

// DISA_HD marks per-element math that CUDA kernels call as well as the CPU code: the same
// source line runs on the device and is verified on the host (CI has no GPU). Plain C++
// compilers see an empty macro. Such functions use only comparisons, arithmetic and the
// global <math.h> functions (exp, fabs, log), which behave the same on both sides; no
// std:: algorithms (not device code).
#pragma once

#if defined(__CUDACC__)
#define DISA_HD __host__ __device__
#else
#define DISA_HD
#endif

namespace disa {

// std::clamp / std::max / std::min with the same comparisons (so the same NaN behaviour).
DISA_HD inline double hd_clamp(double v, double lo, double hi) { return v < lo ? lo : (hi < v ? hi : v); }
DISA_HD inline double hd_max(double a, double b) { return a < b ? b : a; }
DISA_HD inline double hd_min(double a, double b) { return b < a ? b : a; }

}  // namespace disa

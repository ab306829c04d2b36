// Segmented log-sum-exp on the GPU: out[s] = log sum_{i in segment s} exp(x[i]).
//
// The estimator's reduction for many prompts at once (log Zhat_N = this - log N,
// THEORY.md item 1). CPU reference: disa::log_sum_exp in src/log_sum_exp.h, the
// same function the estimator uses; kernel: segmented_log_sum_exp_device.cuh, on the GPU
// and on the CPU device (cpu_device.h); checker: tests/kernels/segmented_log_sum_exp_test.cpp.
// Edge cases follow the reference: empty segment or all -inf -> -inf; any +inf ->
// +inf; any NaN -> NaN.
#pragma once

#include <cstdint>

#include "kernels/cpu_device.h"

namespace disa::kernels {

// CPU reference, over the same flat layout: segment s is x[offset[s] .. offset[s+1]).
void segmented_log_sum_exp_ref(const double* x, const std::int64_t* offset, std::int64_t num_segments,
                               double* out);

// Device pointers; one block per segment. Returns the CUDA error code (0 = success).
int segmented_log_sum_exp_cuda(const double* d_x, const std::int64_t* d_offset, std::int64_t num_segments,
                               double* d_out);

// The same kernel on the CPU device: host pointers; throws cpu_device::CpuDeviceError
// where a GPU would hang or be undefined.
void segmented_log_sum_exp_cpu_device(const double* x, const std::int64_t* offset, std::int64_t num_segments,
                                      double* out, const cpu_device::LaunchOptions& options = {});

}  // namespace disa::kernels

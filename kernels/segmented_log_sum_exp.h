// Segmented log-sum-exp on the GPU: out[s] = log sum_{i in segment s} exp(x[i]).
//
// The estimator's reduction for many prompts at once (log Zhat_N = this - log N,
// THEORY.md item 1). CPU reference: disa::log_sum_exp in src/log_sum_exp.h, the
// same function the estimator uses; checker: tests/kernels/segmented_log_sum_exp_test.cpp.
// Edge cases follow the reference: empty segment or all -inf -> -inf; any +inf ->
// +inf; any NaN -> NaN.
#pragma once

#include <cstdint>

namespace disa::kernels {

// CPU reference, over the same flat layout: segment s is x[offset[s] .. offset[s+1]).
void segmented_log_sum_exp_ref(const double* x, const std::int64_t* offset, std::int64_t num_segments,
                               double* out);

// Device pointers; one block per segment. Returns the CUDA error code (0 = success).
int segmented_log_sum_exp_cuda(const double* d_x, const std::int64_t* d_offset, std::int64_t num_segments,
                               double* d_out);

}  // namespace disa::kernels

// Kernel 3: batched, segmented log Zhat with ESS, the estimator's reduction for many
// prompts at once (THEORY.md items 1 and 4; issue 7).
//
// Segment s is log_w[offset[s] .. offset[s+1]); per segment
//   log_z_hat[s] = logsumexp(log w) - log N,   ess[s] = (sum w)^2 / sum w^2,
//   max_weight[s] = max w / sum w,             status[s] (log_z_hat_math.h: LogZStatus)
// exactly as disa::estimate_log_partition (src/is_estimator.h) defines them, without its
// PSIS and CI parts. CPU reference: log_z_hat_ref, which calls estimate_log_partition
// itself. Per-element math: log_z_hat_math.h. Kernel: log_z_hat_device.cuh, launched on
// the GPU by log_z_hat_cuda and on the CPU device (cpu_device.h) by
// log_z_hat_cpu_device. Checker: tests/kernels/log_z_hat_test.cpp (both devices).
// Benchmark: bench/bench_kernels.cpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cpu_device.h"
#include "kernels/log_z_hat_math.h"

namespace disa::kernels {

// CPU reference over the same layout. A segment the estimator rejects (N = 0, NaN, +inf)
// gets its status and NaN outputs instead of the estimator's InputError.
void log_z_hat_ref(const double* log_w, const std::int64_t* offset, std::int64_t num_segments, double* log_z_hat,
                   double* ess, double* max_weight, int* status);

// Device pointers; one block per segment, asynchronous on `stream`. Returns the launch
// error (cudaErrorInvalidValue for more than 2^31 - 1 segments).
cudaError_t log_z_hat_cuda(const double* log_w, const std::int64_t* offset, std::int64_t num_segments,
                           double* log_z_hat, double* ess, double* max_weight, int* status, cudaStream_t stream = 0);

// The same kernel on the CPU device: host pointers; std::invalid_argument where the CUDA
// launcher returns cudaErrorInvalidValue, cpu_device::CpuDeviceError where a GPU would
// hang or be undefined.
void log_z_hat_cpu_device(const double* log_w, const std::int64_t* offset, std::int64_t num_segments,
                          double* log_z_hat, double* ess, double* max_weight, int* status,
                          const cpu_device::LaunchOptions& options = {});

// Throws disa::InputError naming the first segment whose status is not kLogZOk, in the
// estimator's words ("log_w segment 3: NaN log-weight"); host array of statuses.
void throw_on_bad_status(const int* status, std::int64_t num_segments);

}  // namespace disa::kernels

// Kernel 2: the loss heads of src/loss on the GPU, forward and backward, exactly as the
// CPU heads define them (disa::loss::compute_loss is the reference), for the subset
// listed in loss_heads_plan.h (tb/disa, flowrl without cispo, grpo, gspo; every other
// option of those heads).
//
//   pass 1  one block per row: masked row sums (n_i, sums of logp, logp - logp_ref,
//           logp - logp_old, per-token advantages) and a count of entries the head
//           would reject                                   loss_heads_math.h accumulate_row
//   pass 2  host, O(B): advantages (group statistics), weights, c_i  loss_heads_plan.h
//   pass 3  one block per row: grad_logp at every entry (0 at padding) and the row's token
//           sums (pg, kl, clip counts, entries that overflow Real)  loss_heads_math.h token_step
//   finish  host: loss and diagnostics, as the CPU heads' final loops; a counted overflow
//           reads grad_logp back to throw the heads' NumericalError naming the entry
// Two small device->host copies (B RowSums, B TokenSums) and one host->device copy (B
// RowPlans) per call; the call returns when the loss is known (it synchronises `stream`),
// as the CPU heads' NumericalError checks require.
//
// Kernels: loss_heads_device.cuh; the driver: run_loss_passes (loss_heads_passes.h), over
// the GPU (compute_loss_cuda) or the CPU device (compute_loss_cpu_device, cpu_device.h).
// Checker against compute_loss, on both devices (the CPU device's cases run in CI):
// tests/kernels/loss_heads_test.cpp.
// Benchmark: bench/bench_kernels.cpp.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu_device.h"
#include "kernels/loss_heads_plan.h"
#include "src/loss/loss_batch.h"

namespace disa::kernels {

// Device pointers, row-major B x T (and B) as disa::loss::LossBatch; null = absent.
template <class Real>
struct DeviceLossBatch {
  std::size_t rows = 0;
  std::size_t columns = 0;
  const Real* logp = nullptr;
  const Real* logp_old = nullptr;
  const Real* logp_ref = nullptr;
  const Real* mask = nullptr;
  const Real* reward = nullptr;      // B
  const std::int64_t* group = nullptr;  // B
  const Real* log_z = nullptr;       // B
  const Real* advantages = nullptr;  // B or B x T (advantages_size entries)
  std::size_t advantages_size = 0;
};

// The reference's result with grad_logp (B x T, device) and, for tb/flowrl, grad_log_z
// (B, device; may be null when not wanted) written on the device; the returned
// LossResult holds the loss and diagnostics, and empty gradient vectors.
// Throws LossFallback when the CPU head must run instead (uncovered option, a batch the
// head rejects), InputError/NumericalError where the head throws them, and
// std::runtime_error naming the CUDA call that failed.
template <class Real>
disa::loss::LossResult<Real> compute_loss_cuda(const disa::loss::Objective& objective,
                                               const DeviceLossBatch<Real>& batch, Real* grad_logp, Real* grad_log_z,
                                               cudaStream_t stream = 0);

// The same kernels and driver on the CPU device (cpu_device.h), with host pointers in
// place of device pointers: as compute_loss_cuda, and cpu_device::CpuDeviceError where a
// GPU would hang.
template <class Real>
disa::loss::LossResult<Real> compute_loss_cpu_device(const disa::loss::Objective& objective,
                                                     const DeviceLossBatch<Real>& batch, Real* grad_logp,
                                                     Real* grad_log_z, const cpu_device::LaunchOptions& options = {});

// The same over a host LossBatch: grad_logp and grad_log_z are returned in the
// LossResult, as compute_loss returns them.
template <class Real>
disa::loss::LossResult<Real> compute_loss_cpu_device(const disa::loss::Objective& objective,
                                                     const disa::loss::LossBatch<Real>& batch,
                                                     const cpu_device::LaunchOptions& options = {});

}  // namespace disa::kernels

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
//           sums (pg, kl, clip counts)                      loss_heads_math.h token_step
//   finish  host: loss and diagnostics, as the CPU heads' final loops
// Two small device->host copies (B RowSums, B TokenSums) and one host->device copy (B
// RowPlans) per call; the call returns when the loss is known (it synchronises `stream`),
// as the CPU heads' NumericalError checks require.
//
// Checker: tests/kernels/loss_heads_test.cpp (GPU vs compute_loss). The CPU emulation
// compute_loss_emulated (same passes, host loops) is checked against compute_loss on the
// CPU in tests/kernels/loss_heads_emulate_test.cpp. Benchmark: bench/bench_kernels.cu.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

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

// The same three passes with host loops over a host batch (no GPU): grad_logp and
// grad_log_z are returned in the LossResult as compute_loss returns them.
template <class Real>
disa::loss::LossResult<Real> compute_loss_emulated(const disa::loss::Objective& objective,
                                                   const disa::loss::LossBatch<Real>& batch);

}  // namespace disa::kernels

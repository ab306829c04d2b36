// Kernel 1: token log-probabilities from logits, forward and backward (issue 7).
//
//   forward:   lse[r] = log sum_v exp(logits[r, v]),  logp[r] = logits[r, target[r]] - lse[r],
//              entropy[r] = -sum_v p log p (optional)                           [N] fp32
//   backward:  dlogits[r, v] = g[r] * exp(logits[r, v] - lse[r])      for v != target[r]
//              dlogits[r, t] = g[r] * expm1(logp[r])                   at t = target[r]
//              i.e. g * (softmax - onehot), in the logits' dtype, in place (dlogits ==
//              logits) or to another buffer; the softmax is recomputed from the saved lse
//              and logp (the target's p - 1 from logp: token_logprobs_math.h's
//              target_softmax_minus_one says why), never stored. This is the
//              gradient of sum_r g[r] * (-logp[r]) (cross entropy's sign): for the
//              gradient of sum_r w[r] * logp[r] pass g = -w (token_logprobs_autograd does).
//
// Logits: N x V row-major contiguous, fp32 or bf16 (kernels::bf16, layout of
// __nv_bfloat16 / at::BFloat16), V up to at least 152k. Targets int64.
// CPU reference: token_logprobs_ref / token_logprobs_backward_ref (lse by
// disa::log_sum_exp of src/log_sum_exp.h). Per-element math: token_logprobs_math.h.
// Kernels: token_logprobs_device.cuh, launched on the GPU by token_logprobs_cuda and on
// the CPU device (cpu_device.h) by token_logprobs_cpu_device.
// Checker: tests/kernels/token_logprobs_test.cpp (both devices). Benchmark: bench/bench_kernels.cpp.
//
// Edge cases (documented in token_logprobs_math.h): a row of only -inf gives lse = -inf,
// logp = NaN, entropy = NaN, and a NaN gradient row; any +inf gives lse = +inf; any NaN
// gives NaN. A target outside [0, V) gives logp = lse = entropy = NaN, and the backward
// writes NaN over that row. Off the target the softmax is e^{x - lse} from the float lse,
// so it carries ulp(lse)/2 as a relative error (2e-6 at lse = 40, 4e-3 at 1e5), and a
// row whose every logit is the float minimum (lse rounds to it) gets g, not g / V, off
// the target (torch: g / V; such a row is padding, where g = 0). The kernel cannot
// throw, so the torch glue (kernels/torch_kernels.h) checks targets on the host and
// throws InputError first.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cpu_device.h"
#include "kernels/token_logprobs_math.h"

namespace disa::kernels {

// ---- CPU reference (double inside, results rounded as the kernel's outputs are) ----
template <class Elem>
void token_logprobs_ref(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V, float* logp,
                        float* lse, float* entropy /* may be null */);
template <class Elem>
void token_logprobs_backward_ref(const Elem* logits, const std::int64_t* target, const float* lse, const float* logp,
                                 const float* grad_logp, std::int64_t N, std::int64_t V, Elem* dlogits);

// ---- CUDA launchers: device pointers, asynchronous on `stream`; return the launch error ----
// N = 0 launches nothing. N above 2^31 - 1 rows or V < 1 returns cudaErrorInvalidValue.
template <class Elem>
cudaError_t token_logprobs_cuda(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
                                float* logp, float* lse, float* entropy /* may be null */, cudaStream_t stream = 0);
// dlogits may equal logits (in place); any other dlogits must not overlap logits.
template <class Elem>
cudaError_t token_logprobs_backward_cuda(const Elem* logits, const std::int64_t* target, const float* lse,
                                         const float* logp, const float* grad_logp, std::int64_t N, std::int64_t V,
                                         Elem* dlogits, cudaStream_t stream = 0);

// ---- The same kernels on the CPU device: host pointers; throws std::invalid_argument
// where the CUDA launcher returns cudaErrorInvalidValue, cpu_device::CpuDeviceError
// where a GPU would hang or be undefined ----
template <class Elem>
void token_logprobs_cpu_device(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
                               float* logp, float* lse, float* entropy /* may be null */,
                               const cpu_device::LaunchOptions& options = {});
template <class Elem>
void token_logprobs_backward_cpu_device(const Elem* logits, const std::int64_t* target, const float* lse,
                                        const float* logp, const float* grad_logp, std::int64_t N, std::int64_t V,
                                        Elem* dlogits, const cpu_device::LaunchOptions& options = {});

}  // namespace disa::kernels

// The kernels of kernels/ on torch::Tensors (CUDA), for the LLM pipeline and the
// loss adapter (llm/loss_autograd.cpp). Inputs are checked on the host and a bad one
// throws disa::InputError naming it; tensors are made contiguous (and converted to the
// kernel's dtype where noted) before launching.
//
// Device and stream: each launch makes the tensors' device current (a CUDA guard) and
// runs on PyTorch's current CUDA stream of that device when the LibTorch build provides
// <c10/cuda/CUDAStream.h> and its generated c10/cuda headers (any CUDA build of torch,
// e.g. the pip package; scripts/gpu_check.sh requires them for a CUDA torch), else on the
// legacy default stream (0), which synchronises with every other blocking stream. Debian's
// libtorch 1.13 here is CPU-only: this file compiles against it, and every function
// throws InputError at run time for a tensor that is not on a CUDA device, except inside
// a CpuDeviceScope, where CPU tensors run on the CPU device (the kernels' own source on
// kernels/cpu_device.h): that is how CI checks this glue and the loss adapter's kernel
// path without a GPU.
#pragma once

#include <torch/types.h>

#include "kernels/cpu_device.h"
#include "src/loss/loss_result.h"
#include "src/loss/objective.h"

namespace disa::kernels {

// While one is alive on this thread, the functions below also take CPU tensors and run
// them on the CPU device, launched with `options`, and llm::loss sends CPU tensors to
// loss_heads as it sends CUDA tensors. Slow (a fiber per CUDA thread): for tests and
// for debugging this glue without a GPU. Scopes nest; the innermost one's options apply.
class CpuDeviceScope {
 public:
  explicit CpuDeviceScope(cpu_device::LaunchOptions options = {});
  ~CpuDeviceScope();
  CpuDeviceScope(const CpuDeviceScope&) = delete;
  CpuDeviceScope& operator=(const CpuDeviceScope&) = delete;
  static bool active();

 private:
  cpu_device::LaunchOptions options_;
  const cpu_device::LaunchOptions* previous_;
};

// Kernel 1. logits [..., V] float32 or bfloat16; target [...] integer ids in [0, V)
// (checked: InputError naming the first bad one). Outputs float32 of target's shape;
// entropy undefined unless asked for.
struct TokenLogprobsResult {
  torch::Tensor logp, lse, entropy;
};
TokenLogprobsResult token_logprobs(const torch::Tensor& logits, const torch::Tensor& target,
                                   bool with_entropy = false);

// dlogits = grad_logp * (softmax - onehot(target)) in logits' dtype, from the forward's
// lse and logp (the target's p - 1 as expm1(logp), accurate for confident tokens at any logit scale): the
// gradient of sum grad_logp * (-log p), the cross-entropy convention of the kernel (for the gradient of
// sum w * log p pass grad_logp = -w, as token_logprobs_autograd does). `out`: undefined -> a new tensor; the logits
// tensor itself -> in place (logits must be contiguous then); another tensor of logits' shape and dtype -> written
// there.
torch::Tensor token_logprobs_backward(const torch::Tensor& logits, const torch::Tensor& target,
                                      const torch::Tensor& lse, const torch::Tensor& logp,
                                      const torch::Tensor& grad_logp, torch::Tensor out = {});

// Kernel 1 as an autograd function: logp (float32, target's shape) differentiable
// w.r.t. logits (the backward writes a new dlogits tensor, no softmax buffer). The
// backward reads the returned logp itself (saved): in-place changes to it are refused
// by autograd, but a write through .data() would change the gradient.
torch::Tensor token_logprobs_autograd(const torch::Tensor& logits, const torch::Tensor& target);

// Kernel 3. log_w float64 (converted), offset int64 [S + 1] (converted; on any device).
// Throws InputError naming the first segment the estimator rejects.
struct LogZHatResult {
  torch::Tensor log_z_hat, ess, max_weight;  // [S] float64, on log_w's device
};
LogZHatResult log_z_hat(const torch::Tensor& log_w, const torch::Tensor& offset);

// Kernel 2, for the adapter: the head on CUDA tensors (or CPU tensors in a
// CpuDeviceScope) already in the adapter's layout
// (logp B x T float32/float64 and the other fields converted to its dtype; mask 0/1 in
// that dtype; group int64; reward/log_z/advantages B or B x T; undefined = absent).
// Throws LossFallback (kernels/loss_heads_plan.h) when the CPU head must run instead, and
// InputError naming a field whose size is not the batch's (B x T, B, or B / B x T for
// advantages). Launches on the tensors' device and PyTorch's current stream there, as
// the other entry points do.
struct GpuLossResult {
  double loss = 0;
  disa::loss::Diagnostics diagnostics;
  torch::Tensor grad_logp;   // B x T, logp's dtype and device
  torch::Tensor grad_log_z;  // B, for objectives with a log_z gradient when log_z is given
};
GpuLossResult loss_heads(const disa::loss::Objective& objective, const torch::Tensor& logp,
                         const torch::Tensor& logp_old, const torch::Tensor& logp_ref, const torch::Tensor& mask,
                         const torch::Tensor& reward, const torch::Tensor& group, const torch::Tensor& log_z,
                         const torch::Tensor& advantages);

}  // namespace disa::kernels

// The loss heads of src/loss/ as a LibTorch autograd Function, so the LLM trainer
// back-propagates through exactly the code the golden, property and exact-tree tests
// verify, instead of a second formula written in torch ops.
//
//   disa::llm::LossTensors t{.logp = logp, .logp_old = old, .logp_ref = ref, .mask = mask,
//                            .reward = r, .group = g};
//   disa::loss::Diagnostics diag;
//   torch::Tensor L = disa::llm::loss(objective, t, &diag);   // 0-dim, logp's dtype and device
//   L.backward();                                              // logp.grad (and log_z.grad)
//
// Forward runs disa::loss::compute_loss<Real> (Real = float for float32 logp, double for
// float64) and saves its analytic gradients; backward returns them times grad_output.
// Gradients reach `logp` and, for objectives with one (tb/disa, flowrl:
// has_log_z_gradient), `log_z`; every other tensor is data (no gradient).
//
// Tensors (B sequences x T padded tokens; an absent field is an undefined Tensor):
//   logp        B x T   float32 or float64; any strides (copied to contiguous when needed)
//   logp_old    B x T   converted to logp's dtype
//   logp_ref    B x T
//   mask        B x T   bool, integer or floating, entries 0/1
//   reward      B       (B x 1 accepted)
//   group       B       integer prompt ids (converted to int64)
//   log_z       B       (B x 1 accepted, FlowRL's shape); its gradient has log_z's shape
//   advantages  B x T or B (B x 1): the optional override of GRPO advantages
// Which fields an objective needs: disa::loss::needed_fields. A missing field, a shape
// or dtype other than the above, a mask entry other than 0/1 or a non-finite value on a
// valid token throws disa::InputError naming the field (the shape and dtype checks here,
// the rest by the heads' own validate_batch); an importance weight that overflows or a
// loss that is not finite throws disa::NumericalError naming the row.
//
// Device: CUDA tensors run the GPU heads of kernels/loss_heads.h when the build has the
// CUDA kernels (DISA_HAVE_CUDA_KERNELS); options those kernels do not cover (flowrl
// weight_clip=cispo, sft, kl) and batches the CPU head would reject fall back to the host
// path: copy to the host, run the CPU head, copy the gradient back. CPU tensors always
// run the CPU heads.
//
// The backward is not itself differentiable (no double backward): the saved gradient is
// a constant. The loss value is accumulated in double by the heads and rounded to logp's
// dtype here.
#pragma once

#include <torch/types.h>

#include "src/loss/loss_result.h"
#include "src/loss/objective.h"

namespace disa::llm {

struct LossTensors {
  torch::Tensor logp;        // B x T, requires grad
  torch::Tensor logp_old;    // B x T
  torch::Tensor logp_ref;    // B x T
  torch::Tensor mask;        // B x T
  torch::Tensor reward;      // B
  torch::Tensor group;       // B, integer
  torch::Tensor log_z;       // B, requires grad for a learned log Z (flowrl) when wanted
  torch::Tensor advantages;  // B x T or B, optional
};

// The scalar loss (differentiable w.r.t. logp and log_z). When `diagnostics` is given,
// the head's diagnostics (pg_clipfrac, residual, ...) are written there by the forward.
torch::Tensor loss(const disa::loss::Objective& objective, const LossTensors& tensors,
                   disa::loss::Diagnostics* diagnostics = nullptr);

}  // namespace disa::llm

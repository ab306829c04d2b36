// Every loss head of src/loss/ written a second time, straight from the equations in its
// header (and LOSSES.md), as LibTorch eager ops with autograd: masked sums, clamp, exp,
// maximum/minimum, where, and index_add (a scatter) for the GRPO group statistics.
// It shares no code with src/loss/ (only the plain option structs, as data), so the
// tests can check the heads' values and analytic gradients against autograd's, and the
// benchmark can time the heads against the same formula composed from eager ops.
//
// Used by tests/torch/loss_autograd_test.cpp and bench/bench_loss_heads.cpp only.
#pragma once

#include <torch/types.h>

#include "src/loss/objective.h"

namespace disa::torch_reference {

// B x T tensors of one floating dtype (the GRPO statistics run in it too); mask is
// boolean; group is int64; reward and log_z have B entries. Padding (mask false) may
// hold anything, NaN included: it is replaced by 0 before any arithmetic, so neither
// the value nor autograd's gradient ever sees it. Unused fields may be undefined.
struct Batch {
  torch::Tensor logp, logp_old, logp_ref, mask, reward, group, log_z, advantages;
};

// The objective's loss as a 0-dim tensor, differentiable w.r.t. batch.logp and batch.log_z.
torch::Tensor loss(const disa::loss::Objective& objective, const Batch& batch);

}  // namespace disa::torch_reference

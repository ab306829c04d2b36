// Data parallelism for `disa llm train`: W processes (ranks) each compute the gradients of
// their share of a step's micro-batches, then sum them (and the step's logged sums) with
// an all-reduce, so every rank applies the same update. Because each micro-batch's loss
// is already weighted by D_m / D, its share of the objective's normaliser over the whole
// step (src/loss/objective.h loss_denominator), the summed gradient is the one-process
// gradient of the whole step. With one micro-batch per rank and two ranks the
// sum is the same float32 addition autograd makes when it accumulates the two micro-batches
// in one process, so the result is bit-identical (tested with 2 Gloo processes,
// tests/llm/pipeline). With more micro-batches the order of the additions differs, and
// AdamW turns rounding-level differences of gradients that cancel to ~0 into steps of up
// to lr: equal to float rounding in the loss, not bit for bit in every weight.
//
// The backend is torch.distributed's C++ core (c10d) as LibTorch ships it: Gloo over TCP
// on CPUs, rendezvous through a FileStore every rank can reach (a shared file system path;
// across machines use a TCPStore the same way). On GPUs the same reducer takes a
// ProcessGroupNCCL (docs/scaling.md); Debian's LibTorch has no NCCL, so only Gloo is built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace disa::llm::pipeline {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  // Sums every tensor (in place) and every scalar over the ranks.
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors, std::vector<double>& scalars) = 0;
  // Replaces every scalar by its maximum over the ranks.
  virtual void all_reduce_max(std::vector<double>& scalars) = 0;
};

// Joins the group (blocks until all `world_size` ranks have joined). Throws InputError
// when this build has no Gloo (DISA_HAVE_GLOO) or the rendezvous fails.
std::unique_ptr<GradientReducer> make_gloo_reducer(const std::string& rendezvous_file, std::int64_t rank,
                                                   std::int64_t world_size);

}  // namespace disa::llm::pipeline

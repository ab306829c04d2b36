// Data parallelism for `disa llm train`: W processes (ranks) each compute the gradients of
// their share of a step's micro-batches, then sum them (and the step's logged sums) with
// an all-reduce, so every rank applies the same update. Because each micro-batch's loss
// is already weighted by D_m / D, its share of the objective's normaliser over its
// update's mini-batch (the whole step by default; src/loss/objective.h loss_denominator),
// the summed gradient is the one-process gradient of that update. With one micro-batch per rank and two ranks the
// sum is the same float32 addition autograd makes when it accumulates the two micro-batches
// in one process, so the result is bit-identical (tested with 2 Gloo processes,
// tests/llm/pipeline). With more micro-batches the order of the additions differs, and
// AdamW turns rounding-level differences of gradients that cancel to ~0 into steps of up
// to lr: equal to float rounding in the loss, not bit for bit in every weight.
//
// The backend is torch.distributed's C++ core (c10d) as LibTorch ships it: Gloo over TCP
// on CPUs, rendezvous through a FileStore every rank can reach (a shared file system path).
// Ranks connect over the loopback unless GLOO_SOCKET_IFNAME names the interface(s), as
// torch.distributed reads it: ranks on several machines need it (a shared FileStore plus
// the interface the machines reach each other on; not tested across machines here). On GPUs the same reducer takes a
// ProcessGroupNCCL (docs/scaling.md); Debian's LibTorch has no NCCL, so only Gloo is built.
#pragma once

#include <cstdint>
#include <exception>
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

// An exception on one rank must stop every rank with a reason. A rank that simply exited
// would leave the others failing in their next all-reduce with Gloo's "Connection closed
// by peer" (or waiting for its timeout, 30 minutes, while a failed rank lingers), which
// says nothing of why. So a rank that fails holds its exception, skips its remaining
// work, and joins that all-reduce with failure counts added to the scalars; then every
// rank stops, the failed one with its own error, the others with one that names the
// failures' kinds (numerical / bad input / other, so the exit codes agree: 1, 2, 1). In
// one process (hold = false) run() lets exceptions through at once.
class RankFailure {
 public:
  explicit RankFailure(bool hold) : hold_(hold) {}
  template <class Work>
  void run(Work&& work) {
    if (!hold_) return work();
    if (error_) return;  // already failed: nothing more to compute, only the next collective
    try {
      work();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  bool failed() const { return static_cast<bool>(error_); }
  // Appends this rank's three failure counts (numerical, input, other) to the scalars an
  // all-reduce sums.
  void append_counts(std::vector<double>& scalars) const;
  // After that all-reduce: removes the three summed counts from the end of `scalars`; when
  // any rank failed, rethrows this rank's error or throws one saying which `step` the
  // other ranks stopped at.
  void stop_if_any_failed(std::vector<double>& scalars, std::int64_t step) const;
  // Where no collective follows (the end of training): rethrows a held error.
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  bool hold_;
  std::exception_ptr error_;
};

// Joins the group (blocks until all `world_size` ranks have joined). Throws InputError
// when this build has no Gloo (DISA_HAVE_GLOO) or the rendezvous fails.
std::unique_ptr<GradientReducer> make_gloo_reducer(const std::string& rendezvous_file, std::int64_t rank,
                                                   std::int64_t world_size);

}  // namespace disa::llm::pipeline

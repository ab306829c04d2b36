// The host side of kernel 2 (the loss heads on the GPU): everything between the two
// token passes, per row or per batch, in double, reusing src/loss wherever the CPU heads
// have a function for it (aggregation_coefficients, grpo_advantages via TokenAdvantages),
// and transcribing the rest line for line from the heads (trajectory_balance.cpp,
// flowrl.cpp, grpo.cpp, gspo.cpp), with their error messages.
//
//   pass 1 (device): per-row masked sums            loss_heads_math.h accumulate_row
//   pass 2 (host):   LossPlan::plan_rows            B rows: advantages, weights, c_i, ...
//   pass 3 (device): per-token gradient + sums      loss_heads_math.h token_step
//   finish (host):   LossPlan::finish               loss and diagnostics
//
// Pass 2 runs on the host on purpose: it is O(B) (a few hundred numbers), it must be able
// to throw the heads' InputError/NumericalError before anything is returned, and on the
// host it reuses the CPU heads' own functions instead of a device copy of them.
// run_loss_passes (loss_heads_passes.h) drives this class on either device, so the CPU
// device's agreement with compute_loss (checked in CI) covers all of it.
//
// Coverage: tb/disa (every option), flowrl (weight_clip none, max10, symmetric; not
// cispo), grpo (every option: clip, dual clip, loss_agg_mode, KL penalty with every
// estimator, advantage options, per-token or per-sequence advantage overrides), gspo
// (every option). Not covered: flowrl weight_clip=cispo, sft, kl. Uncovered calls, and
// batches the heads would reject (bad mask, non-finite values, missing fields), throw
// LossFallback: the caller runs the CPU head, which computes the result or throws its
// precise InputError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/loss_heads_math.h"
#include "src/loss/loss_result.h"
#include "src/loss/objective.h"

namespace disa::kernels {

// "This call is not handled on the GPU; run the CPU head." The message says why.
class LossFallback : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Empty when the GPU path covers the objective with these options, else the reason
// (e.g. "flowrl: weight_clip=cispo is not covered by the GPU loss kernel").
std::string gpu_loss_unsupported(const disa::loss::Objective& objective);

// Where A[i,t] comes from, by TokenAdvantages' rule (src/loss/grpo_advantage.cpp):
// B x T entries with T > 1 -> per token; B entries (or B x T with T = 1) -> given per
// sequence; none -> computed from reward and group.
enum class AdvantageSource { per_token, given_per_sequence, computed };
AdvantageSource advantage_source(std::size_t advantages_size, std::size_t rows, std::size_t columns);

// Per-sequence inputs, host copies (empty when absent).
template <class Real>
struct HostRowInputs {
  std::vector<Real> reward, log_z, advantages;  // advantages: only when given per sequence
  std::vector<std::int64_t> group;
};

template <class Real>
class LossPlan {
 public:
  // Throws LossFallback for an uncovered objective or an empty batch (B or T = 0).
  LossPlan(const disa::loss::Objective& objective, std::size_t rows, std::size_t columns,
           std::size_t advantages_size);

  unsigned fields() const { return fields_; }  // disa::loss::needed_fields
  AdvantageSource advantages() const { return source_; }
  const HeadParams& params() const { return params_; }
  bool has_log_z_gradient() const { return with_log_z_; }

  // Pass 2. Throws LossFallback when pass 1 found bad entries or a per-sequence input the
  // head would reject; InputError/NumericalError exactly where the head throws them.
  void plan_rows(const std::vector<RowSums>& sums, const HostRowInputs<Real>& in);
  const std::vector<RowPlan>& rows() const { return plans_; }
  // Whether pass 3 must return token sums (grpo, gspo); tb and flowrl only fill.
  bool needs_token_sums() const { return params_.rule != kRuleFill; }

  // The loss and diagnostics (and grad_log_z on the host for tb/flowrl); grad_logp is
  // left empty (pass 3 writes it). token_sums: B entries, or empty when not needed.
  // Where token_sums count an entry of grad_logp that is not finite though the loss is,
  // the head's NumericalError naming it (require_finite_token_gradients), read from
  // grad_logp_on_host() (B x T; called only then).
  disa::loss::LossResult<Real> finish(const std::vector<TokenSums>& token_sums,
                                      const std::function<std::vector<Real>()>& grad_logp_on_host);

 private:
  void require_finite_gradients(const char* head, const std::vector<TokenSums>& token_sums,
                                const std::function<std::vector<Real>()>& grad_logp_on_host) const;

  const disa::loss::Objective& objective_;
  std::size_t rows_, columns_;
  unsigned fields_ = 0;
  AdvantageSource source_;
  HeadParams params_;
  bool with_log_z_ = false;
  std::vector<RowPlan> plans_;
  std::vector<std::size_t> counts_;
  std::vector<double> per_sequence_advantages_;
  std::vector<double> row_sums_old_diff_;  // gspo's ppo_kl
  disa::loss::LossResult<Real> result_;
};

}  // namespace disa::kernels

// One entry point over every loss head: an Objective is a head's name plus its resolved
// options; compute_loss dispatches. Names (`disa loss --objective NAME`):
//   tb, disa (alias of tb)   trajectory balance with a frozen log Z     trajectory_balance.h
//   flowrl                   FlowRL as its reference code computes it    flowrl.h
//   grpo                     PPO clip + dual clip + KL, GRPO advantages  grpo.h
//   gspo                     sequence-level clipped ratio                gspo.h
//   sft                      NLL on reward-filtered sequences            sft.h
//   kl                       the KL penalty alone                        kl_loss.h
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/loss/flowrl.h"
#include "src/loss/grpo.h"
#include "src/loss/gspo.h"
#include "src/loss/kl_loss.h"
#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/settings.h"
#include "src/loss/sft.h"
#include "src/loss/trajectory_balance.h"

namespace disa::loss {

using ObjectiveOptions =
    std::variant<TrajectoryBalanceOptions, FlowRlOptions, GrpoOptions, GspoOptions, SftOptions, KlLossOptions>;

struct Objective {
  std::string name;  // as given (tb and disa both resolve to TrajectoryBalanceOptions)
  ObjectiveOptions options;
};

// Unknown name or option, or an option value that does not parse: InputError naming it.
Objective make_objective(std::string_view name, const std::vector<std::string>& settings = {});
std::vector<std::string> objective_names();

// Which batch fields (loss_batch.h Field bits) the objective reads.
unsigned needed_fields(const Objective& objective);
// The resolved options, every key the head reads with its value (defaults included): what
// given back as settings resolves to the same list (flowrl lists only its weight_clip's bounds).
OptionList option_list(const Objective& objective);
// Whether the objective returns grad_log_z (tb/disa, flowrl).
bool has_log_z_gradient(const Objective& objective);

// The objective's batch normaliser D: every head's loss is (1/D) sum_i l_i with l_i a
// function of row i and its prompt group alone, and D
//   B (all rows)          tb/disa, flowrl
//   B' (non-empty rows)   gspo (always seq-mean-token-mean)
//   aggregation_denominator(loss_agg_mode) over all rows (grpo, kl) or over the rows
//   with reward >= reward_threshold (sft; the others count 0 tokens).
// So a batch cut into micro-batches m of whole prompt groups has
//   loss = sum_m loss_m D_m / D,   gradient of a row = its micro-batch's gradient D_m / D
// (tests/loss/loss_properties_test.cpp checks both for every head): the weights that
// gradient accumulation and data parallelism give micro-batches (llm/pipeline/
// policy_trainer.cpp). A micro-batch with D_m = 0 contributes nothing; the mean modes
// reject it as a batch of its own. counts: valid tokens per row; reward: per row (read
// by sft only; InputError naming "reward" if its size is not the rows'); columns: T.
double loss_denominator(const Objective& objective, std::span<const std::size_t> counts,
                        std::span<const double> reward, std::size_t columns);

// Runs the head (which validates the batch first: validate_batch with needed_fields).
template <class Real>
LossResult<Real> compute_loss(const Objective& objective, const LossBatch<Real>& batch);

}  // namespace disa::loss

// Loss aggregation over a padded batch, as verl's agg_loss defines it
// (LOSSES.md section 4; verl@b178a3cd core_algos.py::agg_loss, default arguments).
//
// Every mode is linear in the per-token losses L[i,t] with one coefficient per row:
//   loss = sum_i c_i sum_t m[i,t] L[i,t],   d loss / d L[i,t] = c_i m[i,t]
//
//   token-mean               c_i = 1/N                   N = sum_i n_i (no epsilon)
//   seq-mean-token-sum       c_i = 1/B'                  B' = rows with n_i > 0
//   seq-mean-token-mean      c_i = 1/(B' (n_i + 1e-8))   verl's masked-mean epsilon
//   seq-mean-token-sum-norm  c_i = 1/T                   T = padded length (Dr.GRPO), not B
//
// Empty rows get c_i = 0 (they contribute nothing). A batch with no valid token is an
// InputError in the three mean modes (verl returns nan there).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace disa::loss {

enum class LossAggMode { token_mean, seq_mean_token_sum, seq_mean_token_mean, seq_mean_token_sum_norm };

// verl's masked_mean denominator epsilon: sum(mask) + 1e-8.
inline constexpr double kMaskedMeanEpsilon = 1e-8;

// "token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm";
// anything else is an InputError naming `field`.
LossAggMode parse_loss_agg_mode(std::string_view text, std::string_view field = "loss_agg_mode");
std::string to_string(LossAggMode mode);

// c_i for each row from the valid-token counts n_i and the padded length T. `objective`
// names the head in the error a mean mode with no valid token raises.
std::vector<double> aggregation_coefficients(LossAggMode mode, std::span<const std::size_t> counts,
                                             std::size_t columns, std::string_view objective);

// D, the only part of c_i that depends on the rest of the batch: c_i = 1/D, or
// 1/(D (n_i + 1e-8)) in seq-mean-token-mean, with D = N (token-mean), B' (the two
// seq-mean modes) or T (seq-mean-token-sum-norm). So c_i D is a property of row i alone,
// and a row's coefficient in a larger batch is its coefficient in its micro-batch times
// D(micro) / D(batch): the weight gradient accumulation gives that micro-batch
// (objective.h loss_denominator). 0 when the mean modes have no valid token.
double aggregation_denominator(LossAggMode mode, std::span<const std::size_t> counts, std::size_t columns);

}  // namespace disa::loss

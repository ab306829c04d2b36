// GRPO's group-normalised outcome advantage, as verl's compute_grpo_outcome_advantage
// defines it (LOSSES.md section 2; verl@b178a3cd core_algos.py), and the per-token
// advantage source every policy-gradient head reads.
//
//   s_i = r_i for a row with a valid token, 0 for an empty row (verl puts the reward on
//         the last valid token; an empty row has none)
//   group of size G >= 2:  A_i = (s_i - mean_g) / (std_g + epsilon)   unbiased (G-1) std
//                          A_i =  s_i - mean_g                        norm_adv_by_std = false (Dr.GRPO)
//   group of size 1 ("reference", verl): mean 0, std 1, so A_i = s_i / (1 + epsilon) with
//                          1 + epsilon formed in float32 (verl's torch.tensor(1.0)), or
//                          A_i = s_i without std normalisation. Not zero.
//   group of size 1 ("zero", our correction): A_i = 0, since one sample has no baseline
//                          and verl's choice pushes a lone sample up or down by its raw reward.
//
// A group whose rewards are all equal gives exactly 0 (the mean is formed as an offset
// from the first member, so no rounding leaks through the 1e-6 epsilon).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "src/loss/loss_batch.h"
#include "src/loss/row_ops.h"
#include "src/loss/settings.h"

namespace disa::loss {

enum class SingletonGroups { reference, zero };

struct GroupAdvantageOptions {
  bool norm_adv_by_std = true;  // verl: norm_adv_by_std_in_grpo
  double epsilon = 1e-6;
  SingletonGroups singleton_groups = SingletonGroups::reference;
};

// Reads norm_adv_by_std (alias norm_adv_by_std_in_grpo), epsilon, singleton_groups
// (reference | zero); append_options writes them back.
GroupAdvantageOptions group_advantage_options(Settings& settings);
void append_options(OptionList& list, const GroupAdvantageOptions& options);

// A_i for every row from per-row scores s_i (already 0 for empty rows) and group ids.
std::vector<double> grpo_advantages(std::span<const double> scores, std::span<const std::int64_t> group,
                                    const GroupAdvantageOptions& options);

// Where a head's advantage A[i,t] comes from: the batch's `advantages` override (per token
// or per sequence) if present, else GRPO advantages computed from reward and group.
template <class Real>
class TokenAdvantages {
 public:
  TokenAdvantages(const LossBatch<Real>& batch, std::span<const std::size_t> counts,
                  const GroupAdvantageOptions& options);

  double at(std::size_t row, std::size_t column) const {
    return per_token_.empty() ? per_sequence_[row] : double(per_token_[row * columns_ + column]);
  }
  // sum_{t < len} [m_t != 0] A[row, t] over one row; n = the number of nonzero m_t.
  double masked_row_sum(std::size_t row, const Real* m, std::size_t n, std::size_t len) const {
    // n = 0: an empty row's advantage may be padding (T = 1 per-token input); never read it.
    if (per_token_.empty()) return n == 0 ? 0.0 : per_sequence_[row] * double(n);
    return disa::loss::masked_row_sum(m, per_token_.data() + row * columns_, len);
  }
  // Per-sequence advantages when the source is per sequence (computed or given); empty
  // when the batch gave per-token advantages.
  const std::vector<double>& per_sequence() const { return per_sequence_; }

 private:
  std::size_t columns_ = 0;
  std::span<const Real> per_token_;
  std::vector<double> per_sequence_;
};

}  // namespace disa::loss

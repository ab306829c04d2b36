// A batch's scalar diagnostics from its micro-batches' (gradient accumulation, data
// parallelism). The loss of a batch cut into micro-batches m of whole prompt groups is
// sum_m loss_m D_m / D (objective.h loss_denominator), but a diagnostic follows its own
// definition, so each name has a rule:
//
//   loss share   sum_m v_m D_m / D          terms of the loss: pg_loss, kl_loss, kl
//   token share  sum_m v_m N_m / N          means over valid tokens: pg_clipfrac,
//                                           pg_clipfrac_lower, ppo_kl, dropped_token_fraction
//                                           (the heads' masked-mean epsilon, 1e-8 / N_m,
//                                           is the only difference)
//   row rms      sqrt(sum_m v_m^2 B_m / B)  residual_rms = sqrt(mean over rows of r_i^2)
//   sum          sum_m v_m                  counts: kept_sequences, kept_tokens
//   max          max_m v_m                  weight_max
//
// N = valid tokens, B = rows. A name not in the table is a std::logic_error naming it, so
// a new diagnostic must state its rule (tests/loss/loss_properties_test.cpp merges every
// head's diagnostics over micro-batches and compares them with the whole batch's).
// Across ranks the partial state is a fixed-layout vector (every known name, present or
// not), so ranks with no micro-batch, or whose micro-batches had nothing to learn from,
// still join the same all-reduce.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace disa::loss {

enum class DiagnosticRule { loss_share, token_share, row_rms, sum, max };

// The rule of a scalar diagnostic; std::logic_error for a name no head emits.
DiagnosticRule diagnostic_rule(std::string_view name);

// A micro-batch's shares of the batch: D_m / D, N_m / N, B_m / B.
struct MicroBatchShares {
  double loss = 1, tokens = 1, rows = 1;
};

class DiagnosticsMerge {
 public:
  DiagnosticsMerge();
  void add(const std::map<std::string, double>& scalars, const MicroBatchShares& shares);
  // The partial state to all-reduce over ranks: summed entries and maximised entries.
  std::vector<double> sums() const;
  std::vector<double> maxima() const;
  // Replaces the state with the reduced vectors (as sums() / maxima() lay them out).
  void set_reduced(const std::vector<double>& sums, const std::vector<double>& maxima);
  // Every name some micro-batch reported, with its batch value.
  std::map<std::string, double> result() const;

 private:
  struct Entry {
    double value = 0;    // accumulated: weighted sum, sum of squares, or max
    double present = 0;  // micro-batches that reported it
  };
  std::vector<Entry> entries_;  // one per known name, in the table's order
};

}  // namespace disa::loss

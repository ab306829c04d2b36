// Which prompts a training step uses (multi-prompt families).
//
//   all      every prompt, every step (default)
//   uniform  k prompts drawn uniformly without replacement
//   paced    PACED-RL-style: k prompts drawn without replacement with weight
//            w_p = exp(-(acc_hat_p - tau)^2 / (2 width^2)), preferring prompts whose
//            estimated accuracy is near the target tau. acc_hat_p = log Z_old,p / beta is
//            PACED's practical estimate (THEORY.md item 12: exactly
//            E_{pi_old}[r] = (log Z_old - KL(pi_old || p*_old)) / beta; the KL is dropped),
//            with Z_old = E_{pi_old}[e^{beta r}] of the current policy.
// PACED-RL's own selection rule is not public (LOSSES.md section 9); this one is ours.
// Draws are counter-based on (seed, step), so a run is reproducible and resumable.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace disa::train {

enum class PromptSelection { all, uniform, paced };

struct PromptSelectionOptions {
  PromptSelection rule = PromptSelection::all;
  std::int64_t prompts_per_step = 0;  // k (uniform, paced); 0 with rule all
  double target_accuracy = 0.5;       // tau
  double width = 0.15;                // of the Gaussian preference around tau
};

// PACED's practical accuracy estimate log Z_old / beta.
inline double paced_accuracy_estimate(double log_z_old, double beta) { return log_z_old / beta; }

// Indices of the prompts for `step`, ascending. `accuracy_estimates` (one per prompt) is
// read by the paced rule only.
std::vector<std::size_t> select_prompts(const PromptSelectionOptions& options, std::size_t num_prompts,
                                        std::span<const double> accuracy_estimates, std::uint64_t seed,
                                        std::int64_t step);

}  // namespace disa::train

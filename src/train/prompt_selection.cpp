#include "src/train/prompt_selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/train/weighted_draw.h"

namespace disa::train {

namespace {
constexpr std::uint64_t kSelectionStream = 0x5e1e'c700'0000'0003ull;
}  // namespace

std::vector<std::size_t> select_prompts(const PromptSelectionOptions& options, std::size_t num_prompts,
                                        std::span<const double> accuracy_estimates, std::uint64_t seed,
                                        std::int64_t step) {
  std::vector<std::size_t> chosen;
  const std::size_t k = std::min<std::size_t>(std::size_t(options.prompts_per_step), num_prompts);
  if (options.rule == PromptSelection::all || k == 0 || k == num_prompts) {
    chosen.resize(num_prompts);
    std::iota(chosen.begin(), chosen.end(), 0);
    return chosen;
  }
  std::vector<double> weights(num_prompts, 1.0);  // uniform
  if (options.rule == PromptSelection::paced) {
    for (std::size_t p = 0; p < num_prompts; ++p) {
      const double d = (accuracy_estimates[p] - options.target_accuracy) / options.width;
      weights[p] = std::exp(-0.5 * d * d) + 1e-300;  // never exactly 0: every prompt stays reachable
    }
  }
  chosen = weighted_draw_without_replacement(weights, k, seed ^ kSelectionStream, static_cast<std::uint64_t>(step));
  return chosen;
}

}  // namespace disa::train

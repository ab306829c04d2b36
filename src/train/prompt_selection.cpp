#include "src/train/prompt_selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/counter_rng.h"

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
  // Weighted sampling without replacement by exponential keys (Efraimidis-Spirakis):
  // key_p = -log(u_p) / w_p, take the k smallest; uniform is w_p = 1.
  const CounterRng rng(seed ^ kSelectionStream, static_cast<std::uint64_t>(step));
  std::vector<std::pair<double, std::size_t>> keys(num_prompts);
  for (std::size_t p = 0; p < num_prompts; ++p) {
    double w = 1.0;
    if (options.rule == PromptSelection::paced) {
      const double d = (accuracy_estimates[p] - options.target_accuracy) / options.width;
      w = std::exp(-0.5 * d * d) + 1e-300;  // never exactly 0: every prompt stays reachable
    }
    const double u = std::max(rng.uniform(p), 1e-300);
    keys[p] = {-std::log(u) / w, p};
  }
  std::partial_sort(keys.begin(), keys.begin() + std::ptrdiff_t(k), keys.end());
  for (std::size_t i = 0; i < k; ++i) chosen.push_back(keys[i].second);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace disa::train

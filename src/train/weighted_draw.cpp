#include "src/train/weighted_draw.h"

#include <algorithm>
#include <cmath>

#include "src/counter_rng.h"

namespace disa::train {

std::vector<std::size_t> weighted_draw_without_replacement(std::span<const double> weights, std::size_t k,
                                                           std::uint64_t stream, std::uint64_t counter) {
  k = std::min(k, weights.size());
  const CounterRng rng(stream, counter);
  std::vector<std::pair<double, std::size_t>> keys(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double u = std::max(rng.uniform(i), 1e-300);
    keys[i] = {-std::log(u) / weights[i], i};
  }
  std::partial_sort(keys.begin(), keys.begin() + std::ptrdiff_t(k), keys.end());
  std::vector<std::size_t> chosen;
  for (std::size_t i = 0; i < k; ++i) chosen.push_back(keys[i].second);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace disa::train

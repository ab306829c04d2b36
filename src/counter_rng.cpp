#include "src/counter_rng.h"

#include <cmath>
#include <numbers>

namespace disa {

double CounterRng::normal(std::uint64_t index) const {
  const auto [u0, u1] = uniform_pair(index);
  // 1 - u0 lies in (0, 1], so the log is finite.
  return std::sqrt(-2.0 * std::log(1.0 - u0)) * std::cos(2.0 * std::numbers::pi * u1);
}

}  // namespace disa

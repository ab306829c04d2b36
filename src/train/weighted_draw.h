// k distinct indices drawn with probability proportional to weights, without
// replacement, by exponential keys (Efraimidis-Spirakis): key_i = -log(u_i) / w_i, take the
// k smallest. Counter-based on (stream, counter): a run is reproducible and resumable.
// Shared by prompt selection and the replay buffer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace disa::train {

// Indices ascending. Weights must be > 0 (callers add a floor so every item stays
// reachable); k is capped at weights.size().
std::vector<std::size_t> weighted_draw_without_replacement(std::span<const double> weights, std::size_t k,
                                                           std::uint64_t stream, std::uint64_t counter);

}  // namespace disa::train

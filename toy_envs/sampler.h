// Exact sampling of trajectories from a tabular policy.
//
// Each internal node gets a Walker/Vose alias table (built once, O(V) per node),
// so one step costs O(1): one Philox block gives a column and a coin. Trajectory i
// of a batch draws from stream i of the counter-based RNG keyed by the seed
// (trajectory_rng), step t from draw index t, so a batch is identical for any thread
// count and any batch split.
#pragma once

#include <cstdint>
#include <vector>

#include "src/counter_rng.h"
#include "toy_envs/tree.h"

namespace disa {

// Trajectory i of a batch with `seed` reads CounterRng(splitmix64(seed ^ kSamplerTag), i).
// Keyed apart from the seed itself: the tree families draw logits and rewards from
// CounterRng(seed, stream) with small streams (families/family.h), and a tree is often
// sampled with the seed it was built from, where trajectories 1 and 2 would read the very
// uniforms that made its logits and rewards.
inline constexpr std::uint64_t kSamplerTag = 0x5a3b'1e70'a11a'5000ull;
inline CounterRng trajectory_rng(std::uint64_t seed, std::uint64_t trajectory) {
  return CounterRng(splitmix64(seed ^ kSamplerTag), trajectory);
}

struct SampleBatch {
  std::vector<std::int64_t> offset;   // [n + 1] trajectory i is steps offset[i]..offset[i+1]
  std::vector<std::int32_t> action;   // [total steps]
  std::vector<double> step_log_prob;  // [total steps] log pi(a_t | s_{t-1})
  std::vector<std::int64_t> leaf;     // [n] leaf id reached
  std::vector<double> log_prob;       // [n] log pi(y) = sum of its step log-probs
  std::int64_t size() const { return static_cast<std::int64_t>(leaf.size()); }
};

class AliasSampler {
 public:
  explicit AliasSampler(const TabularPolicy& policy);

  // Trajectories first_index .. first_index + n - 1 of the stream named by seed.
  SampleBatch sample(std::uint64_t seed, std::int64_t n, std::int64_t first_index = 0) const;

  const TabularPolicy& policy() const { return policy_; }

 private:
  TabularPolicy policy_;
  std::vector<double> accept_;       // [num_internal, V] probability of keeping column k
  std::vector<std::int32_t> alias_;  // [num_internal, V] the column's alias
};

}  // namespace disa

#include "toy_envs/sampler.h"

#include <cmath>

#include "src/counter_rng.h"
#include "toy_envs/tree_passes.h"

namespace disa {

AliasSampler::AliasSampler(const TabularPolicy& policy)
    : policy_(policy),
      accept_(policy.log_prob.size()),
      alias_(policy.log_prob.size()) {
  const int V = policy.shape.vocab();
  const std::int64_t n = policy.shape.num_internal();
#pragma omp parallel if (n >= kMinParallelWork)
  {
    std::vector<double> scaled(static_cast<std::size_t>(V));
    std::vector<std::int32_t> small, large;
#pragma omp for schedule(static)
    for (std::int64_t s = 0; s < n; ++s) {
      // Vose's alias method on V * p(a|s); each column keeps its own action with
      // probability accept and otherwise gives way to its alias.
      small.clear();
      large.clear();
      for (int a = 0; a < V; ++a) {
        scaled[a] = V * std::exp(policy.log_prob[s * V + a]);
        (scaled[a] < 1.0 ? small : large).push_back(a);
      }
      double* accept = accept_.data() + s * V;
      std::int32_t* alias = alias_.data() + s * V;
      while (!small.empty() && !large.empty()) {
        const std::int32_t lo = small.back(), hi = large.back();
        small.pop_back();
        accept[lo] = scaled[lo];
        alias[lo] = hi;
        scaled[hi] -= 1.0 - scaled[lo];
        if (scaled[hi] < 1.0) {
          large.pop_back();
          small.push_back(hi);
        }
      }
      // What is left is 1 up to round-off; a zero-mass action is never kept.
      int most_likely = 0;
      for (int a = 1; a < V; ++a) {
        if (policy.log_prob[s * V + a] > policy.log_prob[s * V + most_likely]) most_likely = a;
      }
      for (const auto* rest : {&large, &small}) {
        for (std::int32_t a : *rest) {
          const bool has_mass = policy.log_prob[s * V + a] != -INFINITY;
          accept[a] = has_mass ? 1.0 : 0.0;
          alias[a] = has_mass ? a : most_likely;
        }
      }
    }
  }
}

SampleBatch AliasSampler::sample(std::uint64_t seed, std::int64_t n, std::int64_t first_index) const {
  const TreeShape& shape = policy_.shape;
  const int V = shape.vocab(), T = shape.horizon();
  // Steps go to a [n, T] scratch first (lengths vary with EOS), then are packed.
  std::vector<std::int32_t> actions(static_cast<std::size_t>(n * T));
  std::vector<double> step_lp(static_cast<std::size_t>(n * T));
  SampleBatch batch;
  batch.leaf.resize(static_cast<std::size_t>(n));
  batch.log_prob.resize(static_cast<std::size_t>(n));
  std::vector<std::int32_t> length(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t i = 0; i < n; ++i) {
    const CounterRng rng = trajectory_rng(seed, static_cast<std::uint64_t>(first_index + i));
    std::int64_t node = 0;
    double total = 0.0;
    for (int t = 0; t < T; ++t) {
      const auto [u_column, u_coin] = rng.uniform_pair(static_cast<std::uint64_t>(t));
      int k = static_cast<int>(u_column * V);
      k = k < V ? k : V - 1;
      const int a = u_coin < accept_[node * V + k] ? k : alias_[node * V + k];
      const double lp = policy_.log_prob[node * V + a];
      actions[i * T + t] = a;
      step_lp[i * T + t] = lp;
      total += lp;
      const TreeShape::Child c = shape.child(node, t, a);
      if (c.is_leaf) {
        batch.leaf[i] = c.id;
        length[i] = t + 1;
        break;
      }
      node = c.id;
    }
    batch.log_prob[i] = total;
  }
  batch.offset.assign(static_cast<std::size_t>(n + 1), 0);
  for (std::int64_t i = 0; i < n; ++i) batch.offset[i + 1] = batch.offset[i] + length[i];
  batch.action.resize(static_cast<std::size_t>(batch.offset[n]));
  batch.step_log_prob.resize(batch.action.size());
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t t = 0; t < length[i]; ++t) {
      batch.action[batch.offset[i] + t] = actions[i * T + t];
      batch.step_log_prob[batch.offset[i] + t] = step_lp[i * T + t];
    }
  }
  return batch;
}

}  // namespace disa

// Leaves of a tree as a padded batch for the loss heads (src/loss/loss_batch.h), with
// the (node, action) of every token so that a head's gradient can be chained to the
// tabular policy's logits (logit_gradient.h).
//
// Row i is leaf y_i = (a_1, ..., a_n), n <= T = horizon, taken from nodes s_0 = root,
// s_t = s_{t-1}.a_t, right-padded to T:
//   logp[i,t]      = log pi_theta(a_t | s_{t-1})   the current policy
//   logp_old[i,t]  = log q(a_t | s_{t-1})          the sampling policy (pi_old on-policy,
//                                                  a proposal q offline)
//   logp_ref[i,t]  = log pi_ref(a_t | s_{t-1})
//   mask[i,t]      = 1 for t < n, reward[i] = r(y_i), log_z[i] = the given log Z
//   sampling_log_prob[i] = log q(y_i) = sum_t logp_old[i,t]
//
// Two modes:
//   sampled     rows are the trajectories of a SampleBatch in order; group[i] = i / G
//               (G = group size; G = n puts the whole batch in group 0).
//   enumerated  one row per leaf with q(y) > 0, in leaf-id order, all in group 0; the
//               trainer forms exact expectations E_q[f] = sum_y q(y) f(y) with
//               q(y) = exp(sampling_log_prob[i]) (they sum to 1). Leaves q cannot reach
//               are left out: they carry no weight, and their -inf log q would be refused
//               by every head.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "src/loss/loss_batch.h"
#include "toy_envs/sampler.h"
#include "toy_envs/tree.h"

namespace disa::train {

// node[] and action[] at padding tokens.
inline constexpr std::int64_t kPaddingNode = -1;
inline constexpr std::int32_t kPaddingAction = -1;

// Which policy fills which column; all must be on the tree's shape.
struct BatchPolicies {
  const TabularPolicy& current;    // logp: the policy being trained
  const TabularPolicy& sampling;   // logp_old: the policy the rows are drawn from
  const TabularPolicy& reference;  // logp_ref
};

struct TrajectoryBatch {
  TreeShape shape;
  loss::BatchData<double> data;           // B rows x T = horizon columns
  std::vector<std::int64_t> leaf;         // [B] leaf id of each row
  std::vector<std::int64_t> node;         // [B*T] node a token is taken from, kPaddingNode at padding
  std::vector<std::int32_t> action;       // [B*T] the token, kPaddingAction at padding
  std::vector<double> sampling_log_prob;  // [B] log q(y_i)

  std::size_t rows() const { return data.rows; }
  std::size_t columns() const { return data.columns; }
};

// The general constructor: one row per entry of `leaves`, group[i] = groups[i].
// InputError naming the field for a leaf id out of range, a groups size that differs
// from leaves, or a policy on another shape.
TrajectoryBatch leaf_batch(const Tree& tree, const BatchPolicies& policies, std::span<const std::int64_t> leaves,
                           std::span<const std::int64_t> groups, double log_z);

// Sampled mode: the rows of `samples` (drawn from policies.sampling), groups of
// group_size consecutive rows. group_size must be >= 1 and divide samples.size().
TrajectoryBatch sampled_batch(const Tree& tree, const BatchPolicies& policies, const SampleBatch& samples,
                              std::int64_t group_size, double log_z);

// Exact-enumeration mode: every leaf with q(y) > 0 once.
TrajectoryBatch enumerated_batch(const Tree& tree, const BatchPolicies& policies, double log_z);

}  // namespace disa::train

#include "src/train/trajectory_batch.h"

#include <fmt/format.h>

#include <cmath>

#include "src/input_error.h"

namespace disa::train {
namespace {

void require_shape(const Tree& tree, const TabularPolicy& policy, const char* which) {
  if (!(policy.shape == tree.shape)) {
    throw InputError(fmt::format("{} policy: shape {} differs from the tree's {}", which, policy.shape.describe(),
                                 tree.shape.describe()));
  }
}

void require_policies(const Tree& tree, const BatchPolicies& policies) {
  require_shape(tree, policies.current, "current");
  require_shape(tree, policies.sampling, "sampling");
  require_shape(tree, policies.reference, "reference");
}

}  // namespace

TrajectoryBatch leaf_batch(const Tree& tree, const BatchPolicies& policies, std::span<const std::int64_t> leaves,
                           std::span<const std::int64_t> groups, double log_z) {
  require_policies(tree, policies);
  if (groups.size() != leaves.size()) {
    throw InputError(fmt::format("groups: {} entries for {} leaves", groups.size(), leaves.size()));
  }
  const TreeShape& shape = tree.shape;
  const std::size_t B = leaves.size(), T = static_cast<std::size_t>(shape.horizon());
  TrajectoryBatch batch;
  batch.shape = shape;
  loss::BatchData<double>& d = batch.data;
  d.rows = B;
  d.columns = T;
  // Padding holds 0 (never read by the heads) and an impossible node/action.
  for (auto* field : {&d.logp, &d.logp_old, &d.logp_ref, &d.mask}) field->assign(B * T, 0.0);
  d.reward.resize(B);
  d.log_z.assign(B, log_z);
  d.group.assign(groups.begin(), groups.end());
  batch.leaf.assign(leaves.begin(), leaves.end());
  batch.node.assign(B * T, kPaddingNode);
  batch.action.assign(B * T, kPaddingAction);
  batch.sampling_log_prob.assign(B, 0.0);

  for (std::size_t i = 0; i < B; ++i) {
    const std::int64_t y = leaves[i];
    if (y < 0 || y >= shape.num_leaves()) {
      throw InputError(fmt::format("leaves[{}]: leaf id {} is not in [0, {})", i, y, shape.num_leaves()));
    }
    d.reward[i] = tree.reward[static_cast<std::size_t>(y)];
    const std::vector<int> path = shape.path(y);
    std::int64_t s = 0;
    for (std::size_t t = 0; t < path.size(); ++t) {
      const int a = path[t];
      const std::size_t k = i * T + t;
      batch.node[k] = s;
      batch.action[k] = a;
      d.logp[k] = policies.current.node(s)[a];
      d.logp_old[k] = policies.sampling.node(s)[a];
      d.logp_ref[k] = policies.reference.node(s)[a];
      d.mask[k] = 1.0;
      batch.sampling_log_prob[i] += d.logp_old[k];
      s = shape.child(s, static_cast<int>(t), a).id;
    }
  }
  return batch;
}

TrajectoryBatch sampled_batch(const Tree& tree, const BatchPolicies& policies, const SampleBatch& samples,
                              std::int64_t group_size, double log_z) {
  const std::int64_t n = samples.size();
  if (group_size < 1 || n % group_size != 0) {
    throw InputError(fmt::format("group_size: must be >= 1 and divide the {} samples, got {}", n, group_size));
  }
  std::vector<std::int64_t> groups(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) groups[i] = i / group_size;
  return leaf_batch(tree, policies, samples.leaf, groups, log_z);
}

TrajectoryBatch enumerated_batch(const Tree& tree, const BatchPolicies& policies, double log_z) {
  require_policies(tree, policies);
  const std::int64_t num_leaves = tree.shape.num_leaves();
  std::vector<std::int64_t> all(static_cast<std::size_t>(num_leaves));
  for (std::int64_t y = 0; y < num_leaves; ++y) all[y] = y;
  const TrajectoryBatch everything = leaf_batch(tree, policies, all, std::vector<std::int64_t>(all.size(), 0), log_z);
  // Rebuilding with only the reachable leaves costs one more pass; trees enumerated
  // exactly are small, and the general constructor stays the only one that fills rows.
  std::vector<std::int64_t> reachable;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (everything.sampling_log_prob[i] != -INFINITY) reachable.push_back(all[i]);
  }
  if (reachable.size() == all.size()) return everything;
  return leaf_batch(tree, policies, reachable, std::vector<std::int64_t>(reachable.size(), 0), log_z);
}

}  // namespace disa::train

// Exact distribution over leaves of a tabular policy, and what is read off it.
//
//   log pi(y) = sum_t log pi(a_t | s_{t-1}),   pushed root to leaf in log space.
//
// The leaf distribution must sum to 1: rows that are not normalised (a policy
// edited by hand, or by a buggy trainer) are refused with an error naming the sum,
// as torchgfn's exact_terminating_distribution does.
#pragma once

#include <vector>

#include "toy_envs/tree.h"

namespace disa {

struct LogMass {
  std::vector<double> node;  // [num_internal] log P(reach s)
  std::vector<double> leaf;  // [num_leaves]   log pi(y)
};

// No normalisation check: the raw push-forward.
LogMass log_mass(const TabularPolicy& policy);

// log pi(y) for every leaf; throws std::runtime_error if sum_y pi(y) differs from 1
// by more than `tolerance`.
std::vector<double> leaf_log_probs(const TabularPolicy& policy, double tolerance = 1e-9);

// The strategy distribution among correct leaves: P_pi(strategy = k | correct),
// k = 0..K-1 with K = tree.num_strategies(); correct leaves without a label are
// left out. All zeros when pi puts no mass on labelled correct leaves.
std::vector<double> strategy_distribution_among_correct(const Tree& tree,
                                                        const TabularPolicy& policy);

// Shannon entropy (nats) of a distribution given as probabilities.
double distribution_entropy(const std::vector<double>& probs);

// Number of entries with probability above `threshold`.
int count_above(const std::vector<double>& probs, double threshold);

}  // namespace disa

// The chain rule from a loss head's gradient with respect to the per-token log-probs
// (LossResult::grad_logp, B x T) to the logits theta of a tabular policy,
// pi(a|s) = softmax(theta[s, .])[a]:
//
//   d log pi(a_t | s) / d theta[s, a] = 1[a = a_t] - pi(a | s)
//   dL/dtheta[s, a] = sum_i c_i sum_{t: s_it = s} g[i,t] (1[a = a_it] - pi(a | s))
//                   = G[s, a] - pi(a | s) sum_a' G[s, a'],
//   G[s, a] = sum of c_i g[i,t] over the tokens a_it = a taken at s_it = s,
//
// with c_i = 1 (the gradient of the batch loss itself) or a per-row scale.
//
// Exact expectations (enumerated_batch): for a head whose loss is a sum of per-row
// terms over its normaliser D (src/loss/objective.h loss_denominator), L = (1/D) sum_i
// l(y_i), row i of grad_logp is (1/D) dl(y_i)/dlogp, so
//   E_q[grad l(y)] = sum_y q(y) grad l(y) = sum_i (D q(y_i)) (row i's gradient):
// c_i = D q(y_i) (exact_row_scale). D = B for tb/disa (any weight: it is per row) and
// flowrl given per-sequence advantages (the default group-standardised advantage couples
// the rows); for sft, D counts the kept rows only (its seq-mean-token-sum divides by
// them), so c_i = B q(y_i) would scale its gradient by B / B_kept. It does not hold for
// grpo and gspo (group advantages): train those on sampled batches.
// What sampled batches tend to is a different expectation for sft: its mean over the
// B_kept rows kept tends to E_q[grad l | kept] = E_q[1(kept) grad l] / P_q(kept), so the
// trainer divides by P_q(kept) too (the log_mass argument).
#pragma once

#include <span>
#include <vector>

#include "src/train/trajectory_batch.h"
#include "toy_envs/tree.h"

namespace disa::train {

// dL/dtheta, [num_internal * V] like the logits. `current` is the policy the batch's
// logp came from (its probabilities are the softmax term). grad_logp has B*T entries,
// finite at valid tokens (padding is skipped); row_scale is empty (c_i = 1) or has B
// finite entries. InputError naming the field otherwise.
std::vector<double> logit_gradient(const TrajectoryBatch& batch, const TabularPolicy& current,
                                   std::span<const double> grad_logp, std::span<const double> row_scale = {});

// c_i = D q(y_i) / M = exp(log D + log q(y_i) - log M) for an enumerated batch; D > 0 is
// the head's normaliser on this batch (loss_denominator), log_mass = log M the q-mass the
// expectation is conditioned on (0: none; sft: log P_q(kept), finite).
std::vector<double> exact_row_scale(const TrajectoryBatch& batch, double denominator, double log_mass = 0.0);

// dL/dlog Z_phi for a learned scalar log Z shared by every row (flowrl):
// sum_i c_i grad_log_z[i], with the same row scales.
double log_z_gradient(std::span<const double> grad_log_z, std::span<const double> row_scale = {});

}  // namespace disa::train

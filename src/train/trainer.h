// Trains tabular policies (logits per node, initialised at pi_ref) on one tree or a
// multi-prompt family with a loss head, through the heads' analytic gradients chained to
// the logits (logit_gradient.h). One step: for every prompt, build its batch (exact:
// every leaf weighted by its sampling probability; sampled: group_size rows), run the
// head, chain to that prompt's logits; average over prompts; one optimiser step on all
// parameters (and on log Z_phi for flowrl).
//
// Metrics are exact, by enumeration, averaged over prompts: KL(pi || p*), KL(p* || pi),
// accuracy, expected reward, entropy, the entropy of the strategy distribution among
// correct leaves, the number of strategies with mass above 1%, c = log Z_phi - log Z
// (flowrl; else the frozen anchor's error), the loss and the gradient norm.
//
// With replay (replay_buffer.h), each step also reuses replay_per_step stored on-policy
// groups chosen by accuracy-estimation error; the step averages over all groups used.
//
// Checkpoints (save/resume) hold the step, the parameters and the optimiser state as
// JSON with round-trip numbers, written atomically: a resumed run continues
// bit-identically to an uninterrupted one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/loss/objective.h"
#include "src/train/optimizer.h"
#include "src/train/replay_buffer.h"
#include "src/train/train_config.h"
#include "src/train/trajectory_batch.h"
#include "toy_envs/tree.h"

namespace disa::train {

struct StepMetrics {
  std::int64_t step = 0;            // optimiser steps completed
  double loss = 0;                  // the head's loss at the start of the step (0 before any step)
  double grad_norm = 0;             // L2 norm of the logits' gradient of that step
  double kl_policy_target = 0;      // KL(pi || p*)
  double kl_target_policy = 0;      // KL(p* || pi)
  double accuracy = 0;              // P_pi(r >= 0.5)
  double expected_reward = 0;
  double entropy = 0;               // H(pi) over leaves
  double strategy_entropy = 0;      // entropy of pi's strategy distribution among correct leaves
  double strategies_above = 0;      // strategies with mass > 1% among correct (mean over prompts)
  double log_z_error = 0;           // c_t = log Z_used - log Z
  double samples = 0;               // trajectories drawn so far (sampled mode; the offline set counts once)
  double paced_accuracy_error = 0;  // mean over prompts of log Z_old/beta - E_pi[r] (item 12's dropped KL/beta)
};

class Trainer {
 public:
  // Validates the config against the prompts (e.g. sampled grpo needs group_size >= 2).
  Trainer(std::vector<Tree> prompts, const TrainConfig& config);

  // One optimiser step; returns the metrics after it (loss/grad_norm of this step).
  StepMetrics step();
  // Exact metrics of the current policies (loss/grad_norm of the last step).
  StepMetrics metrics() const;

  std::int64_t steps_done() const { return steps_done_; }
  const TabularPolicy& policy(std::size_t prompt) const { return policies_.at(prompt); }
  double log_z_used(std::size_t prompt) const;  // frozen anchor, or the current log Z_phi
  double log_z_exact(std::size_t prompt) const { return log_z_exact_.at(prompt); }

  // All prompts' logits, prompt after prompt: what the optimiser updates.
  const std::vector<double>& logits() const { return theta_; }
  // Replaces them (a study that starts away from pi_ref, or that freezes a policy trained in
  // another run); the optimiser state is kept. InputError on a size mismatch or a
  // non-finite entry.
  void set_logits(std::span<const double> logits);

  void save_checkpoint(const std::string& path) const;
  // The prompts and config must be those of the run that wrote it (checked by a
  // fingerprint of both; a mismatch is an InputError naming what differs).
  void load_checkpoint(const std::string& path);

 private:
  // Gradient w.r.t. theta_ (and log_z_phi_ into *log_z_grad); *loss = mean over prompts.
  // *selected receives the prompts this step trains on.
  std::vector<double> gradient(double* loss, std::vector<double>* log_z_grad, std::vector<std::size_t>* selected);
  // Runs the head on one prompt's batch and adds its gradient / groups to grad (and
  // log_z_grad), its loss / groups to *loss.
  void accumulate_group(std::size_t p, const TrajectoryBatch& batch, double groups, std::vector<double>& grad,
                        std::vector<double>& log_z_grad, double* loss) const;
  // Offline methods: InputError when prompt p's proposal has zero mass where p* has mass
  // (chi2(p*||q) = inf, THEORY.md item 6), naming the proposal, the prompt and the mass.
  void refuse_proposal_hole(std::size_t p) const;
  // acc_hat_p = log Z_old,p / beta of the current policies (paced selection, replay priority).
  std::vector<double> accuracy_estimates() const;
  void refresh_policies();

  std::vector<Tree> prompts_;
  TrainConfig config_;
  loss::Objective objective_;  // the head, parsed once
  std::vector<TabularPolicy> reference_, target_, proposal_, policies_;
  std::vector<double> log_z_exact_, log_z_frozen_;
  std::vector<std::vector<std::int64_t>> offline_leaves_;  // sampled offline set per prompt
  std::vector<double> theta_;      // all prompts' logits, prompt after prompt
  std::vector<double> log_z_phi_;  // flowrl: the learned log Z per prompt
  // One optimiser per prompt, stepped only when its prompt is selected: a shared Adam
  // would keep moving unselected prompts on their stale first moments.
  std::vector<Optimizer> optimizers_;
  std::vector<Optimizer> log_z_optimizers_;  // flowrl: same kind, log_z_learning_rate
  std::vector<std::size_t> offsets_;         // prompt p's logits are theta_[offsets_[p], offsets_[p+1])
  ReplayBuffer replay_;                      // PACED replay (empty unless replay_capacity > 0)
  std::int64_t steps_done_ = 0;
  std::int64_t samples_used_ = 0;
  double last_loss_ = 0, last_grad_norm_ = 0;
};

}  // namespace disa::train

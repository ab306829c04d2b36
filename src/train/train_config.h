// What one training run is: the method (a configuration of a loss head, a sampling
// policy and a log Z source, not a fork of the code), the gradient mode, the optimiser
// and the seed. Parsed from `key=value` settings (`disa train --set ...`); every bad
// value is an InputError naming the key.
//
// Methods (THEORY.md items 8-13):
//   disa-offline  tb head, rows from a fixed offline proposal q (`proposal` SPEC), frozen
//                 log Z (exact + log_z_error, or the IS estimate from the offline set with
//                 estimate_log_z=true): DISA's setting (item 9)
//   disa-online   tb head, on-policy rows, frozen log Z (item 8)
//   flowrl        tb head with a learned log Z_phi per prompt updated jointly (its own
//                 learning rate and initial error; item 11); length_normalize=true gives
//                 FlowRL's 1/|y| residual
//   grpo, gspo    their heads on on-policy groups of group_size (sampled mode only)
//   sft           sft head on the reward-filtered offline set from q (item 13)
// disa-offline and sft refuse a proposal with zero mass where p* has mass (chi2(p*||q) =
// inf, item 6): the data would never show that mass.
// Gradient modes: exact = expectation by enumeration of every leaf (no sampling noise;
// tb/sft heads only; for sft E_q[. | correct], what the mean over the kept rows of a
// sampled batch tends to); sampled = batches drawn by the alias sampler, trajectory streams
// counter-based on (seed, step), so a run is identical for any thread count and resumes
// bit-identically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/loss/objective.h"
#include "src/train/optimizer.h"
#include "src/train/prompt_selection.h"
#include "src/train/replay_buffer.h"

namespace disa::train {

enum class Method { disa_offline, disa_online, flowrl, grpo, gspo, sft };
enum class GradientMode { exact, sampled };

struct TrainConfig {
  Method method = Method::disa_online;
  GradientMode mode = GradientMode::exact;
  double beta = 1.0;                        // target p* ∝ pi_ref e^{beta r}; also the tb head's beta
  std::int64_t steps = 200;
  std::uint64_t seed = 1;

  std::string optimizer = "adam";           // adam | sgd
  AdamOptions adam{.learning_rate = 0.05};
  SgdOptions sgd{.learning_rate = 0.5};

  std::int64_t group_size = 8;              // rows per prompt per step (sampled mode)
  std::int64_t offline_samples = 256;       // size of the fixed offline set (disa-offline, sft; sampled mode)
  std::string proposal = "tilted:lambda=0.5";  // q for disa-offline and sft (toy_envs SPEC)

  double log_z_error = 0.0;                 // c: frozen log Z = log Z + c (disa-*)
  bool estimate_log_z = false;              // disa-offline: log Zhat from the offline set instead
  double log_z_init_error = 0.0;            // flowrl: log Z_phi(0) - log Z
  double log_z_learning_rate = 0.05;        // flowrl: the log Z_phi optimiser (same kind as the policy's)

  // Multi-prompt families: which prompts each step trains on (prompt_selection.h).
  PromptSelectionOptions selection;         // prompt_selection, prompts_per_step, paced_target, paced_width
  // PACED-RL's accuracy-estimation-error prioritised replay (replay_buffer.h): replay_capacity,
  // replay_per_step, replay_priority (accuracy_error | uniform), replay_alpha.
  ReplayOptions replay;

  std::vector<std::string> loss_settings;   // `loss.key=value` entries, passed to the head without the prefix

  // Parses "key=value" entries onto the defaults; unknown keys and bad values are
  // InputErrors naming the key. Cross-field checks (e.g. grpo with mode=exact) too.
  static TrainConfig parse(const std::vector<std::string>& settings);
  // Every key with its value, for logs and checkpoints.
  std::vector<std::pair<std::string, std::string>> list() const;
};

// The head a method trains with: tb (disa-*, flowrl; beta = the run's beta), grpo, gspo or
// sft (seq-mean-token-sum by default in exact mode), with the loss.* settings.
loss::Objective head_objective(const TrainConfig& config);

std::string to_string(Method method);
std::string to_string(GradientMode mode);

}  // namespace disa::train

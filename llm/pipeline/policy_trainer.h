// Stage 3, `disa llm train`: the policy, initialised at the reference (full weights or a
// LoRA adapter), trained by one method on the proposal stage's prompts and budget:
//
//   disa         trajectory balance (objective tb) on the OFFLINE trajectories with the
//                frozen anchors log Zhat(x) of the anchor stage:
//                  L = mean_i (log Zhat(x_i) + log pi_theta(y_i) - log pi_ref(y_i) - beta r_i)^2
//                (loss.weight=importance reweights by sg[pi_theta/q] for an unbiased
//                on-q objective; the default is the plain residual on q's samples)
//   disa-online  the same residual on samples of the current policy (anchors still frozen),
//                capped at the max_new_tokens the anchors' proposals had (propose.json
//                beside the trajectories; another cap would target another p*)
//   flowrl       FlowRL's objective (src/loss/flowrl.h) on on-policy samples with a learned
//                log Z_phi(x): a 2-layer MLP (width 64, GELU, zero-initialised output) on
//                the reference's final hidden state at the prompt's last token, trained
//                with its own AdamW (logz_lr). FlowRL attaches its head to the policy's own
//                trunk; here the features are the frozen reference's, so the log Z
//                gradient never moves the policy (only its own term does). The objectives
//                still differ beyond learned vs frozen log Z: FlowRL's beta (15, loss.beta)
//                multiplies the group-standardised advantage, not the reward, and its
//                log-probs are length-normalised (src/loss/flowrl.h), so it does not train
//                toward disa's p* and its log Z_phi is not log Z(x) at the anchors' beta.
//   grpo, gspo   the clipped policy-gradient heads on on-policy groups (old = sampling policy)
//   sft          LoRA-SFT distillation: NLL on the offline trajectories with reward 1
//
// Every method: prompts_per_step prompts a step (all of them when fewer are usable: the
// same set for every method, since all read the same anchors), group_size trajectories
// per prompt (online: sampled; offline: drawn without replacement from the prompt's N,
// so group_size > N is refused rather than giving disa/sft fewer rows), mini_batches x
// ppo_epochs optimiser updates on them (PPO's mini-batches and epochs; 1 x 1 by default,
// when every ratio is 1 and clipping is inert), gradients of an update
// accumulated over micro-batches of whole prompt groups (each micro-batch's loss weighted
// by D_m / D, its share of the objective's normaliser over the update's mini-batch: rows, non-empty rows, tokens or
// padded width, src/loss/objective.h loss_denominator; so each update is one big batch for
// every head and aggregation mode, grpo's token-mean included; the logged diagnostics are
// merged by their own rules, src/loss/diagnostics_merge.h: token means by token share,
// counts summed, maxima maxed, residual_rms over rows, and over the step's updates the
// same way: loss terms, loss and grad_norm as means, token means over every update's
// tokens, counts summed; a mini-batch with nothing to learn from, D = 0, takes no
// update), global-norm clipping, AdamW, bf16 autocast
// when on CUDA (bf16=true; on the CPU too with bf16_on_cpu=true), where the reference's and
// the old log-probs come from the same autocast forward as the policy's, on the same
// micro-batches (policy_trainer.cpp: use_logprobs_of_the_autocast_forward; with more than
// one update, a forward of their own before the first update). Every draw is keyed by (seed, step, prompt index), so a
// killed run resumed from its checkpoint continues bit-identically (same thread count), and the data-parallel path
// (world_size > 1, llm/pipeline/data_parallel.h) gives the one-process result: ranks split the micro-batches (sampling
// only their own on-policy rollouts) and all-reduce the summed gradients.
//
//   OUT/options.json, OUT/checkpoint.pt (every checkpoint_every steps, atomic),
//   OUT/steps.jsonl (one line per step: loss, residual/ratio/clip stats, c_t, accuracy),
//   OUT/policy/ (the final model in HF layout, LoRA merged; tokenizer.json, task.json),
//   OUT/train.json (summary with the anchors' fingerprint)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/model/model_config.h"
#include "llm/pipeline/stage_config.h"
#include "src/counter_rng.h"

namespace disa::llm::pipeline {

class GradientReducer;  // data_parallel.h

struct TrainOptions {
  std::string method;  // disa, disa-online, flowrl, grpo, gspo, sft
  std::filesystem::path reference, trajectories, anchors, out, data_dir;
  std::string task = "countdown";
  std::int64_t steps = 100, prompts_per_step = 8, group_size = 8;
  std::int64_t micro_batch_prompts = 0;  // 0 = a whole mini-batch (the whole step by default)
  // PPO's updates per step: the step's prompt groups cut into mini_batches (sizes differing
  // by at most one group, larger first), one optimiser update each, ppo_epochs passes over
  // them. The old log-probs stay those of the policy that sampled, so from the second
  // update on the ratios move and clipping acts. 1 and 1: one update per step.
  std::int64_t mini_batches = 1, ppo_epochs = 1;
  std::int64_t max_new_tokens = 40, batch_size = 256, checkpoint_every = 25;
  double lr = 1e-3, weight_decay = 0.0, grad_clip = 1.0, beta = 1.0, logz_lr = 1e-2;
  std::int64_t lora_rank = 0;  // 0 = full fine-tuning
  double lora_alpha = 16;
  std::uint64_t seed = 1;
  int threads = 1;
  std::string device = "cpu";
  bool bf16 = true;                        // autocast on CUDA only
  bool bf16_on_cpu = false;                // and on the CPU: the CUDA run's numerics, checkable without a GPU (slow)
  std::vector<std::string> loss_settings;  // loss.KEY=VALUE, passed to the head
  std::int64_t stop_after = 0;             // stop (with a checkpoint) after this step; 0 = run to the end
  std::int64_t world_size = 1, rank = 0;   // data parallel (data_parallel.h)
  std::string rendezvous;                  // FileStore path shared by the ranks
};

TrainOptions train_options(StageConfig& config);
// InputError "<stage>: lora_rank=R: ..." when R is above a targeted projection's
// min(in, out) in a model of `model` (llm/model/lora.h: lora_rank_problem).
void check_lora_rank_fits(const std::string& stage, std::int64_t lora_rank, const ModelConfig& model);
std::vector<std::string> train_methods();
// disa and sft train on the proposal's offline trajectories, drawing each group of
// group_size without replacement from a prompt's N (so group_size <= N); the others sample.
bool is_offline_method(const std::string& method);
// The stream an offline group of prompt `prompt_index` is drawn from at `step`: keyed by
// splitmix64(seed ^ tag), apart from the sampler's CounterRng(seed, row) streams that
// propose drew the trajectories themselves from (llm/model/sampler.h).
CounterRng offline_draw_rng(std::uint64_t seed, std::int64_t step, std::int64_t prompt_index);
// The prompts of step `step` are drawn from a tagged stream of their own.
CounterRng prompt_selection_rng(std::uint64_t seed, std::int64_t step);
// The sampler seed of an on-policy method's rollouts at `step` (rows read
// CounterRng(that seed, row)): a hash of (seed, step) under a tag of its own, so no two
// steps or seeds, and no propose run, share a row's tokens.
std::uint64_t on_policy_sampling_seed(std::uint64_t seed, std::int64_t step);

struct StepLog {
  std::int64_t step = 0;
  nlohmann::ordered_json values;
};

struct TrainSummary {
  std::int64_t steps_done = 0;
  bool finished = false;
  double seconds = 0;
  std::filesystem::path policy;
};

using TrainProgress = std::function<void(std::int64_t step, std::int64_t steps, const nlohmann::ordered_json& log)>;

TrainSummary run_train(const TrainOptions& options, const TrainProgress& progress = {});

}  // namespace disa::llm::pipeline

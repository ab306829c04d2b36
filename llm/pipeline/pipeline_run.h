// `disa llm pipeline`: the whole DISA pipeline from one command, each stage into its own
// folder of OUT and each skipped when already complete (so a killed run resumes):
//
//   OUT/base/      the in-house reference model (`disa llm pretrain` defaults), unless
//                  model=FOLDER names one
//   OUT/propose/   N trajectories per training prompt from q (the reference at
//                  proposal_temperature)
//   OUT/anchor/    frozen log Zhat per prompt (beta)
//   OUT/train/M/   one policy per method M (same prompts, steps, group size, LoRA rank)
//   OUT/eval/      the reference and every policy on held-out prompts: results.csv/.md
//
// Keys (config file or --set; every stage's key can be given with its stage's prefix,
// e.g. train.lr=3e-3, propose.samples=32; unprefixed keys below are shared):
//   model (pretrain), task (countdown), data_dir, eval_tasks (task,task:rl; for a math or
//   code benchmark task:rl, and the benchmark itself is refused there: its file is the one
//   split, so its "held-out" prompts would be the trained ones), methods
//   (disa,flowrl,grpo,gspo,sft), prompts (32), samples (32), proposal_temperature (1),
//   beta (3; the anchors' and disa's), steps (200), prompts_per_step (8), group_size (8),
//   lr (3e-4), lora_rank (8), max_new_tokens (40; propose, train and eval), eval_prompts
//   (32), k (16), seed (1), threads (1), device (cpu), pretrain_steps (1500)
// The in-house Countdown task has only 72 distinct held-out problems (560 in all); RL and
// evaluation get disjoint halves of them (llm/pipeline/prompt_task.h), hence 32 + 32.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "llm/pipeline/eval_stage.h"

namespace disa::llm::pipeline {

struct PipelineResult {
  std::vector<EvalRow> rows;
  double seconds = 0;
};

// `log` receives one line per stage start/end; `progress` the running stage's progress.
PipelineResult run_pipeline(const std::filesystem::path& out, const std::string& config_path,
                            const std::vector<std::string>& sets,
                            const std::function<void(const std::string&)>& log,
                            const std::function<void(const std::string& stage, double fraction, const std::string&)>& progress);

}  // namespace disa::llm::pipeline

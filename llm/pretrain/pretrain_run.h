// One pretraining run into an output folder, what `disa llm pretrain` does:
//
//   DIR/checkpoint.pt   every checkpoint_every steps and at the end (llm/pretrain/trainer.h)
//   DIR/metrics.csv     step, loss, learning_rate, grad_norm, tokens (one row per step)
//   DIR/config.json, DIR/model.safetensors, DIR/tokenizer.json
//                       the final model in Hugging Face layout: load_pretrained(DIR) and
//                       load_tokenizer(DIR) open it
//   DIR/task.json       the Countdown task and the text format the model was trained on
//   DIR/eval.json       held-out evaluation (llm/pretrain/evaluate.h) and the run's timing
// Every file is written atomically. A folder that already has a checkpoint is refused
// unless `resume` is set; then training continues from it, and the result is
// bit-identical to an uninterrupted run with the same options and thread count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include "llm/pretrain/evaluate.h"
#include "llm/pretrain/trainer.h"

namespace disa::llm::pretrain {

struct RunOptions {
  PretrainOptions training;
  EvalOptions eval;
  std::filesystem::path out;
  bool resume = false;
  std::int64_t checkpoint_every = 200;
  // torch::set_num_threads. 1 by default: on shared cores LibTorch's OpenMP barriers spin
  // against other processes (measured: 2 threads 3-10x slower than 1 on this machine
  // while others compiled); on 2 idle cores, 2 threads are about 1.5x faster.
  int threads = 1;
  std::optional<std::int64_t> stop_after;  // stop (with a checkpoint) after this step: an interruption
  bool run_eval = true;
};

struct RunResult {
  std::int64_t steps_done = 0;        // the step reached
  double final_loss = 0;              // mean of the last min(50, steps) steps' losses
  double train_seconds = 0;           // this invocation's training wall time
  double eval_seconds = 0;
  bool finished = false;              // reached options.steps (and wrote the model)
  std::optional<EvalReport> eval;
};

// Called after every step with the metrics and this invocation's elapsed seconds.
using StepCallback = std::function<void(const StepMetrics&, double elapsed_seconds)>;

RunResult run_pretraining(const RunOptions& options, const StepCallback& on_step = {});

}  // namespace disa::llm::pretrain

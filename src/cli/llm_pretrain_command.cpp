// disa llm pretrain: train the project's in-house base model from scratch on Countdown
// (llm/pretrain/pretrain_run.h) and evaluate it on held-out problems.
//
//   disa llm pretrain --out DIR [--steps N --batch-size B --seed S --threads T
//                     --model-size tiny|small|base --lr X --resume --eval-problems K
//                     --eval-samples N --checkpoint-every N --numbers C --max-number M
//                     --max-target T --device cpu|cuda]
//
// Defaults: the "small" model (0.8M parameters), 1500 steps of 64 examples, 1 thread:
// 8m24s on this 2-core machine while shared with other builds (load 3-6), about 3 min
// on idle cores; held-out accuracy 0.41 at temperature 1 (llm/pretrain/README.md). DIR then opens with load_pretrained /
// load_tokenizer (`disa llm sample --model DIR`). A progress line (step, loss, tokens/s,
// ETA) shows on a terminal, never under CI=true or when stderr is redirected.
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "llm/pretrain/model_presets.h"
#include "llm/pretrain/pretrain_run.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"

namespace disa::cli {
namespace {

struct PretrainArgs {
  llm::pretrain::RunOptions run;
  std::int64_t stop_after = 0;  // 0 = run to the end
};

std::string duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

void run_pretrain(PretrainArgs a) {
  if (a.stop_after < 0) throw InputError(fmt::format("--stop-after = {} must be >= 0", a.stop_after));
  if (a.stop_after > 0) a.run.stop_after = a.stop_after;
  const std::int64_t total = a.run.training.steps;
  auto progress = std::make_unique<Progress>("pretrain");
  std::int64_t first_step = -1;
  double tokens = 0;
  const auto on_step = [&](const llm::pretrain::StepMetrics& m, double elapsed) {
    if (first_step < 0) first_step = m.step - 1;
    tokens += static_cast<double>(m.tokens);
    const double rate = static_cast<double>(m.step - first_step) / std::max(elapsed, 1e-9);
    progress->update(static_cast<double>(m.step) / static_cast<double>(total),
                    fmt::format("step {}/{} loss {:.3f} lr {:.2e} {:.0f} tok/s ETA {}", m.step, total, m.loss,
                                m.learning_rate, tokens / std::max(elapsed, 1e-9),
                                duration(static_cast<double>(total - m.step) / rate)));
  };
  const llm::pretrain::RunResult r = llm::pretrain::run_pretraining(a.run, on_step);
  progress.reset();  // clears the progress line before the summary
  fmt::print("trained {} steps in {} ({:.1f} s); loss (mean of the last 50 steps) {:.4f}\n", r.steps_done,
             duration(r.train_seconds), r.train_seconds, r.final_loss);
  if (!r.finished) {
    fmt::print("stopped at step {} of {}; checkpoint in {} (continue with --resume)\n", r.steps_done, total,
               a.run.out.string());
    return;
  }
  fmt::print("wrote {}: config.json, model.safetensors, tokenizer.json, task.json, metrics.csv, checkpoint.pt\n",
             a.run.out.string());
  if (r.eval) {
    const auto& e = *r.eval;
    std::string pass;
    for (const auto& [k, v] : e.pass_at) pass += fmt::format(" pass@{} {:.3f}", k, v);
    fmt::print("eval on {} draws of held-out problems ({} distinct), {} samples each ({:.1f} s):\n", e.problems,
               e.distinct_problems, e.samples_per_problem,
               r.eval_seconds);
    fmt::print("  accuracy: temperature 1 {:.3f}, greedy {:.3f};{}\n", e.accuracy, e.greedy_accuracy, pass);
    fmt::print("  distinct correct solutions per problem {:.2f} (of {:.2f} that exist); share with >= 2: {:.3f}\n",
               e.distinct_correct_mean, e.solutions_mean, e.problems_with_two_or_more);
    fmt::print("wrote {}/eval.json\n", a.run.out.string());
  }
}

}  // namespace

void add_llm_pretrain_command(CLI::App& llm) {
  auto a = std::make_shared<PretrainArgs>();
  auto& t = a->run.training;
  CLI::App* c = llm.add_subcommand("pretrain", "Train the in-house model from scratch on Countdown; evaluate held-out");
  c->add_option("--out", a->run.out, "Output folder (HF layout model, checkpoint, metrics.csv, eval.json)")->required();
  c->add_option("--steps", t.steps, "Optimiser steps")->capture_default_str();
  c->add_option("--batch-size", t.batch_size, "Examples per step")->capture_default_str();
  c->add_option("--seed", t.seed, "Seed of the weights, the problems and the solution draws")->capture_default_str();
  c->add_option("--threads", a->run.threads, "torch::set_num_threads")->capture_default_str();
  c->add_option("--model-size", t.model_size, "tiny | small | base")->capture_default_str();
  c->add_option("--lr", t.learning_rate, "Peak learning rate (AdamW; warmup, then cosine)")->capture_default_str();
  c->add_option("--warmup-steps", t.warmup_steps)->capture_default_str();
  c->add_option("--device", t.device, "cpu | cuda")->capture_default_str();
  c->add_option("--numbers", t.task.count, "Numbers per Countdown problem")->capture_default_str();
  c->add_option("--max-number", t.task.max_number, "Numbers are drawn from 1..max")->capture_default_str();
  c->add_option("--max-target", t.task.max_target, "Targets are integers in 1..max")->capture_default_str();
  c->add_flag("--resume", a->run.resume, "Continue from DIR/checkpoint.pt (same options)");
  c->add_option("--checkpoint-every", a->run.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  c->add_option("--stop-after", a->stop_after, "Stop at this step with a checkpoint (0 = run to --steps)");
  c->add_option("--eval-problems", a->run.eval.problems, "Held-out problems evaluated at the end")->capture_default_str();
  c->add_option("--eval-samples", a->run.eval.samples_per_problem, "Samples per problem at temperature 1")
      ->capture_default_str();
  c->add_flag("--no-eval", [a](std::int64_t) { a->run.run_eval = false; }, "Skip the evaluation");
  c->callback([a] { run_pretrain(*a); });
}

}  // namespace disa::cli

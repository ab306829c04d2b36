#include "llm/pretrain/pretrain_run.h"

#include <chrono>

#include <fmt/format.h>
#include <torch/utils.h>

#include "llm/model/pretrained.h"
#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/output_folder.h"

namespace disa::llm::pretrain {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void write_metrics(const std::filesystem::path& file, const std::vector<StepMetrics>& metrics) {
  write_file_atomically(file, [&](std::ostream& out) {
    out << "step,loss,learning_rate,grad_norm,tokens\n";
    for (const StepMetrics& m : metrics) {
      out << fmt::format("{},{},{},{},{}\n", m.step, m.loss, m.learning_rate, m.grad_norm, m.tokens);
    }
  });
}

void write_json(const std::filesystem::path& file, const nlohmann::ordered_json& j) {
  write_file_atomically(file, [&](std::ostream& out) { out << j.dump(2) << '\n'; });
}

nlohmann::ordered_json task_json(const PretrainOptions& o) {
  nlohmann::ordered_json j;
  j["task"] = "countdown";
  j["config"] = training_fingerprint(o)["task"];
  j["seed"] = o.seed;
  j["rules"] = "each number used exactly once; + - * / and parentheses; exact rational arithmetic";
  j["prompt_format"] = "numbers separated by spaces, '>', target, ':'  e.g. \"3 5 7>22:\"";
  j["completion_format"] = "one expression without spaces, then the EOS token";
  j["training_completions"] = "uniform over all correct solutions (one rendering per canonical signature)";
  return j;
}

}  // namespace

RunResult run_pretraining(const RunOptions& o, const StepCallback& on_step) {
  if (o.out.empty()) throw InputError("--out: an output folder is required");
  if (o.threads <= 0) throw InputError(fmt::format("--threads = {} must be positive", o.threads));
  if (o.checkpoint_every <= 0) {
    throw InputError(fmt::format("--checkpoint-every = {} must be positive", o.checkpoint_every));
  }
  validate(o.training);
  if (o.run_eval && o.eval.problems <= 0) {
    throw InputError(fmt::format("--eval-problems = {} must be positive", o.eval.problems));
  }
  if (o.run_eval && o.eval.samples_per_problem <= 0) {
    throw InputError(fmt::format("--eval-samples = {} must be positive", o.eval.samples_per_problem));
  }
  torch::set_num_threads(o.threads);
  // A file as --out, or a folder that cannot be written, is named before any step runs.
  prepare_output_folder(o.out, "--out");
  // One live run per folder: two runs into one folder both wrote checkpoint.pt and
  // metrics.csv. Taken before the checkpoint is looked at, so nothing changes under us.
  const bool locked = lock_output_folder(o.out, "--out");
  const std::filesystem::path checkpoint = o.out / "checkpoint.pt";
  if (std::filesystem::exists(checkpoint) && !o.resume) {
    throw InputError(fmt::format("--out {} already holds a checkpoint; pass --resume to continue it or choose another folder",
                                 o.out.string()));
  }
  // Under the lock, the NAME.tmp-PID files a killed run left (checkpoint.pt.tmp-PID after
  // kill -9 mid-save) are litter. Only the files this command writes: --out may be a
  // folder other programs write in too.
  if (locked) {
    remove_stale_temporaries(o.out, 0, [](std::string_view name) {
      for (const char* own : {"checkpoint.pt", "metrics.csv", "model.safetensors", "config.json", "tokenizer.json",
                              "task.json", "eval.json", "generation_config.json"}) {
        if (name == own) return true;
      }
      return false;
    });
  }

  Trainer trainer(o.training);
  if (o.resume && std::filesystem::exists(checkpoint)) trainer.load_checkpoint(checkpoint);

  RunResult result;
  const auto start = Clock::now();
  const std::int64_t last = std::min(o.training.steps, o.stop_after.value_or(o.training.steps));
  while (trainer.step() < last) {
    const StepMetrics m = trainer.train_step();
    if (on_step) on_step(m, seconds_since(start));
    if (m.step % o.checkpoint_every == 0 || m.step == last) {
      trainer.save_checkpoint(checkpoint);
      write_metrics(o.out / "metrics.csv", trainer.metrics());
    }
  }
  if (trainer.step() >= last && !std::filesystem::exists(checkpoint)) trainer.save_checkpoint(checkpoint);
  result.train_seconds = seconds_since(start);
  result.steps_done = trainer.step();
  const auto& metrics = trainer.metrics();
  const std::size_t tail = std::min<std::size_t>(50, metrics.size());
  for (std::size_t i = metrics.size() - tail; i < metrics.size(); ++i) result.final_loss += metrics[i].loss / static_cast<double>(tail);
  write_metrics(o.out / "metrics.csv", metrics);
  if (trainer.step() < o.training.steps) return result;  // interrupted on purpose

  result.finished = true;
  Transformer& model = trainer.model();
  save_pretrained(*model, o.out, {{"disa_pretrain_seed", std::to_string(o.training.seed)},
                                  {"disa_pretrain_steps", std::to_string(o.training.steps)}});
  trainer.tokenizer().save(o.out / "tokenizer.json");
  write_json(o.out / "task.json", task_json(o.training));

  nlohmann::ordered_json report;
  report["training"] = training_fingerprint(o.training);
  report["threads"] = o.threads;
  report["final_loss_mean_last_50_steps"] = result.final_loss;
  report["train_seconds_this_invocation"] = result.train_seconds;
  if (o.run_eval) {
    const auto eval_start = Clock::now();
    EvalOptions eval = o.eval;
    eval.task_seed = o.training.seed;
    result.eval = evaluate(*model, trainer.tokenizer(), o.training.task, eval);
    result.eval_seconds = seconds_since(eval_start);
    report["eval"] = to_json(*result.eval);
    report["eval_seconds"] = result.eval_seconds;
  }
  write_json(o.out / "eval.json", report);
  return result;
}

}  // namespace disa::llm::pretrain

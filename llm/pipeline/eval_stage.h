// Stage 4, `disa llm eval`: every model x every held-out task, k samples per prompt at
// temperature 1, verified; Mean@k, pass@j (j = 1, 2, 4, ... <= k, and k), distinct correct
// solutions, distinct derivation strategies and the n-gram dispersion of correct samples
// (llm/pipeline/eval_metrics.h) per task and averaged over the held-out tasks.
//
//   OUT/samples/MODEL/TASK.jsonl   every sample with its verdict and its response's token ids
//                                  (written atomically; an existing file is reused: the stage
//                                  resumes per pair, its prompts fingerprinted in the options)
//   OUT/per_prompt.csv             model, task, prompt, samples, correct, distinct_correct,
//                                  distinct_strategies, ngram_dispersion (one row per prompt)
//   OUT/results.csv, OUT/results.md  one row per (model, task); and per model an "average"
//                                  row over its held-out tasks (not TASK:rl) when there are
//                                  two or more of them
//   OUT/eval.json                  options (each model's fingerprint: weights and tokenizer,
//                                  loaded_model.h; each (model, task)'s prompts fingerprint;
//                                  the device; the anchors' when given) and timing; a model or
//                                  tokenizer changed at its path, a task whose prompts changed
//                                  under the same ids, or another device, is another run,
//                                  refused in this OUT rather than reusing its samples
//
// Keys: models (required: "name=folder,name=folder,...", names distinct, each of letters,
// digits, '_', '-' and '.', not starting with '.': a name is its samples' folder), tasks
// ("countdown", or math benchmark names separated by commas, each once; "TASK:rl" = the RL
// training prompts of TASK, to see what training fit, kept out of the average), data_dir,
// prompts (200; 0 = all of a benchmark), k (8), max_new_tokens (40), temperature (1), seed
// (7), batch_size (256), threads (1), device (cpu), anchors (optional: an anchor stage's
// anchors.jsonl, checked against the anchor.json beside it; its fingerprint is recorded, and
// TASK:rl is then exactly the prompts training used, the anchors not dropped, whatever
// `prompts` says).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llm/pipeline/eval_metrics.h"
#include "llm/pipeline/propose.h"
#include "llm/pipeline/stage_config.h"

namespace disa::llm::pipeline {

struct EvalOptions {
  std::vector<std::pair<std::string, std::filesystem::path>> models;
  std::vector<std::string> tasks = {"countdown"};
  std::filesystem::path data_dir, out, anchors;
  std::int64_t prompts = 200, k = 8, max_new_tokens = 40, batch_size = 256;
  double temperature = 1.0;
  std::uint64_t seed = 7;
  int threads = 1;
  std::string device = "cpu";
};

// What a models= name may hold: it is a folder name (OUT/samples/NAME) and a CSV cell.
inline constexpr const char* kModelNameCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";

// Reads and checks the keys above (InputError naming the key and value).
EvalOptions eval_options(StageConfig& config);

// "a, b,c" -> {"a", "b", "c"}: the lists of models= and tasks= (blanks trimmed); "" or blanks
// -> {}. An empty entry ("a,,b", "a,", ",a", "a, ,b") is an InputError naming the stage, the
// key and the text: "eval: models='a=X,,b=Y': entry 2 is empty ...".
std::vector<std::string> split_comma_list(std::string_view stage, std::string_view key, const std::string& text);

struct EvalRow {
  std::string model, task;
  MetricsSummary metrics;
};

std::vector<EvalRow> run_eval(const EvalOptions& options, const StageProgress& progress = {});

}  // namespace disa::llm::pipeline

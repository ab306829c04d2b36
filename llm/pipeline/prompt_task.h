// The tasks the pipeline proposes, trains and evaluates on, behind one interface: a list
// of prompts and a verifier that gives each response a reward, a reason, and the two keys
// the diversity metrics count (llm/pipeline/diversity.h):
//   signature  what makes two correct responses the same solution (Countdown: the
//              canonical expression, commutative/associative rewrites merged; code: the
//              program with whitespace runs collapsed). Math has none: every correct
//              response has the reference's value, so distinct final answers would count
//              spellings ("6", "6.0", "x=6"), not solutions; its diversity is the n-gram
//              dispersion of the texts
//   strategy   a coarser derivation key that needs no external judge (Countdown: the
//              expression's operator skeleton with the numbers erased, "(n*n)+n"); empty
//              when the task has none (math, code)
// diversity_keys(spec) (llm/pipeline/eval_metrics.h) says which keys a task's verdicts
// carry; eval reports a count over a key the task does not have as NaN, not a measured 0.
//
// Specs (`task=` in the stage configs):
//   countdown            the in-house task; its config and seed are read from the model
//                        folder's task.json (written by `disa llm pretrain`). Evaluation
//                        prompts are the held-out split's first problems; RL ("train")
//                        prompts are other held-out problems, never one the model was
//                        pretrained on or one it is evaluated on
//   math500, gsm8k, aime24, aime25, amc23, minerva, olympiadbench
//                        a math benchmark from `data_dir` (llm/verify/math_benchmarks.h),
//                        prompted in ChatML with the usual "\boxed{}" instruction; the file
//                        is the split (train on one benchmark, evaluate on others)
//   humaneval, humanevalplus, livecodebench, codeforces
//                        a code benchmark from `data_dir` (llm/verify/code_benchmarks.h),
//                        rewarded by its tests in the sandbox (llm/verify/code_verifier.h);
//                        signature = the program with whitespace runs collapsed
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/tokenizer/tokenizer.h"

namespace disa::llm::pipeline {

enum class PromptSplit { kTrain, kEval };

struct TaskPrompt {
  std::int64_t index = 0;              // position in the split: the key of every per-prompt record
  std::string id;                      // "countdown-train-17", "math500-test/algebra/1.json"
  std::string text;                    // what the model is shown (before tokenisation)
  std::vector<std::int32_t> tokens;    // the encoded prompt
};

struct TaskVerdict {
  double reward = 0;       // 1 correct, 0 otherwise
  std::string reason;      // "correct", "wrong_value", "no answer found", ...
  std::string signature;   // distinct-solution key (empty unless correct)
  std::string strategy;    // derivation key (empty unless correct, or when the task has none)
};

class PromptTask {
 public:
  virtual ~PromptTask() = default;
  virtual std::string name() const = 0;
  // The first `count` prompts of a split; all of it when count is larger than the split.
  // count <= 0: all of a benchmark's split, an InputError for Countdown (its splits are
  // drawn, not listed, so "all" is no count to draw to).
  virtual std::vector<TaskPrompt> prompts(PromptSplit split, std::int64_t count) const = 0;
  // `response` is the decoded completion without its EOS token.
  virtual TaskVerdict verify(const TaskPrompt& prompt, std::string_view response) const = 0;
  // True when the prompt admits several right answers but its verdict compares with the
  // one stored (code problems saying "print any of them": the datasets give no checker),
  // so a right answer other than that one scores 0. Evaluations count these prompts.
  virtual bool judged_by_one_stored_answer(const TaskPrompt&) const { return false; }
};

// Throws InputError naming `key` and `spec` when no task has that name: checked without
// a model or data, so that a run refuses a typo before pretraining or proposing.
void check_task_name(std::string_view key, std::string_view spec);

// Throws InputError naming `spec` when it is unknown or its files are missing.
std::unique_ptr<PromptTask> make_task(std::string_view spec, const std::filesystem::path& model_folder,
                                      const std::filesystem::path& data_dir, const Tokenizer& tokenizer);

// What a stage records of its prompts: a hash of their ids and texts in order, so that a
// folder made for other prompts under the same ids (another task.json, benchmark file or
// generator) is not resumed.
std::string prompts_fingerprint(const std::vector<TaskPrompt>& prompts);

// Countdown's strategy key: the canonical signature with every number replaced by 'n'.
std::string operator_skeleton(std::string_view signature);

}  // namespace disa::llm::pipeline

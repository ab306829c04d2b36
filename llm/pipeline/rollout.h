// Sampling and verifying k completions per prompt: the one rollout routine of the
// proposal stage, on-policy training and evaluation.
//
// Row (prompt p, sample j) uses sampler row id p.index * samples + j under options.seed,
// so a completion is a function of (model, prompt, seed, j) alone: the same whatever the
// batch size, the chunking or the machine count (llm/model/sampler.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llm/model/sampler.h"
#include "llm/pipeline/prompt_task.h"

namespace disa::llm::pipeline {

struct Rollout {
  std::int64_t prompt = 0;  // position in the `prompts` vector given
  std::int64_t sample = 0;
  Completion completion;
  std::string response;     // decoded, without the stop token
  TaskVerdict verdict;
};

// prompts.size() * samples rollouts, prompt-major. options.eos_ids is set to stop_ids
// (LoadedModel::stop_ids), and a trailing stop token is cut from the response. A rollout
// that hit max_new_tokens (finish "length") is not verified: reward 0, reason "truncated"
// (an answer cut off mid-number could otherwise pass as a shorter one).
// What a stage folder records of that rule, so that rollouts verified before it (truncated
// answers were verified then) are not reused: their rewards could differ.
inline constexpr const char* kTruncatedRolloutsRule = "reward 0, not verified";

//
// Every rollout is held until the call returns: more than the memory budget
// (tree_memory_budget: 80% of memory, or DISA_MAX_TREE_BYTES) is an InputError naming
// `samples_key`, the caller's name for `samples` (k = 10^11 was a std::bad_alloc).
std::vector<Rollout> roll_out(TransformerImpl& model, const Tokenizer& tokenizer,
                              const std::vector<std::int32_t>& stop_ids, const PromptTask& task,
                              const std::vector<TaskPrompt>& prompts, std::int64_t samples, SamplingOptions options,
                              std::int64_t batch_size, std::string_view samples_key);

}  // namespace disa::llm::pipeline

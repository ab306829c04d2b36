// The supervised data of pretraining: example e of a run is Countdown train problem e
// (llm/tasks/countdown.h) with one of ALL its correct solutions, drawn uniformly by
// CounterRng(splitmix64(seed ^ tag), e). So the target is a distribution over solutions,
// not one canonical answer, and the data is a pure function of (task, seed, e): step s
// of batch size B reads examples s*B .. s*B+B-1, which is all a resumed run needs to
// continue identically ("the RNG position" is the step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "llm/tasks/countdown.h"
#include "llm/tokenizer/char_tokenizer.h"

namespace disa::llm::pretrain {

struct Example {
  countdown::Problem problem;
  std::string prompt;      // prompt_text(problem)
  std::string completion;  // one correct expression (without EOS)
  std::size_t solutions = 0;  // how many correct solutions the problem has
};

Example training_example(const countdown::TaskConfig& task, std::uint64_t seed, std::uint64_t index);

// Right-padded: input_ids [B, T] (pad id past the end), attention_mask [B, T] (1 = real),
// labels [B, T]: the next token where it is a completion token or the EOS, else -100
// (ignored), so the loss is on completions only.
struct TokenBatch {
  torch::Tensor input_ids, attention_mask, labels;
  std::int64_t tokens = 0;             // real tokens in the batch
  std::int64_t completion_tokens = 0;  // positions that carry a label
};

TokenBatch make_batch(const CharTokenizer& tokenizer, const std::vector<Example>& examples);

}  // namespace disa::llm::pretrain

// Teacher-forced log-probabilities of given continuations after given prompts:
// log pi(y_t | x, y_<t) for every token of y, in one batched forward per chunk (no
// generation, no cache). This is what log pi_ref(y) and log q(y) of the importance
// weights are made of, and what the trainer differentiates.
//
//   std::vector<ScoreRequest> rs = {{.prompt = x_ids, .continuation = y_ids}, ...};
//   std::vector<std::vector<float>> lp = score(*model, rs);          // no grad, eval mode
//   ContinuationLogprobs b = continuation_logprobs(*model, rs);      // [B, L] with autograd
//
// Rows are right-padded; position ids count real tokens, so a row scores the same in
// any batch (to the last bits in float32; a bfloat16 model's scores move with the padding
// by bf16 steps, see sampler.h). `temperature` divides the logits first (1 = the model itself).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "llm/model/transformer.h"

namespace disa::llm {

struct ScoreRequest {
  std::vector<std::int32_t> prompt;        // at least one token
  std::vector<std::int32_t> continuation;  // may be empty
};

struct ContinuationLogprobs {
  torch::Tensor logprobs;  // [B, L] float32, L = longest continuation; 0 past a row's end
  torch::Tensor mask;      // [B, L] float32, 1 on real continuation tokens
};

// In the model's current mode, differentiable when grad mode is on.
ContinuationLogprobs continuation_logprobs(TransformerImpl& model, const std::vector<ScoreRequest>& requests,
                                           double temperature = 1.0);

// Chunks of batch_size rows, no grad, eval mode (restored afterwards).
std::vector<std::vector<float>> score(TransformerImpl& model, const std::vector<ScoreRequest>& requests,
                                      std::int64_t batch_size = 8, double temperature = 1.0);

}  // namespace disa::llm

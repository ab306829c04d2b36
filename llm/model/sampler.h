// Batched generation with the KV cache, seeded so that every token is a function of
// (model, prompt, options, seed, row id) alone:
//   * row r's uniform at generated position t is CounterRng(seed, row_ids[r]).uniform(t),
//     and the token is the inverse CDF of the processed distribution at that uniform, so
//     the same seed gives the same tokens and a row's tokens do not depend on which other
//     rows share its batch (up to the last-bit differences padding can make in the
//     logits, which move a draw only when it falls within ~1e-6 of a CDF step). That
//     holds for a float32 model: in bfloat16, padding changes matmul shapes and moves
//     the logits by whole bf16 steps, enough to change tokens (3 to 5 of 32 rows of a
//     small random model between batch 1 and 32), which is why `disa llm sample` and the
//     pipeline run every checkpoint in float32 unless told otherwise;
//   * prompts are left-padded, position ids count real tokens only.
//
//   SamplingOptions o{.temperature = 0.7, .top_p = 0.9, .max_new_tokens = 64, .seed = 1};
//   o.eos_ids = {151645};
//   std::vector<Completion> out = sample(*model, prompts, o);             // row ids 0..B-1
//   out = sample(*model, prompts, o, row_ids, [&](auto ids) { return tok->decode(ids); });
//
// The distribution applies Hugging Face's processors in their order: the EOS ids at -inf
// while fewer than min_new_tokens are generated, then temperature, top-k (the tokens below
// the k-th largest logit dropped; ties with it kept), top-p (the most probable tokens up to
// the first whose cumulative probability reaches top_p; among tokens tied at that cut the
// higher ids are kept, as on Hugging Face and vLLM on CUDA). temperature 0 is greedy (argmax of
// the processed logits; sampling log-prob 0).
// Each token comes with two log-probs: the model's (temperature 1, untruncated:
// log pi(y_t | x, y_<t), what a scorer computes) and the sampling distribution's
// (log q(y_t | ...) after temperature/top-k/top-p, what importance weights need).
//
// Generation of a row ends at an EOS id (kept as its last token; not drawn before
// min_new_tokens tokens), when its decoded text contains a stop string (the token that
// completes it is kept; finish "stop"; min_new_tokens does not delay it, as on Hugging
// Face), or after max_new_tokens (finish "length"). Runs in eval mode without autograd; the model's
// training flag is restored afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "llm/model/transformer.h"

namespace disa::llm {

// The smallest temperature above 0 (greedy) that sampling and scoring accept: logits
// divided by it must stay finite in float/bfloat16 (they do for |logit| up to
// FLT_MAX * 1e-6 = 3.4e32), and below it a draw is the argmax in all but exact ties.
// Smaller values were an error in the middle of sampling that blamed the model's logits.
inline constexpr double kMinTemperature = 1e-6;

struct SamplingOptions {
  double temperature = 1.0;       // 0 = greedy, else >= kMinTemperature
  double top_p = 1.0;             // in (0, 1]
  std::int64_t top_k = 0;         // 0 = no top-k
  std::int64_t max_new_tokens = 128;
  // No EOS id can be drawn at the first min_new_tokens positions; in [0, max_new_tokens].
  // The sampling log-probs are those of that distribution (q is 0 on shorter
  // completions, so such samples cannot serve as an importance-sampling proposal for a
  // reference that ends earlier).
  std::int64_t min_new_tokens = 0;
  std::vector<std::int32_t> eos_ids = {};
  std::vector<std::string> stop_strings = {};  // need a TextDecoder
  std::uint64_t seed = 0;
};

// Throws InputError naming the option and its value.
void validate(const SamplingOptions& options);

enum class FinishReason { kEos, kStop, kLength };
std::string finish_reason_name(FinishReason r);  // "eos", "stop", "length"

struct Completion {
  std::vector<std::int32_t> tokens;
  std::vector<float> model_logprobs;     // log pi(token), temperature 1, no truncation
  std::vector<float> sampling_logprobs;  // log q(token) after temperature / top-k / top-p
  FinishReason finish = FinishReason::kLength;
};

using TextDecoder = std::function<std::string(std::span<const std::int32_t>)>;

// One completion per prompt. row_ids (default 0..B-1) key each row's random stream;
// give a prompt the same id in every batch it may appear in. Empty prompts, ids outside
// the vocabulary, or stop strings without a decoder throw InputError.
std::vector<Completion> sample(TransformerImpl& model, const std::vector<std::vector<std::int32_t>>& prompts,
                               const SamplingOptions& options, std::span<const std::uint64_t> row_ids = {},
                               const TextDecoder& decode = {});

// Memory one sampled completion takes while a caller holds it until written, generously:
// the row and its JSON object (512 B), each prompt token (ids and their JSON: 24 B), each
// new token (id and two log-probs, as floats and as JSON, and text: 64 B). Callers refuse
// a count of samples past their budget before allocating, naming their option, rather
// than ending in the OOM killer (`disa llm sample`, the pipeline's roll_out).
inline double held_sample_bytes(std::int64_t prompt_tokens, std::int64_t max_new_tokens) {
  return 512.0 + 24.0 * static_cast<double>(prompt_tokens) + 64.0 * static_cast<double>(max_new_tokens);
}

// One step of the sampling rule on logits [B, V] (float32) with uniforms u [B] (double):
// the tokens [B] and both log-probs [B]; suppress_eos puts options.eos_ids at -inf
// first (a position before min_new_tokens). Exposed for tests.
struct TokenDraw {
  torch::Tensor tokens, model_logprobs, sampling_logprobs;
};
TokenDraw draw_tokens(const torch::Tensor& logits, const torch::Tensor& uniforms, const SamplingOptions& options,
                      bool suppress_eos = false);

}  // namespace disa::llm

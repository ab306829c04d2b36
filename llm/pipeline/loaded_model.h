// A model folder opened for a stage: weights (load_pretrained), its tokenizer, on a device.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <torch/types.h>

#include "llm/model/transformer.h"
#include "llm/tokenizer/tokenizer.h"

namespace disa::llm::pipeline {

struct LoadedModel {
  Transformer model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::int32_t eos = 0;  // the tokenizer's EOS
  // What rollouts stop at: config.json's eos_token_id, generation_config.json's and the
  // tokenizer's EOS (stop_token_ids in llm/model/model_config.h), as HF generate() stops
  // at generation_config's (Qwen2.5/Qwen3 instruct also at <|endoftext|>).
  std::vector<std::int32_t> stop_ids;
};

// "cpu" or "cuda" (InputError naming `key` otherwise, or when CUDA is not available).
torch::Device parse_device(const std::string& name, const std::string& key = "device");
// float32 weights; the tokenizer must have an EOS token (InputError otherwise); the
// model's output vocabulary is the tokenizer's (match_output_vocabulary).
LoadedModel load_model(const std::filesystem::path& folder, torch::Device device);
// LoadedModel::stop_ids of `folder` without loading its weights (config.json,
// generation_config.json and the tokenizer only): what a stage records in its options, so
// that a changed stop set never resumes into rollouts that stopped elsewhere.
std::vector<std::int32_t> stop_token_ids_of(const std::filesystem::path& folder);
// Restricts the model's logits to the tokenizer's ids (TransformerImpl::
// set_output_vocabulary), so that no padding row of the head (Qwen: 151936 rows, 151665
// ids) is ever sampled or scored. InputError (check_tokenizer_fits) naming `folder` when the
// tokenizer has more ids than the model has rows, or leaves an id below its size undefined
// (a gap: such an id could be sampled and not decoded).
void check_tokenizer_fits(const Tokenizer& tokenizer, std::int64_t model_rows, const std::string& folder);
void match_output_vocabulary(TransformerImpl& model, const Tokenizer& tokenizer, const std::string& folder);
// What a stage records of a model folder besides its path, so that a model retrained or
// replaced at the same path, or given another tokenizer, never resumes into outputs of the
// old one: FNV-1a 64 (file_fingerprint) over every *.safetensors file, config.json and
// those of tokenizer.json, tokenizer_config.json, chat_template.jinja, vocab.json and
// merges.txt that exist, by name in order (about 1 GB/s, so a second for a 0.5B bf16
// model). generation_config.json is not hashed: the stop ids read from it are recorded as
// such (stop_token_ids_of).
std::string model_fingerprint(const std::filesystem::path& folder);
// The completion's ids without a trailing stop token (one of `stop_ids`): the response.
std::span<const std::int32_t> response_tokens(const std::vector<std::int32_t>& stop_ids,
                                              const std::vector<std::int32_t>& tokens);
// The completion's text without a trailing stop token (one of `stop_ids`).
std::string decode_response(const Tokenizer& tokenizer, const std::vector<std::int32_t>& stop_ids,
                            const std::vector<std::int32_t>& tokens);

}  // namespace disa::llm::pipeline

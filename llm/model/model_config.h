// The architecture of a decoder-only transformer as Hugging Face's config.json
// states it (Qwen2ForCausalLM, LlamaForCausalLM), checked once on load so the model
// code can trust it.
//
//   ModelConfig c = load_model_config("path/to/checkpoint");   // folder or config.json
//   nlohmann::ordered_json j = to_json(c);                      // what save_pretrained writes
//
// A missing, mistyped or out-of-range field throws disa::InputError naming the field,
// its value and the file. Features this implementation does not have (rope_scaling,
// sliding windows, MLP biases, activations other than SiLU) are rejected by name rather
// than silently ignored, since a checkpoint loaded without them gives wrong logits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace disa::llm {

enum class Architecture { kQwen2, kLlama };

struct ModelConfig {
  Architecture architecture = Architecture::kQwen2;
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;
  std::int64_t head_dim = 0;  // hidden_size / num_attention_heads unless the file says
  std::int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double initializer_range = 0.02;  // std of the random init (disa llm init)
  bool tie_word_embeddings = false;
  // q/k/v projections carry a bias (Qwen2 always; Llama when attention_bias is true). True
  // by default, as the default architecture is Qwen2: a hand-built Qwen2 config without
  // it saves checkpoints that no Qwen2 loader (this one included) accepts.
  bool qkv_bias = true;
  // o_proj carries a bias (Llama with attention_bias; never Qwen2).
  bool o_bias = false;
  // "float32", "bfloat16", or "float16" (a checkpoint's dtype; the model runs it in float32).
  std::string torch_dtype = "float32";
  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;  // config.json's eos_token_id (int or list)

  std::int64_t kv_groups() const { return num_attention_heads / num_key_value_heads; }
};

std::string architecture_name(Architecture a);  // "Qwen2ForCausalLM", "LlamaForCausalLM"

// `source` names the file in error messages.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source = "config.json");

// A folder (reads folder/config.json) or the file itself.
ModelConfig load_model_config(const std::filesystem::path& file_or_folder);

// generation_config.json's eos_token_id (an int or a list): what Hugging Face generate()
// stops at (Qwen2.5/Qwen3 instruct: [151645, 151643], where config.json names only one).
// Empty when `folder` has no generation_config.json or it has no eos_token_id; an id that
// is no non-negative integer below config.vocab_size throws InputError naming the file,
// the field and the value. Its other fields (sampling defaults) are not read.
std::vector<std::int64_t> load_generation_eos_token_ids(const std::filesystem::path& folder, const ModelConfig& config);

// The ids generation from `folder`'s model stops at (disa llm sample and the pipeline's
// rollouts): the union of config.json's eos_token_id, generation_config.json's, and the
// tokenizer's EOS when given; sorted, without repeats.
std::vector<std::int32_t> stop_token_ids(const std::filesystem::path& folder, const ModelConfig& config,
                                         std::optional<std::int32_t> tokenizer_eos);

// The HF config.json of `config` (architectures, model_type, every field above).
nlohmann::ordered_json to_json(const ModelConfig& config);

}  // namespace disa::llm

// config.json contents of the small test models (tiny_models.h builds them): a Qwen2
// variant (q/k/v bias, tied head) and a Llama variant (no bias, untied head, other
// rope_theta and eps), both 2 layers, hidden 64, 4 heads, 2 kv heads, vocab 97.
#pragma once

#include <nlohmann/json.hpp>

namespace disa::llm::model_test {

inline nlohmann::json qwen2_config_json() {
  return {{"architectures", {"Qwen2ForCausalLM"}},
          {"vocab_size", 97},
          {"hidden_size", 64},
          {"intermediate_size", 96},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"max_position_embeddings", 256},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0},
          {"tie_word_embeddings", true},
          {"torch_dtype", "float32"},
          {"eos_token_id", 96}};
}

inline nlohmann::json llama_config_json() {
  nlohmann::json j = qwen2_config_json();
  j["architectures"] = {"LlamaForCausalLM"};
  j["tie_word_embeddings"] = false;
  j["attention_bias"] = false;
  j["rope_theta"] = 500000.0;
  j["rms_norm_eps"] = 1e-5;
  return j;
}

}  // namespace disa::llm::model_test

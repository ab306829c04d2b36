#include "llm/pretrain/model_presets.h"

#include <fmt/format.h>

#include "llm/tasks/countdown.h"
#include "src/input_error.h"

namespace disa::llm::pretrain {

CharTokenizer countdown_tokenizer() {
  return CharTokenizer(countdown::task_charset(), {kPadToken, kEosToken}, kEosToken, kPadToken);
}

std::vector<std::string> model_size_names() { return {"tiny", "small", "base"}; }

ModelConfig model_preset(const std::string& size, const CharTokenizer& tokenizer) {
  ModelConfig c;
  c.architecture = Architecture::kQwen2;
  c.qkv_bias = true;  // Qwen2 always has q/k/v biases
  c.tie_word_embeddings = true;  // the vocabulary is tiny; a separate head would only add noise
  c.vocab_size = tokenizer.vocab_size();
  // Prompts and completions of the Countdown format stay well under 64 characters.
  c.max_position_embeddings = 128;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.initializer_range = 0.02;
  c.eos_token_ids = {*tokenizer.special_ids().eos};
  if (size == "tiny") {
    c.num_hidden_layers = 2, c.hidden_size = 32, c.num_attention_heads = 2, c.intermediate_size = 64;
  } else if (size == "small") {
    c.num_hidden_layers = 4, c.hidden_size = 128, c.num_attention_heads = 4, c.intermediate_size = 384;
  } else if (size == "base") {
    c.num_hidden_layers = 8, c.hidden_size = 256, c.num_attention_heads = 8, c.intermediate_size = 1024;
  } else {
    throw InputError(fmt::format("--model-size = '{}': expected one of {}", size, fmt::join(model_size_names(), ", ")));
  }
  c.num_key_value_heads = c.num_attention_heads;
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

}  // namespace disa::llm::pretrain

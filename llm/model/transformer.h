// A decoder-only transformer in the Hugging Face Qwen2 / Llama layout (the blocks are
// in llm/model/layers.h). The same forward serves training (autograd through it,
// parameters() / named_parameters() with HF checkpoint names), scoring and cached
// generation.
//
//   Transformer model(config, torch::kFloat32);           // uninitialised; see pretrained.h
//   torch::Tensor logits = model->forward(ids);           // [B, T, vocab], float32
//   logits = model->forward(ids, mask, positions);        // a padded batch
//   KvCache cache(capacity);
//   logits = model->forward(ids, mask, positions, &cache);  // generation (llm/model/sampler.h)
//
// input_ids       [B, T] int64 (other integer dtypes are converted), each in [0, vocab_size)
// attention_mask  [B, S] with S = cached positions + T; nonzero = a real token. Undefined:
//                 every position is real. Either padding side works.
// position_ids    [B, T]. Undefined: with a mask, a real token's position is the number of
//                 real tokens before it (HF's cumsum(mask) - 1); without one, cached + t.
// Padding queries attend only to themselves, so every softmax row has a term and padded
// rows stay finite; what they compute is never read.
// Logits come back in float32 whatever the model's dtype. As in Hugging Face, the head's
// product is computed in the model's dtype and then converted, so in bfloat16 the logits
// themselves carry bfloat16 rounding (a step of 0.125 at |logit| ~ 30) and sampler and
// scorer agree to ~1e-6 only in float32.
//
// Output vocabulary: Qwen checkpoints have more output rows (151936) than their tokenizer
// has ids (151665 for Qwen2.5); the extra rows are padding that keep a small probability
// under sampling, and an id no tokenizer can decode must never be drawn. After
// set_output_vocabulary(n) the logits have n columns (the head uses its first n rows), so
// every distribution the model defines (sampling q, scored pi, pi_ref, the training loss)
// is over the ids [0, n) alone. load_model (llm/pipeline) sets n to the tokenizer's size.
#pragma once

#include <cstdint>
#include <optional>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "llm/model/kv_cache.h"
#include "llm/model/layers.h"
#include "llm/model/model_config.h"

namespace disa::llm {

// The trunk, registered as "model" so that names read model.layers.N....
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const ModelConfig& config, torch::Dtype dtype);
  torch::Tensor embed_tokens;  // parameter "embed_tokens.weight" of submodule embed_tokens
  torch::nn::ModuleList layers{nullptr};
  std::vector<DecoderLayer> layer_list;  // the same modules as `layers`, typed
  RmsNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

// The number of parameters a Transformer of `config` holds (embedding, layers, final
// norm, and lm_head unless tied), in checked arithmetic: nullopt if it overflows 64 bits.
std::optional<std::uint64_t> parameter_count(const ModelConfig& config);

class TransformerImpl : public torch::nn::Module {
 public:
  // InputError naming the config's sizes when its weights (parameter_count x the dtype's
  // bytes) exceed this machine's memory: a 600-byte config.json with vocab_size 3e9 asked
  // for 768 GB and failed in the allocator with a backtrace.
  TransformerImpl(const ModelConfig& config, torch::Dtype dtype);

  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                        const torch::Tensor& position_ids = {}, KvCache* cache = nullptr);
  // The final-norm hidden states [B, T, hidden_size] in the model's dtype: what forward()
  // multiplies by the output embedding (FlowRL's log Z head reads them).
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                              const torch::Tensor& position_ids = {}, KvCache* cache = nullptr);

  // The head on final-norm hidden states [..., hidden_size]: float32 logits [..., n] with
  // n = output_vocabulary(). forward() is logits(hidden_states(...)); the scorer applies
  // it to the rows it reads only.
  torch::Tensor logits(const torch::Tensor& hidden) const;
  // Restricts the logits to ids [0, n); InputError unless 1 <= n <= config().vocab_size.
  void set_output_vocabulary(std::int64_t n);
  std::int64_t output_vocabulary() const { return output_vocabulary_; }

  const ModelConfig& config() const { return config_; }
  torch::Dtype dtype() const { return dtype_; }
  DecoderLayer layer(std::size_t i) const { return model->layer_list.at(i); }
  // Every projection a LoRA adapter may attach to, by its HF module path
  // ("model.layers.3.self_attn.q_proj"); lm_head is not among them.
  std::vector<std::pair<std::string, Projection>> projections() const;

  Decoder model{nullptr};
  Projection lm_head{nullptr};  // null when tie_word_embeddings (the embedding is reused)

 private:
  ModelConfig config_;
  torch::Dtype dtype_;
  std::int64_t output_vocabulary_;
};
TORCH_MODULE(Transformer);

// torch_dtype strings of config.json <-> LibTorch dtypes ("float32", "bfloat16").
torch::Dtype torch_dtype_from_name(const std::string& name);
std::string torch_dtype_name(torch::Dtype dtype);

}  // namespace disa::llm

// The blocks of a Qwen2/Llama decoder layer, written to reproduce Hugging Face's
// eager implementation (modeling_qwen2.py / modeling_llama.py) number for number:
//   RMSNorm      in float32, cast back, then times the weight (HF's order)
//   rotary       rotate_half convention: channel i pairs with i + head_dim/2
//   attention    grouped-query, softmax in float32, causal + padding mask
//   SwiGLU MLP   down(silu(gate(x)) * up(x))
// Parameter names follow the HF checkpoint (q_proj.weight, mlp.gate_proj.weight, ...),
// so named_parameters() of the model are the safetensors keys. Parameters are created
// uninitialised (torch::empty): the model is always filled by a loader or the seeded
// initialiser (llm/model/pretrained.h).
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "llm/model/kv_cache.h"
#include "llm/model/model_config.h"

namespace disa::llm {

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(std::int64_t dim, double eps, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

// y = x W^T + b, plus an optional LoRA update (scaling * B A x, llm/model/lora.h)
// held as submodules lora_A / lora_B so that their names are PEFT's.
class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(std::int64_t in, std::int64_t out, bool bias, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);

  // Adds lora_A (rank x in) and lora_B (out x rank, zero), in this layer's dtype, or in
  // float32 when that is bfloat16/float16 (PEFT's autocast_adapter_dtype).
  void add_lora(std::int64_t rank, double alpha, double dropout);
  bool has_lora() const { return lora_a.defined(); }
  // W += scaling * B A; removes the adapter.
  void merge_lora();

  std::int64_t in_features, out_features;
  torch::Tensor weight, bias;
  torch::Tensor lora_a, lora_b;  // the parameters of submodules lora_A / lora_B
  double lora_scaling = 0, lora_dropout = 0;
  double lora_alpha = 0;  // as given: alpha = scaling * rank can round (alpha 1, rank 49)
};
TORCH_MODULE(Projection);

struct ProjectionShape {
  std::int64_t in_features, out_features;
};
// The shape of a decoder layer's projection named as PEFT's target_modules name it
// (q_proj k_proj v_proj o_proj gate_proj up_proj down_proj): what Attention and Mlp build,
// and what a LoRA rank is checked against before a model is built. InputError otherwise.
ProjectionShape projection_shape(const ModelConfig& config, const std::string& module);

// cos and sin of the rotary angles for positions [B, T] (any integer dtype):
// [B, 1, T, head_dim] each, in `dtype`.
std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& positions, std::int64_t head_dim,
                                                       double theta, torch::Dtype dtype);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, torch::Dtype dtype);
  // x [B, T, hidden]; allowed [B, 1, T, S] bool (S = cached + T); cache may be null.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KvCache* cache, std::size_t layer);
  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  std::int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);
  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KvCache* cache, std::size_t layer);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace disa::llm

#include "llm/model/layers.h"

#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/version.h>

#include "src/input_error.h"

namespace disa::llm {

namespace F = torch::nn::functional;

RmsNormImpl::RmsNormImpl(std::int64_t dim, double eps, torch::Dtype dtype) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}, torch::TensorOptions().dtype(dtype)));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  // In float32 whatever the model's dtype, cast back before the weight: HF's order, which
  // matters in bfloat16 (the weight multiplies the rounded value).
  const torch::Tensor x32 = x.to(torch::kFloat32);
  const torch::Tensor normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

ProjectionImpl::ProjectionImpl(std::int64_t in, std::int64_t out, bool with_bias, torch::Dtype dtype)
    : in_features(in), out_features(out) {
  const auto options = torch::TensorOptions().dtype(dtype);
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}, options));
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = F::linear(x, weight, bias);
  if (has_lora()) {
    // Float32 adapters on a bf16 layer: the update is computed in the adapters' dtype
    // (under CUDA autocast the matmuls still run in bf16) and added in the layer's.
    const torch::Tensor in = x.scalar_type() == lora_a.scalar_type() ? x : x.to(lora_a.scalar_type());
    const torch::Tensor dropped = lora_dropout > 0 ? torch::dropout(in, lora_dropout, is_training()) : in;
    const torch::Tensor update = F::linear(F::linear(dropped, lora_a), lora_b) * lora_scaling;
    y = y + (update.scalar_type() == y.scalar_type() ? update : update.to(y.scalar_type()));
  }
  return y;
}

void ProjectionImpl::add_lora(std::int64_t rank, double alpha, double dropout) {
  // As PEFT (autocast_adapter_dtype, its default), the adapters of a bf16/fp16 layer are
  // float32: AdamW's steps (~lr = 1e-4) on A's entries (~0.06) are below bf16's spacing
  // there (2.4e-4) and would round away, leaving A untrained.
  const bool half = weight.scalar_type() == torch::kBFloat16 || weight.scalar_type() == torch::kHalf;
  const auto options = weight.options().dtype(half ? torch::kFloat32 : weight.scalar_type()).requires_grad(true);
  // Bare modules holding one parameter each: lora_A.weight / lora_B.weight below this
  // projection, as PEFT's Linear names them. A is filled by the caller (llm/model/lora.cpp).
  lora_a = register_module("lora_A", std::make_shared<torch::nn::Module>())
               ->register_parameter("weight", torch::zeros({rank, in_features}, options));
  lora_b = register_module("lora_B", std::make_shared<torch::nn::Module>())
               ->register_parameter("weight", torch::zeros({out_features, rank}, options));
  lora_scaling = alpha / static_cast<double>(rank);
  lora_alpha = alpha;
  lora_dropout = dropout;
}

void ProjectionImpl::merge_lora() {
  if (!has_lora()) return;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor delta = torch::matmul(lora_b.to(torch::kFloat32), lora_a.to(torch::kFloat32)) * lora_scaling;
    weight.copy_((weight.to(torch::kFloat32) + delta).to(weight.scalar_type()));
  }
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_a = lora_b = torch::Tensor();
  lora_scaling = 0;
  lora_alpha = 0;
}

std::pair<torch::Tensor, torch::Tensor> rotary_cos_sin(const torch::Tensor& positions, std::int64_t head_dim,
                                                       double theta, torch::Dtype dtype) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(positions.device());
  // inv_freq_i = theta^(-2i/d) computed in float32 from integer exponents, as HF does.
  const torch::Tensor exponents = torch::arange(0, head_dim, 2, f32.dtype(torch::kInt64)).to(torch::kFloat32) /
                                  static_cast<float>(head_dim);
  const torch::Tensor inv_freq = 1.0 / torch::pow(static_cast<float>(theta), exponents);
  const torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
  const torch::Tensor angles = torch::cat({freqs, freqs}, -1).unsqueeze(1);           // [B, 1, T, d]
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

namespace {

// (x1, x2) -> (-x2, x1) over the two halves of the last dimension.
torch::Tensor rotate_half(const torch::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// [B, kv_heads, S, d] -> [B, kv_heads * groups, S, d]; query head h reads kv head h / groups.
torch::Tensor repeat_kv(const torch::Tensor& x, std::int64_t groups) {
  if (groups == 1) return x;
  const auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

}  // namespace

ProjectionShape projection_shape(const ModelConfig& c, const std::string& module) {
  std::int64_t q_width = 0, kv_width = 0;
  if (__builtin_mul_overflow(c.num_attention_heads, c.head_dim, &q_width) ||
      __builtin_mul_overflow(c.num_key_value_heads, c.head_dim, &kv_width)) {
    throw InputError(fmt::format("model config: num_attention_heads = {} x head_dim = {} overflows 64 bits",
                                 c.num_attention_heads, c.head_dim));
  }
  if (module == "q_proj") return {c.hidden_size, q_width};
  if (module == "k_proj" || module == "v_proj") return {c.hidden_size, kv_width};
  if (module == "o_proj") return {q_width, c.hidden_size};
  if (module == "gate_proj" || module == "up_proj") return {c.hidden_size, c.intermediate_size};
  if (module == "down_proj") return {c.intermediate_size, c.hidden_size};
  throw InputError(
      fmt::format("projection '{}': expected any of q_proj k_proj v_proj o_proj gate_proj up_proj "
                  "down_proj",
                  module));
}

AttentionImpl::AttentionImpl(const ModelConfig& c, torch::Dtype dtype)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  const auto make = [&](const char* name, bool bias) {
    const ProjectionShape s = projection_shape(c, name);
    return register_module(name, Projection(s.in_features, s.out_features, bias, dtype));
  };
  q_proj = make("q_proj", c.qkv_bias);
  k_proj = make("k_proj", c.qkv_bias);
  v_proj = make("v_proj", c.qkv_bias);
  o_proj = make("o_proj", c.o_bias);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& allowed, KvCache* cache, std::size_t layer) {
  const std::int64_t b = x.size(0), t = x.size(1);
  torch::Tensor q = q_proj->forward(x).view({b, t, heads_, head_dim_}).transpose(1, 2);
  torch::Tensor k = k_proj->forward(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor v = v_proj->forward(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);
  k = repeat_kv(k, heads_ / kv_heads_);
  v = repeat_kv(v, heads_ / kv_heads_);

  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernel where LibTorch has one; its default scale is HF's 1/sqrt(head_dim).
  out = at::scaled_dot_product_attention(q, k, v, allowed, 0.0, false);
#else
  // HF's eager path: scores in the model's dtype, softmax in float32, cast back.
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim_));
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  const torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  out = torch::matmul(probs, v);
#endif
  return o_proj->forward(out.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
}

MlpImpl::MlpImpl(const ModelConfig& c, torch::Dtype dtype) {
  const auto make = [&](const char* name) {
    const ProjectionShape s = projection_shape(c, name);
    return register_module(name, Projection(s.in_features, s.out_features, false, dtype));
  };
  gate_proj = make("gate_proj");
  up_proj = make("up_proj");
  down_proj = make("down_proj");
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(F::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, torch::Dtype dtype) {
  self_attn = register_module("self_attn", Attention(c, dtype));
  mlp = register_module("mlp", Mlp(c, dtype));
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& allowed, KvCache* cache, std::size_t layer) {
  const torch::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, allowed, cache, layer);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

}  // namespace disa::llm

#include "llm/model/transformer.h"

#include <cstdint>

#include <fmt/format.h>
#include <torch/nn/functional/linear.h>

#include "src/input_error.h"
#include "src/physical_memory.h"

namespace disa::llm {

torch::Dtype torch_dtype_from_name(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  throw InputError(fmt::format("torch_dtype = \"{}\": expected \"float32\" or \"bfloat16\"", name));
}

std::string torch_dtype_name(torch::Dtype dtype) {
  if (dtype == torch::kFloat32) return "float32";
  if (dtype == torch::kBFloat16) return "bfloat16";
  throw InputError(fmt::format("model dtype {}: expected float32 or bfloat16", c10::toString(dtype)));
}

DecoderImpl::DecoderImpl(const ModelConfig& c, torch::Dtype dtype) {
  // A bare module holding one parameter: HF's name is embed_tokens.weight.
  auto holder = register_module("embed_tokens", std::make_shared<torch::nn::Module>());
  embed_tokens = holder->register_parameter("weight", torch::empty({c.vocab_size, c.hidden_size},
                                                                   torch::TensorOptions().dtype(dtype)));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layer_list.push_back(DecoderLayer(c, dtype));
    layers->push_back(layer_list.back());
  }
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype));
}

namespace {

// A sum of products that remembers whether any step overflowed 64 bits.
struct CheckedCount {
  std::uint64_t total = 0;
  bool overflow = false;
  void add(std::uint64_t a, std::uint64_t b) {
    std::uint64_t product = 0;
    overflow |= __builtin_mul_overflow(a, b, &product);
    overflow |= __builtin_add_overflow(total, product, &total);
  }
};

}  // namespace

std::optional<std::uint64_t> parameter_count(const ModelConfig& c) {
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };  // sizes are positive (parse)
  CheckedCount layer;
  for (const char* module : {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}) {
    const ProjectionShape s = projection_shape(c, module);
    layer.add(u(s.in_features), u(s.out_features));
  }
  if (c.qkv_bias) {
    layer.add(u(projection_shape(c, "q_proj").out_features), 1);
    layer.add(u(projection_shape(c, "k_proj").out_features), 2);  // k and v
  }
  if (c.o_bias) layer.add(u(c.hidden_size), 1);
  layer.add(u(c.hidden_size), 2);  // input_layernorm, post_attention_layernorm
  CheckedCount model;
  model.add(layer.total, u(c.num_hidden_layers));
  model.add(u(c.vocab_size), u(c.hidden_size));  // embed_tokens
  if (!c.tie_word_embeddings) model.add(u(c.vocab_size), u(c.hidden_size));
  model.add(u(c.hidden_size), 1);  // the final norm
  if (layer.overflow || model.overflow) return std::nullopt;
  return model.total;
}

namespace {

void check_weights_fit_memory(const ModelConfig& c, torch::Dtype dtype) {
  const std::optional<std::uint64_t> count = parameter_count(c);
  const std::uint64_t element = dtype == torch::kBFloat16 ? 2 : 4;
  const std::uint64_t memory = physical_memory_bytes();
  if (count && *count <= memory / element) return;
  const std::string sizes = fmt::format(
      "vocab_size = {}, hidden_size = {}, intermediate_size = {}, num_hidden_layers = {}, "
      "num_attention_heads = {}, num_key_value_heads = {}, head_dim = {}",
      c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads,
      c.num_key_value_heads, c.head_dim);
  if (!count) throw InputError(fmt::format("model config: {}: the parameter count overflows 64 bits", sizes));
  throw InputError(
      fmt::format("model config: {}: {} parameters need {:.3g} GB as {}, above this machine's {:.3g} GB "
                  "of memory",
                  sizes, *count, static_cast<double>(*count) * static_cast<double>(element) / 1e9,
                  torch_dtype_name(dtype), static_cast<double>(memory) / 1e9));
}

}  // namespace

TransformerImpl::TransformerImpl(const ModelConfig& config, torch::Dtype dtype)
    : config_(config), dtype_(dtype), output_vocabulary_(config.vocab_size) {
  torch_dtype_name(dtype);  // rejects anything but float32 / bfloat16
  check_weights_fit_memory(config_, dtype);
  config_.torch_dtype = torch_dtype_name(dtype);
  model = register_module("model", Decoder(config_, dtype));
  if (!config_.tie_word_embeddings) {
    lm_head = register_module("lm_head", Projection(config_.hidden_size, config_.vocab_size, false, dtype));
  }
}

std::vector<std::pair<std::string, Projection>> TransformerImpl::projections() const {
  std::vector<std::pair<std::string, Projection>> out;
  for (std::size_t i = 0; i < model->layer_list.size(); ++i) {
    const DecoderLayer l = layer(i);
    const std::string attn = fmt::format("model.layers.{}.self_attn.", i);
    const std::string mlp = fmt::format("model.layers.{}.mlp.", i);
    out.emplace_back(attn + "q_proj", l->self_attn->q_proj);
    out.emplace_back(attn + "k_proj", l->self_attn->k_proj);
    out.emplace_back(attn + "v_proj", l->self_attn->v_proj);
    out.emplace_back(attn + "o_proj", l->self_attn->o_proj);
    out.emplace_back(mlp + "gate_proj", l->mlp->gate_proj);
    out.emplace_back(mlp + "up_proj", l->mlp->up_proj);
    out.emplace_back(mlp + "down_proj", l->mlp->down_proj);
  }
  return out;
}

namespace {

void check_inputs(const torch::Tensor& ids, const torch::Tensor& mask, const torch::Tensor& positions,
                  std::int64_t cached, std::int64_t vocab) {
  if (!ids.defined() || ids.dim() != 2 || ids.size(1) == 0 || ids.is_floating_point()) {
    throw InputError(fmt::format("forward: input_ids must be a non-empty [B, T] integer tensor, got sizes {}",
                                 ids.defined() ? c10::str(ids.sizes()) : "undefined"));
  }
  if (ids.numel() > 0) {
    const std::int64_t lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    if (lo < 0 || hi >= vocab) {
      throw InputError(fmt::format("forward: input_ids hold {} outside [0, vocab_size = {})", lo < 0 ? lo : hi, vocab));
    }
  }
  if (mask.defined() && (mask.dim() != 2 || mask.size(0) != ids.size(0) || mask.size(1) != cached + ids.size(1))) {
    throw InputError(fmt::format("forward: attention_mask sizes {} must be [B = {}, cached + T = {}]",
                                 c10::str(mask.sizes()), ids.size(0), cached + ids.size(1)));
  }
  if (positions.defined() && positions.sizes() != ids.sizes()) {
    throw InputError(fmt::format("forward: position_ids sizes {} must equal input_ids sizes {}",
                                 c10::str(positions.sizes()), c10::str(ids.sizes())));
  }
}

}  // namespace

torch::Tensor TransformerImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                       const torch::Tensor& position_ids, KvCache* cache) {
  return logits(hidden_states(input_ids, attention_mask, position_ids, cache));
}

torch::Tensor TransformerImpl::logits(const torch::Tensor& hidden) const {
  const torch::Tensor& head = config_.tie_word_embeddings ? model->embed_tokens : lm_head->weight;
  const torch::Tensor rows =
      output_vocabulary_ == config_.vocab_size ? head : head.narrow(0, 0, output_vocabulary_);
  const torch::Tensor out = config_.tie_word_embeddings ? torch::matmul(hidden, rows.t())
                                                       : torch::nn::functional::linear(hidden, rows);
  return out.to(torch::kFloat32);
}

void TransformerImpl::set_output_vocabulary(std::int64_t n) {
  if (n < 1 || n > config_.vocab_size) {
    throw InputError(fmt::format("output vocabulary {} must be in [1, vocab_size = {}] (the model's output rows)", n,
                                 config_.vocab_size));
  }
  output_vocabulary_ = n;
}

torch::Tensor TransformerImpl::hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                             const torch::Tensor& position_ids, KvCache* cache) {
  const std::int64_t cached = cache != nullptr ? cache->length() : 0;
  check_inputs(input_ids, attention_mask, position_ids, cached, config_.vocab_size);
  const torch::Device device = model->embed_tokens.device();
  const torch::Tensor ids = input_ids.to(device, torch::kInt64);
  const std::int64_t b = ids.size(0), t = ids.size(1), s = cached + t;
  const auto long_options = torch::TensorOptions().dtype(torch::kInt64).device(device);

  const torch::Tensor key_real =
      attention_mask.defined() ? attention_mask.to(device).ne(0) : torch::ones({b, s}, long_options).ne(0);
  torch::Tensor positions;
  if (position_ids.defined()) {
    positions = position_ids.to(device, torch::kInt64);
  } else if (attention_mask.defined()) {
    positions = (key_real.to(torch::kInt64).cumsum(1) - 1).clamp_min(0).narrow(1, cached, t);
  } else {
    positions = torch::arange(cached, s, long_options).unsqueeze(0).expand({b, t});
  }

  // allowed[b, 0, i, j]: query i (absolute position cached + i) may read key j.
  const torch::Tensor query_abs = torch::arange(cached, s, long_options).view({t, 1});
  const torch::Tensor key_abs = torch::arange(0, s, long_options).view({1, s});
  const torch::Tensor causal = key_abs.le(query_abs);                                  // [T, S]
  const torch::Tensor self = key_abs.eq(query_abs);                                    // [T, S]
  const torch::Tensor allowed = (causal.unsqueeze(0) & key_real.unsqueeze(1)) | self.unsqueeze(0);  // [B, T, S]

  auto [cos, sin] = rotary_cos_sin(positions, config_.head_dim, config_.rope_theta, dtype_);
  torch::Tensor h = torch::embedding(model->embed_tokens, ids);
  for (std::size_t i = 0; i < model->layer_list.size(); ++i) {
    h = layer(i)->forward(h, cos, sin, allowed.unsqueeze(1), cache, i);
  }
  if (cache != nullptr) cache->advance(t);
  return model->norm->forward(h);
}

}  // namespace disa::llm

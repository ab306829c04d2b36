#include "llm/model/pretrained.h"

#include <vector>

#include <fmt/format.h>

#include "llm/safetensors/safetensors_torch.h"
#include "src/atomic_file.h"
#include "src/counter_rng.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

bool is_lora_name(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

// Tensors the HF loaders skip without complaint.
bool is_tolerated_extra(const std::string& name, const ModelConfig& config) {
  if (name == "lm_head.weight" && config.tie_word_embeddings) return true;
  return name.ends_with(".rotary_emb.inv_freq");
}

std::string first_few(const std::vector<std::string>& items) {
  constexpr std::size_t kShown = 5;
  std::string s;
  for (std::size_t i = 0; i < items.size() && i < kShown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kShown) s += fmt::format(", ... ({} in all)", items.size());
  return s;
}

}  // namespace

std::uint64_t name_stream(const std::string& name) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void fill_normal(torch::Tensor& t, std::uint64_t seed, std::uint64_t stream, double mean, double std) {
  const CounterRng rng(seed, stream);
  std::vector<float> values(static_cast<std::size_t>(t.numel()));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(values.size()); ++i) {
    values[i] = static_cast<float>(mean + std * rng.normal(static_cast<std::uint64_t>(i)));
  }
  torch::NoGradGuard no_grad;
  t.copy_(torch::from_blob(values.data(), t.sizes(), torch::kFloat32).to(t.scalar_type()));
}

Transformer init_random(const ModelConfig& config, std::uint64_t seed, torch::Dtype dtype) {
  Transformer model(config, dtype);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (name.ends_with("norm.weight")) {
      p.fill_(1.0);
    } else if (name.ends_with(".bias")) {
      p.zero_();
    } else {
      fill_normal(p, seed, name_stream(name), 0.0, config.initializer_range);
    }
  }
  return model;
}

void load_weights(TransformerImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                  const std::string& source) {
  std::vector<std::string> missing, unexpected, misshapen;
  std::map<std::string, torch::Tensor> params;
  for (const auto& item : model.named_parameters()) {
    if (!is_lora_name(item.key())) params.emplace(item.key(), item.value());
  }
  for (const auto& [name, p] : params) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (it->second.sizes() != p.sizes()) {
      misshapen.push_back(fmt::format("{} is {} but the config needs {}", name, c10::str(it->second.sizes()),
                                      c10::str(p.sizes())));
    } else if (!it->second.is_floating_point()) {
      misshapen.push_back(fmt::format("{} has integer dtype {}", name, c10::toString(it->second.scalar_type())));
    } else if (const std::int64_t bad = (~torch::isfinite(it->second)).sum().item<std::int64_t>(); bad > 0) {
      // One NaN weight makes every logit NaN; caught here it names the tensor, caught
      // downstream it is a NaN reward or importance weight far from its cause.
      misshapen.push_back(fmt::format("{} has {} NaN or infinite entries", name, bad));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (!params.contains(name) && !is_tolerated_extra(name, model.config())) unexpected.push_back(name);
  }
  std::string problems;
  if (!missing.empty()) problems += fmt::format("; missing tensors: {}", first_few(missing));
  if (!unexpected.empty()) problems += fmt::format("; unexpected tensors: {}", first_few(unexpected));
  if (!misshapen.empty()) problems += fmt::format("; wrong tensors: {}", first_few(misshapen));
  if (!problems.empty()) {
    throw InputError(fmt::format("{}: weights do not match {} with the config's sizes{}", source,
                                 architecture_name(model.config().architecture), problems));
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : params) p.copy_(tensors.at(name).to(p.device(), p.scalar_type()));
}

Transformer load_pretrained(const std::filesystem::path& folder, std::optional<torch::Dtype> dtype) {
  const ModelConfig config = load_model_config(folder);
  // float16 checkpoints run in float32: float16 activations overflow in these models, and
  // the upcast is exact.
  const torch::Dtype stored = config.torch_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  Transformer model(config, dtype.value_or(stored));
  load_weights(*model, load_safetensors(folder), folder.string());
  return model;
}

void save_pretrained(const TransformerImpl& model, const std::filesystem::path& folder,
                     const std::map<std::string, std::string>& metadata) {
  std::filesystem::create_directories(folder);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model.named_parameters()) {
    if (!is_lora_name(item.key())) tensors.emplace(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  }
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "pt");  // what transformers expects of a PyTorch checkpoint
  save_safetensors(folder / "model.safetensors", tensors, meta);
  const std::string config_text = to_json(model.config()).dump(2) + "\n";
  write_file_atomically(folder / "config.json", [&](std::ostream& out) { out << config_text; });
}

}  // namespace disa::llm

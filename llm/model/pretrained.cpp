#include "llm/model/pretrained.h"

#include <vector>

#include <fmt/format.h>

#include "llm/safetensors/message_quote.h"
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
      // A range finite as a double can overflow the weights' dtype (1e39 in float32): a
      // model saved so would be refused at every load.
      if (const std::int64_t bad = (~torch::isfinite(p)).sum().item<std::int64_t>(); bad > 0) {
        throw InputError(fmt::format("model config: initializer_range = {} gives {} infinite entries in {} ({})",
                                     config.initializer_range, bad, name, c10::toString(p.scalar_type())));
      }
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
      missing.push_back(quote_for_message(name));
    } else if (it->second.sizes() != p.sizes()) {
      misshapen.push_back(fmt::format("{} is {} but the config needs {}", quote_for_message(name),
                                      c10::str(it->second.sizes()), c10::str(p.sizes())));
    } else if (!it->second.is_floating_point()) {
      misshapen.push_back(
          fmt::format("{} has integer dtype {}", quote_for_message(name), c10::toString(it->second.scalar_type())));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (!params.contains(name) && !is_tolerated_extra(name, model.config())) {
      unexpected.push_back(quote_for_message(name));
    }
  }
  std::string problems;
  if (!missing.empty()) problems += fmt::format("; missing tensors: {}", first_few(missing));
  if (!unexpected.empty()) problems += fmt::format("; unexpected tensors: {}", first_few(unexpected));
  if (!misshapen.empty()) problems += fmt::format("; wrong tensors: {}", first_few(misshapen));
  if (!problems.empty()) {
    throw InputError(fmt::format("{}: weights do not match {} with the config's sizes{}", source,
                                 architecture_name(model.config().architecture), problems));
  }
  // One NaN weight makes every logit NaN; caught here it names the tensor, caught
  // downstream it is a NaN reward or importance weight far from its cause. Checked in the
  // parameter, after the copy: in the dtype the model runs in (a float64 1e300 is finite in
  // the file and inf there), one tensor converted at a time (converting all first held a
  // second copy of the model: 10 bytes a parameter for a bf16 file at float32, not 6).
  torch::NoGradGuard no_grad;
  std::vector<std::string> not_finite;
  for (auto& [name, p] : params) {
    const torch::Tensor& t = tensors.at(name);
    p.copy_(t.to(p.device(), p.scalar_type()));
    if (const std::int64_t bad = (~torch::isfinite(p)).sum().item<std::int64_t>(); bad > 0) {
      const std::int64_t in_file = (~torch::isfinite(t)).sum().item<std::int64_t>();
      not_finite.push_back(
          in_file == bad ? fmt::format("{} has {} NaN or infinite entries", quote_for_message(name), bad)
                         : fmt::format("{} has {} entries that overflow {} ({} NaN or infinite in the file, as {})",
                                       quote_for_message(name), bad - in_file, c10::toString(p.scalar_type()), in_file,
                                       c10::toString(t.scalar_type())));
    }
  }
  if (!not_finite.empty()) {
    throw InputError(
        fmt::format("{}: weights not finite in the dtype the model runs them in: {}", source, first_few(not_finite)));
  }
}

Transformer load_pretrained(const std::filesystem::path& folder, std::optional<torch::Dtype> dtype) {
  if (std::filesystem::exists(folder / kSaveInProgressMarker)) {
    throw InputError(
        fmt::format("{}: a save into this folder was interrupted ({} is there): config.json and "
                    "model.safetensors may be of two saves; save the model again",
                    folder.string(), kSaveInProgressMarker));
  }
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
  const std::string config_text = to_json(model.config()).dump(2) + "\n";
  const std::filesystem::path marker = folder / kSaveInProgressMarker;
  write_file_atomically(marker, [&](std::ostream& out) {
    out << "save_pretrained was writing model.safetensors and config.json here; if this file stays, it did not "
           "finish, and the two may be of different saves\n";
  });
  save_safetensors(folder / "model.safetensors", tensors, meta);
  write_file_atomically(folder / "config.json", [&](std::ostream& out) { out << config_text; });
  std::filesystem::remove(marker);
}

}  // namespace disa::llm

#include "llm/model/lora.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/model/pretrained.h"
#include "llm/safetensors/message_quote.h"
#include "llm/safetensors/safetensors_torch.h"
#include "src/atomic_file.h"
#include "src/counter_rng.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm {
namespace {

const std::vector<std::string>& known_modules() {
  static const std::vector<std::string> names = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

// "model.layers.3.self_attn.q_proj" -> "q_proj"
std::string module_name(const std::string& path) { return path.substr(path.rfind('.') + 1); }

const std::string kPeftPrefix = "base_model.model.";

bool targeted(const LoraConfig& c, const std::string& path) {
  return std::find(c.target_modules.begin(), c.target_modules.end(), module_name(path)) != c.target_modules.end();
}

// PEFT's kaiming_uniform_(a = sqrt(5)) on a [rank, in] matrix: U(-1/sqrt(in), 1/sqrt(in)).
void fill_kaiming_uniform(torch::Tensor& a, std::uint64_t seed, std::uint64_t stream) {
  const CounterRng rng(seed, stream);
  const double bound = 1.0 / std::sqrt(static_cast<double>(a.size(1)));
  std::vector<float> values(static_cast<std::size_t>(a.numel()));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((2 * rng.uniform(i) - 1) * bound);
  torch::NoGradGuard no_grad;
  a.copy_(torch::from_blob(values.data(), a.sizes(), torch::kFloat32).to(a.scalar_type()));
}

}  // namespace

void validate(const LoraConfig& c) {
  if (c.rank <= 0) throw InputError(fmt::format("lora: rank = {} must be positive", c.rank));
  if (!(c.alpha > 0) || !std::isfinite(c.alpha)) throw InputError(fmt::format("lora: alpha = {} must be positive", c.alpha));
  if (!(c.dropout >= 0 && c.dropout < 1)) throw InputError(fmt::format("lora: dropout = {} must be in [0, 1)", c.dropout));
  if (c.target_modules.empty()) throw InputError("lora: target_modules is empty");
  for (const std::string& m : c.target_modules) {
    if (std::find(known_modules().begin(), known_modules().end(), m) == known_modules().end()) {
      throw InputError(fmt::format("lora: target_modules holds '{}'; expected any of q_proj k_proj v_proj o_proj "
                                   "gate_proj up_proj down_proj", m));
    }
  }
}

std::string lora_rank_problem(const ModelConfig& model, const LoraConfig& config) {
  // The projection with the smallest side bounds the rank that suits every target.
  std::string tightest;
  ProjectionShape shape{0, 0};
  std::int64_t limit = 0;
  for (const std::string& module : config.target_modules) {
    const ProjectionShape s = projection_shape(model, module);
    if (tightest.empty() || std::min(s.in_features, s.out_features) < limit) {
      tightest = module;
      shape = s;
      limit = std::min(s.in_features, s.out_features);
    }
  }
  if (tightest.empty() || config.rank <= limit) return "";
  return fmt::format(
      "lora: rank = {} is above {}'s min(in, out) = {} ({} x {}): B A has rank at most {}, so the extra "
      "rank adds parameters, not expressiveness; use a rank <= {}",
      config.rank, tightest, limit, shape.out_features, shape.in_features, limit, limit);
}

void add_lora(TransformerImpl& model, const LoraConfig& config, std::uint64_t seed) {
  validate(config);
  for (const auto& [path, proj] : model.projections()) {
    if (proj->has_lora()) throw InputError(fmt::format("lora: {} already has an adapter", path));
  }
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  for (auto& [path, proj] : model.projections()) {
    if (!targeted(config, path)) continue;
    proj->add_lora(config.rank, config.alpha, config.dropout);
    fill_kaiming_uniform(proj->lora_a, seed, name_stream(path + ".lora_A.weight"));
  }
}

std::vector<torch::Tensor> lora_parameters(const TransformerImpl& model) {
  std::vector<torch::Tensor> out;
  for (const auto& [path, proj] : model.projections()) {
    if (!proj->has_lora()) continue;
    out.push_back(proj->lora_a);
    out.push_back(proj->lora_b);
  }
  return out;
}

std::map<std::string, torch::Tensor> lora_state(const TransformerImpl& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [path, proj] : model.projections()) {
    if (!proj->has_lora()) continue;
    out.emplace(kPeftPrefix + path + ".lora_A.weight", proj->lora_a);
    out.emplace(kPeftPrefix + path + ".lora_B.weight", proj->lora_b);
  }
  return out;
}

LoraConfig lora_config_of(const TransformerImpl& model) {
  LoraConfig c;
  c.target_modules.clear();
  std::set<std::string> seen;
  for (const auto& [path, proj] : model.projections()) {
    if (!proj->has_lora()) continue;
    c.rank = proj->lora_a.size(0);
    c.alpha = proj->lora_alpha;
    c.dropout = proj->lora_dropout;
    if (seen.insert(module_name(path)).second) c.target_modules.push_back(module_name(path));
  }
  if (c.target_modules.empty()) throw InputError("lora: the model has no adapters");
  return c;
}

void save_lora(const TransformerImpl& model, const std::filesystem::path& folder) {
  const LoraConfig c = lora_config_of(model);
  std::filesystem::create_directories(folder);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, t] : lora_state(model)) tensors.emplace(name, t.detach().to(torch::kCPU).contiguous());
  save_safetensors(folder / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  nlohmann::ordered_json j;
  j["peft_type"] = "LORA";
  j["task_type"] = "CAUSAL_LM";
  j["r"] = c.rank;
  j["lora_alpha"] = c.alpha;
  j["lora_dropout"] = c.dropout;
  j["target_modules"] = c.target_modules;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["base_model_name_or_path"] = nullptr;
  const std::string text = j.dump(2) + "\n";
  write_file_atomically(folder / "adapter_config.json", [&](std::ostream& out) { out << text; });
}

LoraConfig load_lora(TransformerImpl& model, const std::filesystem::path& folder) {
  const std::filesystem::path config_file = folder / "adapter_config.json";
  const std::string source = config_file.string();
  std::ifstream in(config_file);
  if (!in) throw InputError(fmt::format("lora: cannot open '{}'", source));
  nlohmann::json j;
  try {
    j = parse_json_strict(in, source);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  const auto field = [&](const char* name) -> const nlohmann::json& {
    if (!j.contains(name)) throw InputError(fmt::format("{}: field '{}' is missing", source, name));
    return j.at(name);
  };
  const auto refuse = [&](const char* name, const char* expected) {
    return InputError(
        fmt::format("{}: field '{}' = {}: expected {}", source, name, json_excerpt(j.at(name)), expected));
  };
  const auto number = [&](const char* name) {
    if (!field(name).is_number()) throw refuse(name, "a number");
    return j.at(name).get<double>();
  };
  LoraConfig c;
  if (field("peft_type") != "LORA") throw refuse("peft_type", "\"LORA\"");
  // "r": 4.9 would read as 4 through get<int64_t>: a rank is a JSON integer.
  if (!field("r").is_number_integer()) throw refuse("r", "an integer");
  c.rank = j.at("r").get<std::int64_t>();
  // PEFT options that change the scale or the rank per module: unsupported, so refused
  // by name rather than loaded with the plain alpha / r scale (another function).
  if (j.contains("use_rslora") && j.at("use_rslora") != false && !j.at("use_rslora").is_null()) {
    throw InputError(fmt::format("{}: field 'use_rslora' = {} is not supported (true scales by alpha / sqrt(r))",
                                 source, json_excerpt(j.at("use_rslora"))));
  }
  for (const char* pattern : {"alpha_pattern", "rank_pattern"}) {
    if (j.contains(pattern) && !j.at(pattern).is_null() && !j.at(pattern).empty()) {
      throw InputError(fmt::format("{}: field '{}' = {} is not supported (per-module {})", source, pattern,
                                   json_excerpt(j.at(pattern)), pattern[0] == 'a' ? "alphas" : "ranks"));
    }
  }
  c.alpha = number("lora_alpha");
  c.dropout = j.contains("lora_dropout") ? number("lora_dropout") : 0.0;
  const nlohmann::json& targets = field("target_modules");
  if (!targets.is_array() ||
      !std::all_of(targets.begin(), targets.end(), [](const auto& t) { return t.is_string(); })) {
    throw refuse("target_modules", "a list of module names");
  }
  c.target_modules = targets.get<std::vector<std::string>>();
  if (j.contains("fan_in_fan_out") && j.at("fan_in_fan_out") != false && !j.at("fan_in_fan_out").is_null()) {
    throw InputError(
        fmt::format("{}: field 'fan_in_fan_out' = {} is not supported", source, json_excerpt(j.at("fan_in_fan_out"))));
  }
  try {
    validate(c);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", source, e.what()));
  }
  // The scale alpha / r multiplies B A x in float32: past its range it is inf, and a
  // zero B times inf is NaN in every logit.
  if (!(c.alpha / static_cast<double>(c.rank) <= std::numeric_limits<float>::max())) {
    throw InputError(fmt::format("{}: lora_alpha = {} / r = {} overflows float32", source, c.alpha, c.rank));
  }

  // The file's tensors are checked against the shapes the model's projections need
  // before any adapter is allocated: "r": 1000000000 was a 256 GB allocation.
  const std::map<std::string, torch::Tensor> file = load_safetensors(folder / "adapter_model.safetensors");
  std::vector<std::string> problems;
  std::set<std::string> expected;
  for (const auto& [path, proj] : model.projections()) {
    if (!targeted(c, path)) continue;
    for (const auto& [name, shape] :
         {std::pair{kPeftPrefix + path + ".lora_A.weight", std::vector<std::int64_t>{c.rank, proj->in_features}},
          std::pair{kPeftPrefix + path + ".lora_B.weight", std::vector<std::int64_t>{proj->out_features, c.rank}}}) {
      expected.insert(name);
      const auto it = file.find(name);
      if (it == file.end()) {
        problems.push_back("missing " + name);
      } else if (it->second.sizes() != torch::IntArrayRef(shape)) {
        problems.push_back(fmt::format("{} is {}, expected {}", name, c10::str(it->second.sizes()),
                                       c10::str(torch::IntArrayRef(shape))));
      } else if (!it->second.is_floating_point()) {
        problems.push_back(fmt::format("{} has integer dtype {}", name, c10::toString(it->second.scalar_type())));
      } else if (const std::int64_t bad = (~torch::isfinite(it->second.to(torch::kFloat32))).sum().item<std::int64_t>();
                 bad > 0) {
        // Adapters run in float32 (or the model's float32): a NaN here is every logit's.
        problems.push_back(fmt::format("{} has {} NaN or infinite entries as float32", name, bad));
      }
    }
  }
  for (const auto& [name, t] : file) {
    if (!expected.contains(name)) problems.push_back("unexpected " + quote_for_message(name));
  }
  if (!problems.empty()) {
    std::string list;
    for (std::size_t i = 0; i < problems.size() && i < 5; ++i) list += (i ? "; " : "") + problems[i];
    if (problems.size() > 5) list += fmt::format("; ... ({} problems)", problems.size());
    throw InputError(fmt::format("{}: adapter does not match the model: {}", folder.string(), list));
  }
  add_lora(model, c, /*seed=*/0);  // A is overwritten below
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : lora_state(model)) t.copy_(file.at(name).to(t.device(), t.scalar_type()));
  return c;
}

void merge_lora(TransformerImpl& model) {
  for (auto& [path, proj] : model.projections()) proj->merge_lora();
  for (auto& p : model.parameters()) p.set_requires_grad(true);
}

}  // namespace disa::llm

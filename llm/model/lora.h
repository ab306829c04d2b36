// LoRA adapters (Hu et al. 2021) on a transformer's attention and MLP projections, in
// PEFT's conventions so that adapters move between this code and Hugging Face PEFT:
//   y = W x + b + (alpha / rank) * B A dropout(x),  A: rank x in,  B: out x rank
//   A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming_uniform(a=sqrt(5))), B = 0,
//   so a fresh adapter leaves the model's outputs unchanged.
//   Saved as adapter_model.safetensors with keys
//     base_model.model.<module path>.lora_A.weight / .lora_B.weight
//   and adapter_config.json (peft_type LORA, r, lora_alpha, lora_dropout, target_modules).
//
//   add_lora(*model, LoraConfig{.rank = 8, .alpha = 16}, /*seed=*/1);   // base frozen
//   optimizer over lora_parameters(*model); ... ; save_lora(*model, "adapter/");
//   Transformer m = load_pretrained("base/"); load_lora(*m, "adapter/");
//   merge_lora(*m); save_pretrained(*m, "merged/");                        // optional
//
// Dropout (training mode only) draws from LibTorch's global generator.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "llm/model/transformer.h"

namespace disa::llm {

struct LoraConfig {
  std::int64_t rank = 8;
  double alpha = 16;
  double dropout = 0;
  // Module names, as PEFT's target_modules: any of q_proj k_proj v_proj o_proj
  // gate_proj up_proj down_proj.
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
};

// Throws InputError naming the field (rank, alpha, dropout, target_modules) and value.
void validate(const LoraConfig& config);

// Why `config`'s rank does not suit a new adapter on a model of `model` (empty if it
// does): a rank above min(in, out) of a targeted projection adds parameters
// (rank * (in + out) each) but no expressiveness, as B A then has rank <= min(in, out); a
// rank of 10^6 was a bad_alloc, or gigabytes of adapters, after the pipeline's proposing.
// Training checks it; add_lora and load_lora do not, as PEFT accepts such adapters.
std::string lora_rank_problem(const ModelConfig& model, const LoraConfig& config);

// Attaches adapters to every targeted projection of every layer and freezes all other
// parameters (requires_grad false). A is drawn from CounterRng(seed, hash of its name).
// Throws InputError if the model already has adapters.
void add_lora(TransformerImpl& model, const LoraConfig& config, std::uint64_t seed);

// The adapters' parameters (A and B of each targeted projection), for the optimiser.
std::vector<torch::Tensor> lora_parameters(const TransformerImpl& model);

// The adapters as PEFT names them (base_model.model.<path>.lora_A.weight ...).
std::map<std::string, torch::Tensor> lora_state(const TransformerImpl& model);

// The LoraConfig the model's adapters were made with (rank, alpha, dropout, targets).
LoraConfig lora_config_of(const TransformerImpl& model);

// Writes folder/adapter_model.safetensors and folder/adapter_config.json atomically.
void save_lora(const TransformerImpl& model, const std::filesystem::path& folder);

// Reads an adapter saved by save_lora or PEFT and attaches it (base frozen). A missing,
// unexpected or misshapen tensor throws InputError naming it.
LoraConfig load_lora(TransformerImpl& model, const std::filesystem::path& folder);

// W += (alpha/rank) B A in every adapted projection; adapters are removed and every
// parameter requires grad again.
void merge_lora(TransformerImpl& model);

}  // namespace disa::llm

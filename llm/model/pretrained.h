// A transformer's weights on disk in Hugging Face's layout (config.json +
// model.safetensors, or shards with model.safetensors.index.json), and the seeded
// random initialisation of a new one.
//
//   Transformer m = load_pretrained("Qwen2.5-0.5B/");             // dtype from config.json
//   Transformer m = load_pretrained("dir/", torch::kFloat32);     // or converted on load
//   Transformer m = init_random(config, /*seed=*/1);               // disa llm init
//   save_pretrained(m, "out/");                                    // config.json + model.safetensors
//
// Loading checks the tensors against the architecture exactly: a missing tensor, one the
// architecture has no place for, or a shape other than expected throws disa::InputError
// naming every such tensor (the first few of each kind). Tolerated: lm_head.weight in a
// tied checkpoint (HF ignores it) and rotary_emb.inv_freq buffers of older Llama files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <torch/types.h>

#include "llm/model/model_config.h"
#include "llm/model/transformer.h"

namespace disa::llm {

// `dtype` unset: config.json's torch_dtype (float16 checkpoints load as float32).
Transformer load_pretrained(const std::filesystem::path& folder, std::optional<torch::Dtype> dtype = std::nullopt);

// Copies `tensors` (HF names) into the model's parameters, converting dtype; the check
// described above. `source` names the origin in error messages.
void load_weights(TransformerImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                  const std::string& source);

// Writes folder/config.json and folder/model.safetensors (each atomically), creating the
// folder. Base weights only: LoRA adapters are saved with save_lora (llm/model/lora.h),
// or merged first (merge_lora). `metadata` goes into the safetensors header. The two
// renames are bracketed by a marker file (kSaveInProgressMarker): a save killed between
// them leaves the marker, and load_pretrained refuses the folder, whose files may be of
// two saves, instead of running new weights under an old config.
void save_pretrained(const TransformerImpl& model, const std::filesystem::path& folder,
                     const std::map<std::string, std::string>& metadata = {});
inline constexpr const char* kSaveInProgressMarker = "save_pretrained.incomplete";

// Weights as HF initialises them (normal(0, initializer_range) matrices and embedding,
// zero biases, unit norms), drawn from the counter-based RNG keyed by (seed, a hash of
// the parameter's name): the same seed gives the same model on every machine and
// LibTorch version, and adding a layer does not change the others' weights.
Transformer init_random(const ModelConfig& config, std::uint64_t seed,
                        torch::Dtype dtype = torch::kFloat32);

// Fills one tensor with normal(0, std) (or `mean` + ...) from CounterRng(seed, stream).
void fill_normal(torch::Tensor& t, std::uint64_t seed, std::uint64_t stream, double mean, double std);

// The stream id of a parameter name (64-bit FNV-1a).
std::uint64_t name_stream(const std::string& name);

}  // namespace disa::llm

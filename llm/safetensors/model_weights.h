// A Hugging Face model's weights as safetensors: a single model.safetensors, or shards
// listed by model.safetensors.index.json ({"weight_map": {tensor: shard file}}). Every
// file is opened and validated, and the index must agree with the shards exactly:
// each listed tensor is in the shard the index names, and no tensor is in two shards
// or in a shard without being listed. Torch-free, so the checks run in cpu tests;
// llm/safetensors/safetensors_torch.h turns the views into tensors.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "llm/safetensors/safetensors.h"

namespace disa::llm {

struct ModelWeights {
  std::vector<std::filesystem::path> files;         // the safetensors files, in load order
  std::vector<SafetensorsFile> shards;              // parallel to files; owns the mappings
  std::map<std::string, const TensorView*> tensors; // every tensor, pointing into shards
};

// PATH: a .safetensors file, a *.index.json, or a folder holding model.safetensors
// (preferred) or model.safetensors.index.json. Throws InputError naming the file,
// tensor and problem.
ModelWeights open_model_weights(const std::filesystem::path& path);

// The name -> shard file map of an index file, with the shard names checked to be
// plain file names (no directories: a hostile index must not reach outside its folder).
std::map<std::string, std::string> read_weight_map(const std::filesystem::path& index_path);

}  // namespace disa::llm

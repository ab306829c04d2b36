// LibTorch glue for safetensors: views to owning tensors, a model folder's weights to a
// name -> tensor map, and tensors to a file. The byte-level checks live in the torch-free
// disa_safetensors; this adds only the dtype mapping (LibTorch 1.13 has no float8 and
// no unsigned types beyond uint8, so those are an InputError naming the tensor).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <torch/torch.h>

#include "llm/safetensors/safetensors.h"

namespace disa::llm {

// An owning CPU copy with the view's shape and dtype (BF16/F16/F32/F64/I64/I32/I16/I8/
// U8/BOOL). BOOL bytes other than 0 and 1 are rejected: torch assumes them canonical.
torch::Tensor to_tensor(const TensorView& view);

// PATH as for open_model_weights (a .safetensors file, a model.safetensors.index.json,
// or a folder holding either); every shard is validated before any tensor is copied.
std::map<std::string, torch::Tensor> load_safetensors(const std::filesystem::path& path);

// Writes contiguous CPU copies of TENSORS (any device, any strides) atomically.
void save_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype of a torch dtype; InputError naming TENSOR_NAME if it has none.
Dtype dtype_from_torch(torch::ScalarType type, const std::string& tensor_name);

}  // namespace disa::llm

// Copies between safetensors views and LibTorch tensors. Both sides are little-endian
// row-major, so a copy is one memcpy after the dtype is mapped.
#include "llm/safetensors/safetensors_torch.h"

#include <bit>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join

#include "llm/safetensors/message_quote.h"
#include "llm/safetensors/model_weights.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swapping here");

std::optional<torch::ScalarType> torch_dtype(Dtype dtype) {
  switch (dtype) {
    case Dtype::F64: return torch::kFloat64;
    case Dtype::F32: return torch::kFloat32;
    case Dtype::F16: return torch::kFloat16;
    case Dtype::BF16: return torch::kBFloat16;
    case Dtype::I64: return torch::kInt64;
    case Dtype::I32: return torch::kInt32;
    case Dtype::I16: return torch::kInt16;
    case Dtype::I8: return torch::kInt8;
    case Dtype::U8: return torch::kUInt8;
    case Dtype::BOOL: return torch::kBool;
    default: return std::nullopt;
  }
}

}  // namespace

Dtype dtype_from_torch(torch::ScalarType type, const std::string& tensor_name) {
  switch (type) {
    case torch::kFloat64: return Dtype::F64;
    case torch::kFloat32: return Dtype::F32;
    case torch::kFloat16: return Dtype::F16;
    case torch::kBFloat16: return Dtype::BF16;
    case torch::kInt64: return Dtype::I64;
    case torch::kInt32: return Dtype::I32;
    case torch::kInt16: return Dtype::I16;
    case torch::kInt8: return Dtype::I8;
    case torch::kUInt8: return Dtype::U8;
    case torch::kBool: return Dtype::BOOL;
    default:
      throw InputError(fmt::format("save_safetensors: tensor {} has torch dtype {}, which "
                                   "safetensors cannot store",
                                   quote_for_message(tensor_name), c10::toString(type)));
  }
}

torch::Tensor to_tensor(const TensorView& view) {
  const std::optional<torch::ScalarType> type = torch_dtype(view.dtype);
  if (!type) {
    throw InputError(fmt::format("tensor {}: dtype {} has no LibTorch {} equivalent",
                                 quote_for_message(view.name), dtype_name(view.dtype),
                                 TORCH_VERSION));
  }
  if (view.dtype == Dtype::BOOL) {
    for (std::size_t i = 0; i < view.bytes.size(); ++i) {
      const auto b = std::to_integer<unsigned>(view.bytes[i]);
      if (b > 1) {
        throw InputError(fmt::format("tensor {}: BOOL element {} has byte value {} (must be 0 or 1)",
                                     quote_for_message(view.name), i, b));
      }
    }
  }
  torch::Tensor out;
  try {
    out = torch::empty(view.shape, torch::TensorOptions().dtype(*type));
  } catch (const c10::Error& e) {
    // A valid file may still hold a shape LibTorch cannot represent (e.g. an empty
    // tensor whose other dimensions overflow torch's stride arithmetic).
    throw InputError(fmt::format("tensor {}: LibTorch cannot create shape [{}]: {}",
                                 quote_for_message(view.name), fmt::join(view.shape, ", "),
                                 e.what_without_backtrace()));
  }
  if (!view.bytes.empty()) std::memcpy(out.data_ptr(), view.bytes.data(), view.bytes.size());
  return out;
}

std::map<std::string, torch::Tensor> load_safetensors(const std::filesystem::path& path) {
  const ModelWeights weights = open_model_weights(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, view] : weights.tensors) out.emplace(name, to_tensor(*view));
  return out;
}

void save_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> copies;  // keep the contiguous CPU copies alive while writing
  std::vector<TensorToWrite> to_write;
  copies.reserve(tensors.size());
  to_write.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const Dtype dtype = dtype_from_torch(tensor.scalar_type(), name);
    copies.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const torch::Tensor& c = copies.back();
    to_write.push_back(TensorToWrite{
        name, dtype, c.sizes().vec(),
        {static_cast<const std::byte*>(c.data_ptr()), static_cast<std::size_t>(c.numel() * c.element_size())}});
  }
  write_safetensors(path, to_write, metadata);
}

}  // namespace disa::llm

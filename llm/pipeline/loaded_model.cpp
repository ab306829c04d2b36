#include "llm/pipeline/loaded_model.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include "llm/model/pretrained.h"
#include "src/input_error.h"

namespace disa::llm::pipeline {

torch::Device parse_device(const std::string& name, const std::string& key) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) throw InputError(fmt::format("{}=cuda: this LibTorch build or machine has no CUDA", key));
    return torch::kCUDA;
  }
  throw InputError(fmt::format("{}={}: must be cpu or cuda", key, name));
}

LoadedModel load_model(const std::filesystem::path& folder, torch::Device device) {
  LoadedModel m;
  m.model = load_pretrained(folder, torch::kFloat32);
  m.model->to(device);
  m.tokenizer = load_tokenizer(folder);
  if (!m.tokenizer->special_ids().eos) {
    throw InputError(fmt::format("model '{}': its tokenizer has no EOS token", folder.string()));
  }
  m.eos = *m.tokenizer->special_ids().eos;
  return m;
}

std::string decode_response(const Tokenizer& tokenizer, std::int32_t eos, const std::vector<std::int32_t>& tokens) {
  std::size_t n = tokens.size();
  if (n > 0 && tokens[n - 1] == eos) --n;
  return tokenizer.decode(std::span<const std::int32_t>(tokens.data(), n));
}

}  // namespace disa::llm::pipeline

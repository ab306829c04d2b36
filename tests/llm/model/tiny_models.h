// Small random models for the tests of llm/model, from tiny_configs.h.
// Every parameter is re-drawn with O(1) effects (matrices std 0.1, norms 1 +- 0.1,
// biases +- 0.1) so that logits are O(1) and a wrong bias, norm or head is visible
// (HF's own init has zero biases and unit norms, which would hide them).
#pragma once

#include <cstdint>
#include <string>

#include "llm/model/model_config.h"
#include "llm/model/pretrained.h"
#include "llm/model/transformer.h"
#include "tests/llm/model/temp_dir.h"
#include "tests/llm/model/tiny_configs.h"

namespace disa::llm::model_test {

inline Transformer tiny_model(const nlohmann::json& config_json, std::uint64_t seed,
                              torch::Dtype dtype = torch::kFloat32) {
  Transformer m = init_random(parse_model_config(config_json), seed, dtype);
  for (auto& item : m->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    fill_normal(p, seed + 1, name_stream(name), name.ends_with("norm.weight") ? 1.0 : 0.0, 0.1);
  }
  return m;
}

}  // namespace disa::llm::model_test

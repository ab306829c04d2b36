// LoRA adapters (llm/model/lora.h): a fresh adapter leaves the logits unchanged
// exactly, only adapter parameters train, PEFT names and config on disk, save/load
// and merge reproduce the adapted model.
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llm/model/lora.h"
#include "llm/safetensors/safetensors_torch.h"
#include "tests/llm/model/tiny_models.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using model_test::TempDir;
using model_test::tiny_model;

const torch::Tensor& ids() {
  static const torch::Tensor t = torch::tensor({{1, 5, 9, 33, 2, 71}, {40, 41, 42, 43, 44, 45}}, torch::kInt64);
  return t;
}

torch::Tensor logits(Transformer& m) {
  torch::NoGradGuard no_grad;
  return m->forward(ids());
}

// Moves every B off zero, as training would.
void perturb_adapters(TransformerImpl& m, std::uint64_t seed) {
  for (const auto& [path, proj] : m.projections()) {
    torch::Tensor b = proj->lora_b;  // a handle to the parameter, filled in place
    if (proj->has_lora()) fill_normal(b, seed, name_stream(path), 0.0, 0.2);
  }
}

TEST(Lora, FreshAdapterLeavesLogitsUnchangedExactly) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  const torch::Tensor base = logits(model);
  add_lora(*model, {.rank = 4, .alpha = 8}, 2);
  EXPECT_TRUE(torch::equal(logits(model), base));
  perturb_adapters(*model, 3);
  EXPECT_GT((logits(model) - base).abs().max().item<double>(), 1e-3);  // the adapters act
}

TEST(Lora, AdaptersOfABf16ModelAreFloat32AndLearnAtSmallLearningRates) {
  // PEFT's autocast_adapter_dtype: in bf16, A (entries ~0.06, spacing 2.4e-4 there)
  // would not move under AdamW steps of lr 1e-4.
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1, torch::kBFloat16);
  const torch::Tensor base = logits(model);
  add_lora(*model, {.rank = 4, .alpha = 8}, 2);
  for (const torch::Tensor& p : lora_parameters(*model)) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(logits(model), base));  // B = 0: the bf16 logits are the base model's
  perturb_adapters(*model, 3);
  torch::Tensor a = model->layer(0)->self_attn->q_proj->lora_a;
  const torch::Tensor before = a.detach().clone();
  torch::optim::AdamW adamw(lora_parameters(*model), torch::optim::AdamWOptions(1e-4).weight_decay(0));
  model->forward(ids()).to(torch::kFloat32).logsumexp(-1).sum().backward();
  adamw.step();
  const torch::Tensor moved = (a.detach() - before).abs();
  EXPECT_GT(moved.gt(0).to(torch::kFloat32).mean().item<double>(), 0.9);  // (nearly) every entry stepped
  EXPECT_LT(moved.max().item<double>(), 1.5e-4);                          // by about lr
}

TEST(Lora, OnlyAdapterParametersRequireGrad) {
  Transformer model = tiny_model(model_test::llama_config_json(), 1);
  add_lora(*model, {.rank = 2, .target_modules = {"q_proj", "v_proj", "down_proj"}}, 1);
  std::size_t trainable = 0;
  for (const auto& item : model->named_parameters()) {
    const bool is_lora = item.key().find(".lora_") != std::string::npos;
    EXPECT_EQ(item.value().requires_grad(), is_lora) << item.key();
    trainable += item.value().requires_grad();
  }
  EXPECT_EQ(trainable, 2u * 3 * 2);  // A and B x 3 modules x 2 layers
  EXPECT_EQ(lora_parameters(*model).size(), trainable);
  perturb_adapters(*model, 4);
  model->forward(ids()).logsumexp(-1).sum().backward();
  for (const torch::Tensor& p : lora_parameters(*model)) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0);
  }
  EXPECT_FALSE(model->named_parameters()["lm_head.weight"].grad().defined());
  // A is drawn as PEFT's kaiming_uniform(a = sqrt(5)): |A| <= 1/sqrt(in_features).
  const torch::Tensor a = model->layer(0)->self_attn->q_proj->lora_a;
  EXPECT_LE(a.abs().max().item<double>(), 1.0 / std::sqrt(64.0));
  EXPECT_GT(a.abs().max().item<double>(), 0.5 / std::sqrt(64.0));
}

TEST(Lora, SaveLoadRoundTripWithPeftNames) {
  TempDir dir("lora");
  Transformer model = tiny_model(model_test::qwen2_config_json(), 5);
  add_lora(*model, {.rank = 4, .alpha = 16, .dropout = 0.1, .target_modules = {"q_proj", "gate_proj"}}, 6);
  perturb_adapters(*model, 7);
  save_lora(*model, dir.path());

  const auto file = load_safetensors(dir.path() / "adapter_model.safetensors");
  EXPECT_EQ(file.size(), 2u * 2 * 2);
  ASSERT_TRUE(file.contains("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"));
  EXPECT_EQ(file.at("base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight").sizes(),
            (std::vector<std::int64_t>{96, 4}));
  std::ifstream in(dir.path() / "adapter_config.json");
  const nlohmann::json cfg = nlohmann::json::parse(in);
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 16.0);
  EXPECT_EQ(cfg["target_modules"], (nlohmann::json{"q_proj", "gate_proj"}));

  Transformer fresh = tiny_model(model_test::qwen2_config_json(), 5);
  const LoraConfig loaded = load_lora(*fresh, dir.path());
  EXPECT_EQ(loaded.rank, 4);
  EXPECT_DOUBLE_EQ(loaded.dropout, 0.1);
  model->eval();
  fresh->eval();  // dropout off
  EXPECT_TRUE(torch::equal(logits(model), logits(fresh)));
}

TEST(Lora, AlphaIsSavedAsGiven) {
  // alpha / r * r is not alpha for every pair (1 / 49 * 49 = 0.9999999999999999): the
  // config must hold alpha itself, or a reload scales the adapters differently.
  TempDir dir("lora_alpha");
  Transformer model = tiny_model(model_test::qwen2_config_json(), 5);
  ASSERT_NE(1.0 / 49.0 * 49.0, 1.0);
  add_lora(*model, {.rank = 49, .alpha = 1, .target_modules = {"q_proj"}}, 6);
  save_lora(*model, dir.path());
  std::ifstream in(dir.path() / "adapter_config.json");
  EXPECT_EQ(nlohmann::json::parse(in)["lora_alpha"].get<double>(), 1.0);
  EXPECT_EQ(lora_config_of(*model).alpha, 1.0);
}

TEST(Lora, MergeReproducesTheAdaptedModel) {
  Transformer model = tiny_model(model_test::llama_config_json(), 8);
  add_lora(*model, {.rank = 3, .alpha = 6}, 9);
  perturb_adapters(*model, 10);
  const torch::Tensor adapted = logits(model);
  merge_lora(*model);
  EXPECT_TRUE(lora_parameters(*model).empty());
  EXPECT_EQ(model->named_parameters().size(), 2u * 9 + 3);  // the base layout again
  EXPECT_LT((logits(model) - adapted).abs().max().item<double>(), 1e-5);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Lora, ErrorsAreNamed) {
  using disa::test::contains_all;
  using disa::test::input_error_message;
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  EXPECT_TRUE(contains_all(input_error_message([&] { add_lora(*model, {.rank = 0}, 1); }), {"rank", "0"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { add_lora(*model, {.dropout = 1}, 1); }), {"dropout", "1"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { add_lora(*model, {.target_modules = {"qkv"}}, 1); }),
                           {"target_modules", "qkv"}));
  add_lora(*model, {.rank = 2}, 1);
  EXPECT_TRUE(contains_all(input_error_message([&] { add_lora(*model, {.rank = 2}, 1); }), {"already has an adapter"}));

  TempDir dir("lora_bad");
  save_lora(*model, dir.path());
  auto tensors = load_safetensors(dir.path() / "adapter_model.safetensors");
  tensors.erase("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight");
  save_safetensors(dir.path() / "adapter_model.safetensors", tensors);
  Transformer fresh = tiny_model(model_test::qwen2_config_json(), 1);
  EXPECT_TRUE(contains_all(input_error_message([&] { load_lora(*fresh, dir.path()); }),
                           {"missing base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"}));

  // PEFT options that would change the function if ignored are refused by name.
  TempDir peft("lora_peft");
  save_lora(*model, peft.path());
  const auto config_path = peft.path() / "adapter_config.json";
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(config_path));
  for (const auto& [key, value, named] : std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
           {"use_rslora", true, "'use_rslora' = true"},
           {"alpha_pattern", {{"q_proj", 32}}, "'alpha_pattern'"},
           {"rank_pattern", {{"q_proj", 8}}, "'rank_pattern'"},
           {"r", 4.9, "'r' = 4.9: expected an integer"},
           // Each field of the wrong type is named (was "a field has the wrong type").
           {"lora_alpha", "4", "'lora_alpha' = \"4\": expected a number"},
           {"lora_dropout", nullptr, "'lora_dropout' = null: expected a number"},
           {"target_modules", "q_proj", "'target_modules' = \"q_proj\": expected a list of module names"},
           {"r", -2, "rank = -2 must be positive"},
           // alpha / r is inf in float32, and a zero B times inf is NaN in every logit.
           {"lora_alpha", 1e39, "lora_alpha = 1e+39 / r = 2 overflows float32"}}) {
    nlohmann::json changed = good;
    changed[key] = value;
    std::ofstream(config_path) << changed.dump();
    Transformer other = tiny_model(model_test::qwen2_config_json(), 1);
    EXPECT_TRUE(contains_all(input_error_message([&] { load_lora(*other, peft.path()); }), {named})) << key;
  }
  // A rank the small file does not hold is refused before the adapters are allocated
  // ("r": 1000000000 was a 256 GB allocation).
  {
    nlohmann::json changed = good;
    changed["r"] = 1000000000;
    std::ofstream(config_path) << changed.dump();
    Transformer other = tiny_model(model_test::qwen2_config_json(), 1);
    EXPECT_TRUE(contains_all(input_error_message([&] { load_lora(*other, peft.path()); }),
                             {"lora_A.weight is [2, 64], expected [1000000000, 64]"}));
    EXPECT_TRUE(lora_parameters(*other).empty());
  }
  std::ofstream(config_path) << good.dump();
  // Adapter tensors: NaN, and integer dtypes (were loaded silently and scored).
  const auto adapter_path = peft.path() / "adapter_model.safetensors";
  const auto adapter = load_safetensors(adapter_path);
  const std::string b_name = "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight";
  const std::string a_name = "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight";
  auto bad = adapter;
  bad[b_name] = adapter.at(b_name).clone();
  bad[b_name].view({-1})[1] = std::numeric_limits<float>::quiet_NaN();
  bad[a_name] = adapter.at(a_name).to(torch::kInt32);
  save_safetensors(adapter_path, bad);
  {
    Transformer other = tiny_model(model_test::qwen2_config_json(), 1);
    EXPECT_TRUE(contains_all(input_error_message([&] { load_lora(*other, peft.path()); }),
                             {b_name + " has 1 NaN or infinite entries", a_name + " has integer dtype Int"}));
  }
  save_safetensors(adapter_path, adapter);
  // Empty patterns and use_rslora = false are the plain scale: accepted.
  nlohmann::json plain = good;
  plain["use_rslora"] = false;
  plain["alpha_pattern"] = nlohmann::json::object();
  plain["rank_pattern"] = nlohmann::json::object();
  std::ofstream(config_path) << plain.dump();
  Transformer other = tiny_model(model_test::qwen2_config_json(), 1);
  EXPECT_NO_THROW(load_lora(*other, peft.path()));
}

TEST(Lora, RankAboveAProjectionsSmallerSideIsNamed) {
  // The test model: hidden 64, 4 heads of 16, 2 kv heads (k_proj, v_proj: 64 -> 32), MLP 96.
  const ModelConfig config = parse_model_config(model_test::qwen2_config_json());
  EXPECT_EQ(lora_rank_problem(config, {.rank = 32}), "");
  EXPECT_TRUE(
      disa::test::contains_all(lora_rank_problem(config, {.rank = 33}), {"rank = 33", "k_proj", "min(in, out) = 32"}));
  // Past every side, the tightest is named (a rank it suggests must suit every target).
  EXPECT_TRUE(disa::test::contains_all(lora_rank_problem(config, {.rank = 100}), {"k_proj", "use a rank <= 32"}));
  EXPECT_EQ(lora_rank_problem(config, {.rank = 64, .target_modules = {"q_proj", "o_proj"}}), "");
  EXPECT_TRUE(disa::test::contains_all(lora_rank_problem(config, {.rank = 65, .target_modules = {"down_proj"}}),
                                       {"down_proj", "min(in, out) = 64 (64 x 96)"}));
  // The shapes checked are the ones the model builds.
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  for (const auto& [path, proj] : model->projections()) {
    const std::string module = path.substr(path.rfind('.') + 1);
    const ProjectionShape s = projection_shape(config, module);
    EXPECT_EQ(proj->in_features, s.in_features) << path;
    EXPECT_EQ(proj->out_features, s.out_features) << path;
  }
}

}  // namespace
}  // namespace disa::llm

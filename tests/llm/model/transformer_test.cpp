// The transformer (llm/model/transformer.h) against an independent numpy forward pass
// (reference_forward.py), and against itself: KV-cached steps vs full recomputation,
// padded rows vs the same rows alone, save/load round trips, checkpoint errors.
//
// Tolerances (absolute, on logits of size O(1); see tiny_models.h):
//   float32 vs the float64 reference       1e-4  (float32 rounding through 2 layers ~1e-6)
//   bfloat16 weights+activations vs ref    0.1   (bf16 keeps ~3 significant digits per op;
//                                                measured 0.03)
//   cached vs full, padded vs alone        1e-5  (same float32 ops in another order)
//   save -> load                           exact
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <limits>

#include <gtest/gtest.h>

#include "llm/model/kv_cache.h"
#include "llm/model/pretrained.h"
#include "llm/model/scorer.h"
#include "llm/model/transformer.h"
#include "llm/safetensors/safetensors_torch.h"
#include "tests/llm/model/tiny_models.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using model_test::TempDir;
using model_test::tiny_model;

torch::Tensor token_ids(std::int64_t batch, std::int64_t length, std::int64_t vocab, std::uint64_t salt) {
  // Deterministic, varied ids without touching LibTorch's global generator.
  torch::Tensor ids = torch::empty({batch, length}, torch::kInt64);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < length; ++t) ids[b][t] = static_cast<std::int64_t>((b * 31 + t * 17 + salt * 7 + t * t) % vocab);
  }
  return ids;
}

// Runs reference_forward.py on a saved model; empty when python3 or numpy is missing.
std::optional<torch::Tensor> reference_logits(const std::filesystem::path& model_dir, const torch::Tensor& ids,
                                              std::string* skip_reason) {
  const char* python = "/usr/bin/python3";
  if (!std::filesystem::exists(python) || std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    *skip_reason = "needs /usr/bin/python3 with numpy (apt-get install python3-numpy)";
    return std::nullopt;
  }
  nlohmann::json j;
  for (std::int64_t b = 0; b < ids.size(0); ++b) {
    std::vector<std::int64_t> row(ids[b].data_ptr<std::int64_t>(), ids[b].data_ptr<std::int64_t>() + ids.size(1));
    j["input_ids"].push_back(row);
  }
  const std::filesystem::path ids_file = model_dir / "ids.json", out_file = model_dir / "reference.txt";
  std::ofstream(ids_file) << j.dump();
  const std::string command = std::string(python) + " " + DISA_SOURCE_DIR "/tests/llm/model/reference_forward.py " +
                              model_dir.string() + " " + ids_file.string() + " " + out_file.string();
  if (std::system(command.c_str()) != 0) throw std::runtime_error("reference_forward.py failed: " + command);

  std::ifstream in(out_file);
  std::string header;
  std::getline(in, header);
  if (header != "disa-reference-logits v1") throw std::runtime_error("unexpected fixture header: " + header);
  std::int64_t b = 0, t = 0, v = 0;
  in >> b >> t >> v;
  std::vector<double> values(b * t * v);
  for (double& x : values) in >> x;
  if (!in) throw std::runtime_error("truncated fixture " + out_file.string());
  return torch::from_blob(values.data(), {b, t, v}, torch::kFloat64).clone();
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

void expect_matches_reference(const nlohmann::json& config, torch::Dtype dtype, double tolerance) {
  TempDir dir("ref");
  Transformer model = tiny_model(config, 11, dtype);
  save_pretrained(*model, dir.path());
  const torch::Tensor ids = token_ids(2, 12, 97, 3);
  std::string skip;
  const std::optional<torch::Tensor> expected = reference_logits(dir.path(), ids, &skip);
  if (!expected) GTEST_SKIP() << skip;
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model->forward(ids);
  ASSERT_EQ(logits.sizes(), expected->sizes());
  const double err = max_abs_diff(logits, *expected);
  // The logits must be O(1) for an absolute tolerance to mean something.
  EXPECT_GT(expected->abs().max().item<double>(), 0.5);
  std::cout << "max |logit - reference| = " << err << " (" << config["architectures"][0] << ", "
            << torch_dtype_name(dtype) << ")\n";
  ::testing::Test::RecordProperty("max_logit_error", std::to_string(err));
  EXPECT_LT(err, tolerance);
}

TEST(TransformerReference, Qwen2Float32MatchesNumpyForward) {
  expect_matches_reference(model_test::qwen2_config_json(), torch::kFloat32, 1e-4);
}

TEST(TransformerReference, LlamaFloat32MatchesNumpyForward) {
  expect_matches_reference(model_test::llama_config_json(), torch::kFloat32, 1e-4);
}

TEST(TransformerReference, LlamaWithAttentionBiasMatchesNumpyForward) {
  nlohmann::json c = model_test::llama_config_json();
  c["attention_bias"] = true;  // bias on q, k, v and o
  expect_matches_reference(c, torch::kFloat32, 1e-4);
}

TEST(TransformerReference, Qwen2Bfloat16MatchesNumpyForwardLoosely) {
  expect_matches_reference(model_test::qwen2_config_json(), torch::kBFloat16, 0.1);
}

TEST(Transformer, ParameterNamesAreTheHfCheckpointNames) {
  Transformer qwen = tiny_model(model_test::qwen2_config_json(), 1);
  const auto names = qwen->named_parameters().keys();
  const auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  EXPECT_TRUE(has("model.embed_tokens.weight"));
  EXPECT_TRUE(has("model.layers.1.self_attn.q_proj.bias"));
  EXPECT_FALSE(has("model.layers.1.self_attn.o_proj.bias"));
  EXPECT_TRUE(has("model.layers.0.mlp.down_proj.weight"));
  EXPECT_TRUE(has("model.layers.0.post_attention_layernorm.weight"));
  EXPECT_TRUE(has("model.norm.weight"));
  EXPECT_FALSE(has("lm_head.weight"));  // tied
  // 2 layers x (4 projections + 3 qkv biases + 3 MLP + 2 norms) + embedding + final norm
  EXPECT_EQ(names.size(), 2u * 12 + 2);
  Transformer llama = tiny_model(model_test::llama_config_json(), 1);
  EXPECT_EQ(llama->named_parameters().size(), 2u * 9 + 3);
  EXPECT_TRUE(llama->named_parameters().contains("lm_head.weight"));
}

TEST(Transformer, OutputVocabularyIsTheFirstRowsOfTheHead) {
  // Tied (qwen2) and untied (llama) heads: logits over [0, n) are the full logits' first n
  // columns; the scorer refuses an id outside them by name.
  for (const auto& config : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    Transformer model = tiny_model(config, 5);
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = torch::tensor({{3, 14, 15, 92, 65}}, torch::kInt64);
    const torch::Tensor full = model->forward(ids);
    ASSERT_EQ(full.size(-1), 97);
    EXPECT_EQ(model->output_vocabulary(), 97);
    model->set_output_vocabulary(90);
    const torch::Tensor part = model->forward(ids);
    ASSERT_EQ(part.size(-1), 90);
    EXPECT_TRUE(torch::allclose(part, full.narrow(-1, 0, 90), 1e-6, 1e-6));
    // Inputs may still be any embedding row (a prompt is never sampled).
    EXPECT_NO_THROW(model->forward(torch::tensor({{95, 96}}, torch::kInt64)));
    EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { score(*model, {{{1, 2}, {3, 90}}}); }),
                             {"request 0 token 1", "id 90", "output vocabulary [0, 90)"}));
    EXPECT_NO_THROW(score(*model, {{{1, 2}, {3, 89}}}));
    EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { model->set_output_vocabulary(0); }), {"output vocabulary 0"}));
    EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { model->set_output_vocabulary(98); }), {"vocab_size = 97"}));
  }
}

TEST(Transformer, KvCacheStepsEqualFullRecomputation) {
  for (const auto& config : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    Transformer model = tiny_model(config, 5);
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = token_ids(3, 14, 97, 1);
    const torch::Tensor full = model->forward(ids);
    KvCache cache(14);
    const std::int64_t prompt = 5;
    torch::Tensor logits = model->forward(ids.narrow(1, 0, prompt), {}, {}, &cache);
    EXPECT_LT(max_abs_diff(logits, full.narrow(1, 0, prompt)), 1e-5);
    for (std::int64_t t = prompt; t < 14; ++t) {
      logits = model->forward(ids.narrow(1, t, 1), {}, {}, &cache);
      EXPECT_LT(max_abs_diff(logits.select(1, 0), full.select(1, t)), 1e-5) << "step " << t;
    }
    EXPECT_EQ(cache.length(), 14);
    EXPECT_THROW(model->forward(ids.narrow(1, 0, 1), {}, {}, &cache), InputError);  // past capacity
  }
}

TEST(Transformer, LeftPaddedRowEqualsTheRowAlone) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 7);
  torch::NoGradGuard no_grad;
  const torch::Tensor long_row = token_ids(1, 10, 97, 2), short_row = token_ids(1, 6, 97, 9);
  torch::Tensor batch = torch::full({2, 10}, 96, torch::kInt64);
  batch[0] = long_row[0];
  batch[1].narrow(0, 4, 6).copy_(short_row[0]);
  torch::Tensor mask = torch::ones({2, 10}, torch::kInt64);
  mask[1].narrow(0, 0, 4).fill_(0);
  const torch::Tensor padded = model->forward(batch, mask);
  EXPECT_LT(max_abs_diff(padded[0], model->forward(long_row)[0]), 1e-5);
  EXPECT_LT(max_abs_diff(padded[1].narrow(0, 4, 6), model->forward(short_row)[0]), 1e-5);
  EXPECT_TRUE(torch::isfinite(padded).all().item<bool>());  // pad queries stay finite

  // Right padding: the real positions are unaffected by what follows them.
  torch::Tensor right = torch::full({1, 10}, 96, torch::kInt64);
  right[0].narrow(0, 0, 6).copy_(short_row[0]);
  torch::Tensor right_mask = torch::zeros({1, 10}, torch::kInt64);
  right_mask[0].narrow(0, 0, 6).fill_(1);
  EXPECT_LT(max_abs_diff(model->forward(right, right_mask)[0].narrow(0, 0, 6), model->forward(short_row)[0]), 1e-5);
}

TEST(Transformer, LeftPaddedCachedGenerationEqualsRowAlone) {
  Transformer model = tiny_model(model_test::llama_config_json(), 8);
  torch::NoGradGuard no_grad;
  const torch::Tensor row = token_ids(1, 9, 97, 4);
  const torch::Tensor alone = model->forward(row);
  // Prompt of 5 left-padded by 3 in a batch with a full-length neighbour, then 4 cached steps.
  torch::Tensor ids = torch::zeros({2, 8}, torch::kInt64);
  ids[0] = token_ids(1, 8, 97, 6)[0];
  ids[1].narrow(0, 3, 5).copy_(row[0].narrow(0, 0, 5));
  torch::Tensor mask = torch::ones({2, 12}, torch::kInt64);
  mask[1].narrow(0, 0, 3).fill_(0);
  KvCache cache(12);
  torch::Tensor logits = model->forward(ids, mask.narrow(1, 0, 8), {}, &cache);
  EXPECT_LT(max_abs_diff(logits[1].narrow(0, 3, 5), alone[0].narrow(0, 0, 5)), 1e-5);
  for (std::int64_t t = 5; t < 9; ++t) {
    torch::Tensor step = torch::zeros({2, 1}, torch::kInt64);
    step[1][0] = row[0][t];
    const torch::Tensor pos = torch::tensor({{t + 3}, {t}}, torch::kInt64);
    logits = model->forward(step, mask.narrow(1, 0, 8 + t - 4), pos, &cache);
    EXPECT_LT(max_abs_diff(logits[1][0], alone[0][t]), 1e-5) << "step " << t;
  }
}

TEST(Transformer, GradientsReachEveryParameter) {
  Transformer model = tiny_model(model_test::llama_config_json(), 3);
  const torch::Tensor ids = token_ids(2, 8, 97, 5);
  const torch::Tensor logp = torch::log_softmax(model->forward(ids), -1);
  const torch::Tensor loss = -logp.narrow(1, 0, 7).gather(-1, ids.narrow(1, 1, 7).unsqueeze(-1)).mean();
  loss.backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0) << item.key();
  }
}

TEST(Pretrained, SaveLoadRoundTripIsExact) {
  for (const auto& config : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    TempDir dir("roundtrip");
    Transformer a = tiny_model(config, 21);
    save_pretrained(*a, dir.path());
    Transformer b = load_pretrained(dir.path());
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = token_ids(2, 6, 97, 8);
    EXPECT_TRUE(torch::equal(a->forward(ids), b->forward(ids)));
    EXPECT_EQ(to_json(b->config()), to_json(a->config()));
    // A save killed between its two renames leaves its marker: the folder is refused.
    EXPECT_FALSE(std::filesystem::exists(dir.path() / kSaveInProgressMarker));
    std::ofstream(dir.path() / kSaveInProgressMarker) << "";
    EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
                                         {"a save into this folder was interrupted", kSaveInProgressMarker}));
    save_pretrained(*a, dir.path());  // a finished save clears it
    EXPECT_NO_THROW(load_pretrained(dir.path()));
  }
}

TEST(Pretrained, InitRandomIsSeededAndHfLike) {
  const ModelConfig c = parse_model_config(model_test::qwen2_config_json());
  Transformer a = init_random(c, 4), b = init_random(c, 4), other = init_random(c, 5);
  const auto pa = a->named_parameters(), pb = b->named_parameters(), po = other->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  EXPECT_FALSE(torch::equal(pa["model.embed_tokens.weight"], po["model.embed_tokens.weight"]));
  // The n = vocab x hidden entries are N(0, r^2), r = initializer_range: the sample sd has
  // sd r / sqrt(2 (n - 1)) (1.8e-4 for the 97 x 64 table) and the mean sd r / sqrt(n), so
  // 5 of those each: a two-sided false-alarm rate of 5.7e-7 per check (normal limit, exact
  // enough at n ~ 6000). The former tolerance, 0.002, was 11 sd.
  const torch::Tensor embed = pa["model.embed_tokens.weight"];
  const double n = static_cast<double>(embed.numel()), r = c.initializer_range;
  ASSERT_GT(n, 1000) << "the tolerance assumes the normal limit";
  EXPECT_NEAR(embed.std().item<double>(), r, 5 * r / std::sqrt(2 * (n - 1)));
  EXPECT_NEAR(embed.mean().item<double>(), 0.0, 5 * r / std::sqrt(n));
  EXPECT_TRUE(torch::equal(pa["model.norm.weight"], torch::ones({64})));
  EXPECT_TRUE(torch::equal(pa["model.layers.0.self_attn.q_proj.bias"], torch::zeros({64})));
}

TEST(Pretrained, CheckpointErrorsNameTheTensor) {
  TempDir dir("errors");
  Transformer model = tiny_model(model_test::llama_config_json(), 2);
  save_pretrained(*model, dir.path());
  const auto file = dir.path() / "model.safetensors";
  const std::map<std::string, torch::Tensor> good = load_safetensors(file);

  auto broken = good;
  broken.erase("model.layers.1.mlp.up_proj.weight");
  save_safetensors(file, broken);
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
                                 {"missing tensors", "model.layers.1.mlp.up_proj.weight"}));

  broken = good;
  broken["model.layers.0.self_attn.q_proj.bias"] = torch::zeros({64});  // Llama without attention_bias
  save_safetensors(file, broken);
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
                                 {"unexpected tensors", "model.layers.0.self_attn.q_proj.bias"}));

  broken = good;
  broken["model.norm.weight"] = torch::ones({65});
  save_safetensors(file, broken);
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
                                 {"model.norm.weight", "[65]", "[64]"}));

  // A non-finite weight makes every logit NaN: refused at load, naming the tensor.
  broken = good;
  broken["model.layers.1.mlp.down_proj.weight"] = good.at("model.layers.1.mlp.down_proj.weight").clone();
  broken["model.layers.1.mlp.down_proj.weight"].view({-1})[3] = std::numeric_limits<float>::quiet_NaN();
  broken["model.norm.weight"] = good.at("model.norm.weight").clone();
  broken["model.norm.weight"][0] = std::numeric_limits<float>::infinity();
  save_safetensors(file, broken);
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
      {"'model.layers.1.mlp.down_proj.weight' has 1 NaN or infinite", "'model.norm.weight' has 1 NaN or infinite"}));

  // Finite in the file, infinite in the dtype the model runs in: checked after conversion.
  broken = good;
  broken["model.norm.weight"] = good.at("model.norm.weight").to(torch::kFloat64);
  broken["model.norm.weight"][0] = 1e300;
  save_safetensors(file, broken);
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { load_pretrained(dir.path()); }),
                                       {"'model.norm.weight' has 1 entries that overflow Float", "as Double"}));

  // Names from the file are quoted: control bytes escaped, a long name cut.
  broken = good;
  broken["evil\n\x1b[31m" + std::string(500, 'A')] = torch::zeros({1});
  save_safetensors(file, broken);
  const std::string message = disa::test::input_error_message([&] { load_pretrained(dir.path()); });
  EXPECT_TRUE(disa::test::contains_all(message, {"unexpected tensors: 'evil\\x0A\\x1B[31mAAA", "(510 bytes)"}));
  EXPECT_LT(message.size(), 400u);
}

TEST(Pretrained, ParameterCountIsWhatTheModelHolds) {
  for (nlohmann::json config : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    for (const bool tied : {true, false}) {
      config["tie_word_embeddings"] = tied;
      config["attention_bias"] = !tied;  // Llama: q/k/v/o biases (Qwen2 ignores it: q/k/v always)
      const ModelConfig c = parse_model_config(config);
      Transformer model(c, torch::kFloat32);
      std::uint64_t held = 0;
      for (const torch::Tensor& p : model->parameters()) held += static_cast<std::uint64_t>(p.numel());
      EXPECT_EQ(parameter_count(c), held) << config.dump();
    }
  }
}

TEST(Pretrained, AConfigTooLargeForMemoryIsRefusedBeforeAllocating) {
  // A 600-byte config.json asked for 768 GB and failed in the allocator with a backtrace.
  nlohmann::json config = model_test::qwen2_config_json();
  config["vocab_size"] = 3000000000;
  config["eos_token_id"] = 1;
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] { Transformer(parse_model_config(config), torch::kFloat32); }),
      {"vocab_size = 3000000000", "GB as float32, above this machine's"}));
  config = model_test::qwen2_config_json();
  config["head_dim"] = std::int64_t{1} << 61;
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] { Transformer(parse_model_config(config), torch::kFloat32); }),
      {"head_dim = 2305843009213693952", "overflows 64 bits"}));
  config = model_test::qwen2_config_json();
  config["intermediate_size"] = std::int64_t{1} << 62;
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] { Transformer(parse_model_config(config), torch::kFloat32); }),
      {"intermediate_size = 4611686018427387904", "parameter count overflows 64 bits"}));
}

TEST(Pretrained, AnInitializerRangeThatOverflowsTheDtypeIsNamed) {
  nlohmann::json config = model_test::qwen2_config_json();
  config["initializer_range"] = 1e39;  // finite as a double, inf as float32
  EXPECT_TRUE(
      disa::test::contains_all(disa::test::input_error_message([&] { init_random(parse_model_config(config), 1); }),
                               {"initializer_range = 1e+39", "infinite entries"}));
}

TEST(Transformer, BadInputsAreNamed) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { model->forward(torch::full({1, 3}, 97, torch::kInt64)); }),
                                 {"input_ids", "97", "vocab_size"}));
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] { model->forward(torch::zeros({1, 3}, torch::kInt64), torch::ones({1, 4})); }),
      {"attention_mask"}));
  EXPECT_TRUE(disa::test::contains_all(disa::test::input_error_message([&] { model->forward(torch::zeros({3}, torch::kInt64)); }),
                                 {"input_ids"}));
}

}  // namespace
}  // namespace disa::llm

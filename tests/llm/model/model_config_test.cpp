// config.json parsing (llm/model/model_config.h): every rejection names its field and
// value; defaults and architecture rules follow Hugging Face.
#include <fstream>

#include <gtest/gtest.h>

#include "llm/model/model_config.h"
#include "tests/llm/model/temp_dir.h"
#include "tests/llm/model/tiny_configs.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using disa::test::contains_all;
using disa::test::input_error_message;

std::string error_with(const std::string& field, const nlohmann::json& value,
                       nlohmann::json base = model_test::qwen2_config_json()) {
  if (value.is_discarded()) {
    base.erase(field);
  } else {
    base[field] = value;
  }
  return input_error_message([&] { parse_model_config(base, "cfg.json"); });
}

const nlohmann::json kRemove = nlohmann::json(nlohmann::json::value_t::discarded);

TEST(ModelConfig, ParsesQwen2WithHfRules) {
  const ModelConfig c = parse_model_config(model_test::qwen2_config_json());
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_EQ(c.head_dim, 16);  // hidden_size / num_attention_heads
  EXPECT_EQ(c.kv_groups(), 2);
  EXPECT_TRUE(c.qkv_bias);   // Qwen2 always
  EXPECT_FALSE(c.o_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, std::vector<std::int64_t>{96});
}

TEST(ModelConfig, LlamaAttentionBiasCoversAllFourProjections) {
  nlohmann::json j = model_test::llama_config_json();
  EXPECT_FALSE(parse_model_config(j).qkv_bias);
  j["attention_bias"] = true;
  const ModelConfig c = parse_model_config(j);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_TRUE(c.o_bias);
}

TEST(ModelConfig, OptionalFieldsTakeHfDefaults) {
  nlohmann::json j = model_test::qwen2_config_json();
  j.erase("num_key_value_heads");
  j.erase("rope_theta");
  j["head_dim"] = 32;  // explicit head_dim wins over hidden / heads
  j["eos_token_id"] = {5, 7};
  const ModelConfig c = parse_model_config(j);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.eos_token_ids, (std::vector<std::int64_t>{5, 7}));
}

TEST(ModelConfig, RoundTripsThroughJson) {
  for (const auto& j : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    const ModelConfig a = parse_model_config(j);
    const ModelConfig b = parse_model_config(nlohmann::json::parse(to_json(a).dump()));
    EXPECT_EQ(to_json(a), to_json(b));
    EXPECT_EQ(b.qkv_bias, a.qkv_bias);
    EXPECT_EQ(b.head_dim, a.head_dim);
  }
}

TEST(ModelConfig, ReadsTransformersFiveRopeParameters) {
  // transformers >= 5 moves rope_theta into rope_parameters (Qwen2.5: 1e6).
  nlohmann::json j = model_test::qwen2_config_json();
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  EXPECT_EQ(parse_model_config(j).rope_theta, 1e6);
  j["rope_theta"] = 1e6;  // both forms, agreeing
  EXPECT_EQ(parse_model_config(j).rope_theta, 1e6);
  j["rope_theta"] = 1e4;
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_model_config(j, "cfg.json"); }),
                           {"rope_theta", "disagrees", "1000000"}));
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e6}, {"factor", 4.0}};
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_model_config(j, "cfg.json"); }), {"rope_parameters"}));
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e6}};
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_model_config(j, "cfg.json"); }),
                           {"rope_parameters", "rope_type", "yarn"}));
  j["rope_parameters"] = {{"rope_type", "default"}};
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_model_config(j, "cfg.json"); }), {"rope_theta", "missing"}));
  j["rope_parameters"] = 1e6;
  EXPECT_TRUE(contains_all(input_error_message([&] { parse_model_config(j, "cfg.json"); }),
                           {"rope_parameters", "object"}));
}

TEST(ModelConfig, DefaultConfigIsAConsistentQwen2) {
  const ModelConfig c;
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
}

TEST(ModelConfig, ErrorsNameFieldAndValue) {
  EXPECT_TRUE(contains_all(error_with("hidden_size", kRemove), {"cfg.json", "hidden_size", "missing"}));
  EXPECT_TRUE(contains_all(error_with("hidden_size", -64), {"hidden_size", "-64", "positive"}));
  EXPECT_TRUE(contains_all(error_with("vocab_size", "97"), {"vocab_size", "\"97\""}));
  EXPECT_TRUE(contains_all(error_with("num_key_value_heads", 3), {"num_key_value_heads", "3", "divide"}));
  EXPECT_TRUE(contains_all(error_with("architectures", {"GPT2LMHeadModel"}), {"architectures", "GPT2LMHeadModel"}));
  EXPECT_TRUE(contains_all(error_with("architectures", kRemove), {"architectures", "missing"}));
  EXPECT_TRUE(contains_all(error_with("rope_scaling", {{"type", "yarn"}}), {"rope_scaling", "yarn"}));
  EXPECT_TRUE(contains_all(error_with("torch_dtype", "int8"), {"torch_dtype", "int8"}));
  EXPECT_TRUE(contains_all(error_with("eos_token_id", 97), {"eos_token_id", "97", "vocab_size"}));
  EXPECT_TRUE(contains_all(error_with("rms_norm_eps", 0), {"rms_norm_eps", "0"}));
  EXPECT_TRUE(contains_all(error_with("rms_norm_eps", kRemove), {"rms_norm_eps", "missing"}));
  EXPECT_TRUE(contains_all(error_with("head_dim", 15), {"head_dim", "even"}));
  EXPECT_TRUE(contains_all(error_with("hidden_act", "gelu"), {"hidden_act", "gelu"}));
  EXPECT_TRUE(contains_all(error_with("use_sliding_window", true), {"use_sliding_window"}));
  EXPECT_TRUE(contains_all(error_with("tie_word_embeddings", 1), {"tie_word_embeddings", "true or false"}));
  EXPECT_TRUE(contains_all(error_with("mlp_bias", true, model_test::llama_config_json()), {"mlp_bias"}));
  EXPECT_TRUE(contains_all(error_with("max_position_embeddings", kRemove), {"max_position_embeddings"}));
  // Positive as a double, 0 as the float32 the angles are computed in: every logit NaN.
  EXPECT_TRUE(contains_all(error_with("rope_theta", 1e-50), {"rope_theta", "1e-50", "must be above 1"}));
  EXPECT_TRUE(contains_all(error_with("rope_theta", 1), {"rope_theta", "must be above 1"}));
}

TEST(ModelConfig, NoOpSpellingsOfRopeScalingAndSiluAreAccepted) {
  // HF reads rope_scaling {"rope_type": "default"} as no scaling and hidden_act "swish" as
  // SiLU; refusing them refused loadable models. Anything else stays refused by name.
  for (const nlohmann::json& scaling : {nlohmann::json{{"rope_type", "default"}}, nlohmann::json{{"type", "default"}}}) {
    nlohmann::json j = model_test::qwen2_config_json();
    j["rope_scaling"] = scaling;
    EXPECT_EQ(parse_model_config(j).rope_theta, parse_model_config(model_test::qwen2_config_json()).rope_theta);
  }
  EXPECT_TRUE(contains_all(error_with("rope_scaling", {{"rope_type", "default"}, {"factor", 4.0}}), {"rope_scaling"}));
  EXPECT_TRUE(contains_all(error_with("rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}), {"rope_scaling"}));
  nlohmann::json j = model_test::qwen2_config_json();
  j["hidden_act"] = "swish";
  EXPECT_NO_THROW(parse_model_config(j));
}

TEST(ModelConfig, LoadNamesTheFile) {
  EXPECT_TRUE(contains_all(input_error_message([] { load_model_config("/nonexistent/dir/config.json"); }),
                           {"/nonexistent/dir/config.json"}));
  model_test::TempDir dir("cfg");
  std::ofstream(dir.path() / "config.json") << "{not json";
  EXPECT_TRUE(contains_all(input_error_message([&] { load_model_config(dir.path()); }), {"config.json", "JSON"}));
}

TEST(ModelConfig, StopIdsAreTheUnionWithGenerationConfig) {
  const ModelConfig c = parse_model_config(model_test::qwen2_config_json());  // eos_token_id 96
  model_test::TempDir dir("gen");
  // Without generation_config.json: config.json's and the tokenizer's, sorted, once each.
  EXPECT_TRUE(load_generation_eos_token_ids(dir.path(), c).empty());
  EXPECT_EQ(stop_token_ids(dir.path(), c, 96), std::vector<std::int32_t>{96});
  EXPECT_EQ(stop_token_ids(dir.path(), c, std::nullopt), std::vector<std::int32_t>{96});
  // An int or a list, as HF writes either (Qwen2.5-Instruct: [151645, 151643]).
  std::ofstream(dir.path() / "generation_config.json") << R"({"eos_token_id": 7, "temperature": 0.7})";
  EXPECT_EQ(load_generation_eos_token_ids(dir.path(), c), std::vector<std::int64_t>{7});
  std::ofstream(dir.path() / "generation_config.json") << R"({"eos_token_id": [95, 3, 96]})";
  EXPECT_EQ(stop_token_ids(dir.path(), c, 50), (std::vector<std::int32_t>{3, 50, 95, 96}));
  std::ofstream(dir.path() / "generation_config.json") << R"({"do_sample": true})";
  EXPECT_EQ(stop_token_ids(dir.path(), c, std::nullopt), std::vector<std::int32_t>{96});
  // Errors name the file, the field and the value.
  std::ofstream(dir.path() / "generation_config.json") << R"({"eos_token_id": [1, 97]})";
  EXPECT_TRUE(contains_all(input_error_message([&] { stop_token_ids(dir.path(), c, 96); }),
                           {"generation_config.json", "'eos_token_id' = [1,97]", "vocab_size = 97"}));
  std::ofstream(dir.path() / "generation_config.json") << R"({"eos_token_id": "<|im_end|>"})";
  EXPECT_TRUE(contains_all(input_error_message([&] { stop_token_ids(dir.path(), c, 96); }),
                           {"generation_config.json", "eos_token_id", "<|im_end|>"}));
  // A key given twice: which one HF meant is unknowable, so refused (src/json_strict.h).
  std::ofstream(dir.path() / "generation_config.json") << R"({"eos_token_id": 3, "eos_token_id": 95})";
  EXPECT_TRUE(contains_all(input_error_message([&] { stop_token_ids(dir.path(), c, 96); }),
                           {"generation_config.json", "\"eos_token_id\" is given twice"}));
  std::ofstream(dir.path() / "generation_config.json") << "{not json";
  EXPECT_TRUE(contains_all(input_error_message([&] { stop_token_ids(dir.path(), c, 96); }),
                           {"generation_config.json", "JSON"}));
}

}  // namespace
}  // namespace disa::llm

// A byte-level tokenizer with a gap in its ids (the loader accepts one: ids index dense
// tables up to the file's count + 65536) beside a model: the model's logits cover every id
// below the tokenizer's size, so `disa llm sample` drew an id in the gap and then failed to
// decode it ("token id 388 is not in the vocabulary (ids 0..400)"), writing nothing. The
// model's output vocabulary is now refused up front (llm/pipeline/loaded_model.cpp,
// match_output_vocabulary), naming the first missing id, and `llm init --tokenizer` refuses
// it before writing. Runs build/bin/disa.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/llm/model/tiny_configs.h"
#include "tests/llm/tokenizer/mini_tokenizer.h"
#include "tests/util/cli_harness.h"

namespace disa::llm {
namespace {

using disa::test::expect_rejected;
using disa::test::run_disa;

class GapTokenizerModelCli : public disa::test::CliDirTest {
 protected:
  // A model folder NAME whose tokenizer is the mini one (ids 0..264 and 300..302) with
  // <|endoftext|> moved to `end_of_text_id`, and config vocab_size end_of_text_id + 1.
  std::string init(const std::string& name, int end_of_text_id) {
    nlohmann::json tokenizer = test::mini_tokenizer_json();
    tokenizer["added_tokens"][2]["id"] = end_of_text_id;
    std::filesystem::create_directories(path(name + "-tokenizer"));
    std::ofstream(path(name + "-tokenizer/tokenizer.json")) << tokenizer.dump();
    nlohmann::json config = model_test::qwen2_config_json();
    config["vocab_size"] = end_of_text_id + 1;
    config["eos_token_id"] = end_of_text_id;
    std::ofstream(path(name + ".json")) << config.dump();
    // llm init refuses such a tokenizer (below); a folder made elsewhere gets it beside the weights.
    const auto refused = run_disa("llm init --config " + path(name + ".json") + " --out " + path(name + "-refused") +
                                  " --seed 1 --tokenizer " + path(name + "-tokenizer/tokenizer.json"));
    expect_rejected(refused, "--tokenizer: model '" + path(name + "-refused") + "': its tokenizer defines no token");
    EXPECT_FALSE(std::filesystem::exists(path(name + "-refused/model.safetensors")));
    const auto r = run_disa("llm init --config " + path(name + ".json") + " --out " + path(name) + " --seed 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::filesystem::copy_file(path(name + "-tokenizer/tokenizer.json"), path(name + "/tokenizer.json"));
    return path(name);
  }
};

TEST_F(GapTokenizerModelCli, SampleRefusesATokenizerWithAGapNamingTheFirstMissingId) {
  std::ofstream(path("prompts.jsonl")) << "\"hello world\"\n";
  const std::string sample = " --prompts " + path("prompts.jsonl") + " --max-new-tokens 20 --out ";
  // The control: the mini tokenizer has a gap of its own (265..299, its added tokens are at
  // 300..302), so here they are numbered 265..267 and the ids are dense.
  nlohmann::json dense = test::mini_tokenizer_json();
  for (int k = 0; k < 3; ++k) dense["added_tokens"][k]["id"] = 265 + k;
  std::filesystem::create_directories(path("dense-tokenizer"));
  std::ofstream(path("dense-tokenizer/tokenizer.json")) << dense.dump();
  nlohmann::json config = model_test::qwen2_config_json();
  config["vocab_size"] = 268;
  config["eos_token_id"] = 267;
  std::ofstream(path("dense.json")) << config.dump();
  auto r = run_disa("llm init --config " + path("dense.json") + " --out " + path("dense") + " --seed 1 --tokenizer " +
                    path("dense-tokenizer/tokenizer.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_disa("llm sample --model " + path("dense") + sample + path("dense.jsonl"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(path("dense.jsonl")));

  // The reviewer's case: <|endoftext|> moved from 302 to 400, so 302..399 are undefined too.
  const std::string gap = init("gap", 400);
  r = run_disa("llm sample --model " + gap + sample + path("gap.jsonl"));
  expect_rejected(r, "model '" + gap + "': its tokenizer defines no token for id 265");
  EXPECT_NE(r.output.find("133 of its ids 0..400 are undefined, the first run 265..299"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("is not in the vocabulary"), std::string::npos) << r.output;
  r = run_disa("llm score --model " + gap + " --input " + path("prompts.jsonl") + " --out " + path("score.jsonl"));
  expect_rejected(r, "defines no token for id 265");
}

}  // namespace
}  // namespace disa::llm

// disa llm init | sample | score end to end (src/cli/llm_model_commands.cpp): a random
// model with a character-level tokenizer, text prompts, outputs that do not depend on
// --batch-size, scores of a sample file equal to the sampler's log-probs, named errors.
// Runs build/bin/disa (test::disa_binary()).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/llm/model/tiny_configs.h"
#include "tests/util/cli_harness.h"

namespace disa::llm {
namespace {

using disa::test::run_disa;

const std::string kCharacters = "abcdefghijklmnopqrstuvwxyz .,!?";  // 31 ids, then <|im_end|> = 31

class LlmModelCli : public disa::test::CliDirTest {
 protected:
  void SetUp() override {
    CliDirTest::SetUp();
    nlohmann::json vocab = nlohmann::json::object();
    for (std::size_t i = 0; i < kCharacters.size(); ++i) vocab[std::string(1, kCharacters[i])] = i;
    const nlohmann::json tokenizer = {
        {"version", "1.0"},
        {"added_tokens", {{{"id", 31}, {"content", "<|im_end|>"}, {"special", true}}}},
        {"model", {{"type", "disa-char"}, {"vocab", vocab}, {"eos_token", "<|im_end|>"}}}};
    std::ofstream(path("tokenizer.json")) << tokenizer.dump();
    nlohmann::json config = model_test::qwen2_config_json();
    config["vocab_size"] = 32;
    config["eos_token_id"] = 31;
    std::ofstream(path("config.json")) << config.dump();
    std::ofstream(path("prompts.jsonl")) << "\"hello there\"\n{\"prompt\": \"abc\"}\n{\"prompt_ids\": [3, 4, 5, 6]}\n";
    const auto r = run_disa("llm init --config " + path("config.json") + " --out " + path("model") +
                            " --seed 3 --tokenizer " + path("tokenizer.json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::vector<nlohmann::json> read_lines(const std::string& name) const {
    std::ifstream in(path(name));
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  // `sample` (an `llm sample` command without --batch-size/--out) run at batch sizes 1 and
  // `batch` into NAME-1.jsonl and NAME-<batch>.jsonl: `rows` rows each, with the same tokens.
  std::pair<std::vector<nlohmann::json>, std::vector<nlohmann::json>> expect_tokens_independent_of_batch(
      const std::string& sample, int batch, std::size_t rows, const std::string& name) {
    const std::string one = name + "-1.jsonl", many = name + "-" + std::to_string(batch) + ".jsonl";
    auto r = run_disa(sample + " --batch-size 1 --out " + path(one));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run_disa(sample + " --batch-size " + std::to_string(batch) + " --out " + path(many));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto a = read_lines(one), b = read_lines(many);
    EXPECT_EQ(a.size(), rows);
    EXPECT_EQ(b.size(), rows);
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) EXPECT_EQ(a[i]["token_ids"], b[i]["token_ids"]) << "row " << i;
    return {std::move(a), std::move(b)};
  }
};

TEST_F(LlmModelCli, SampleIsIndependentOfBatchSizeAndScoresMatch) {
  const std::string common = "llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                             " --temperature 0.9 --top-p 0.95 --max-new-tokens 12 --seed 4 --samples-per-prompt 2";
  const auto [a, b] = expect_tokens_independent_of_batch(common, 4, 6, "ab");
  ASSERT_FALSE(HasFailure());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["text"], b[i]["text"]) << i;
  EXPECT_EQ(a[0]["prompt"], "hello there");
  EXPECT_EQ(a[2]["prompt_ids"], (nlohmann::json{0, 1, 2}));  // "abc"
  EXPECT_TRUE(a[4]["prompt"].is_null());
  EXPECT_NE(a[0]["token_ids"], a[1]["token_ids"]);  // two samples of one prompt differ

  auto r = run_disa("llm score --model " + path("model") + " --input " + path("ab-1.jsonl") + " --out " + path("s.jsonl") +
               " --batch-size 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto scored = read_lines("s.jsonl");
  ASSERT_EQ(scored.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& expected = a[i]["logprobs"];
    const auto& got = scored[i]["logprobs"];
    ASSERT_EQ(got.size(), expected.size());
    double sum = 0;
    for (std::size_t t = 0; t < got.size(); ++t) {
      EXPECT_NEAR(got[t].get<double>(), expected[t].get<double>(), 2e-5);
      sum += got[t].get<double>();
    }
    EXPECT_NEAR(scored[i]["sum_logprob"].get<double>(), sum, 1e-4);
  }
}

// A line with both text and ids is scored by its ids, as sample reads prompt_ids before
// prompt; sample's help said so, score's did not.
TEST_F(LlmModelCli, ScoreScoresTheIdsWhenALineAlsoHasText) {
  std::ofstream(path("both.jsonl")) << "{\"prompt\": \"abc\", \"prompt_ids\": [3, 4], \"completion\": \"hello\", "
                                       "\"token_ids\": [5, 6, 7]}\n";
  auto r = run_disa("llm score --model " + path("model") + " --input " + path("both.jsonl") + " --out " +
                    path("both_scored.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto scored = read_lines("both_scored.jsonl");
  ASSERT_EQ(scored.size(), 1u);
  EXPECT_EQ(scored[0]["logprobs"].size(), 3u);  // token_ids [5, 6, 7], not the 5 characters of "hello"
  r = run_disa("llm score --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("completion or token_ids (the ids win when both are given"), std::string::npos) << r.output;
  r = run_disa("llm sample --help");
  EXPECT_NE(r.output.find("(the ids win when both are given)"), std::string::npos) << r.output;
}

TEST_F(LlmModelCli, StopStringsEndTheText) {
  const auto r = run_disa("llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                          " --temperature 0 --max-new-tokens 40 --stop a --stop e --out " + path("stop.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& line : read_lines("stop.jsonl")) {
    std::string text = line["text"];
    if (line["finish_reason"] == "eos") text.resize(text.size() - std::string("<|im_end|>").size());
    if (line["finish_reason"] == "stop") {
      EXPECT_TRUE(text.back() == 'a' || text.back() == 'e') << text;
      EXPECT_EQ(text.find_first_of("ae"), text.size() - 1) << text;
    } else {
      EXPECT_EQ(text.find_first_of("ae"), std::string::npos) << text;
    }
  }
}

TEST_F(LlmModelCli, ABf16CheckpointSamplesTheSameTokensAtEveryBatchSize) {
  // A bfloat16 checkpoint runs in float32 unless --dtype says otherwise: in bf16 the
  // padding of a batch moves activations by whole bf16 steps, and 3 of these 32 rows
  // sampled differently at --batch-size 1 and 32 when the model ran in its stored dtype.
  nlohmann::json config = model_test::qwen2_config_json();
  config["vocab_size"] = 512;
  config["hidden_size"] = 128;
  config["intermediate_size"] = 256;
  config["rope_theta"] = 1000000.0;
  config["eos_token_id"] = 511;
  std::ofstream(path("config16.json")) << config.dump();
  auto r = run_disa("llm init --config " + path("config16.json") + " --out " + path("m16") +
                    " --seed 1 --dtype bfloat16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  {
    std::ofstream prompts(path("prompts16.jsonl"));
    for (int i = 0; i < 32; ++i) {  // lengths 3..42 in a batch: every row is padded differently
      nlohmann::json ids = nlohmann::json::array();
      for (int j = 0; j < 3 + (7 * i) % 40; ++j) ids.push_back((31 * i + 17 * j) % 500);
      prompts << nlohmann::json{{"prompt_ids", ids}}.dump() << "\n";
    }
  }
  const std::string common = "llm sample --model " + path("m16") + " --prompts " + path("prompts16.jsonl") +
                             " --max-new-tokens 32 --seed 0";
  expect_tokens_independent_of_batch(common, 32, 32, "s");
  ASSERT_FALSE(HasFailure());
  // Scores too: the same rows scored in batches of 1 and 32 agree to float32 rounding.
  r = run_disa("llm score --model " + path("m16") + " --input " + path("s-1.jsonl") + " --out " + path("c1.jsonl") +
               " --batch-size 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_disa("llm score --model " + path("m16") + " --input " + path("s-1.jsonl") + " --out " + path("c32.jsonl") +
               " --batch-size 32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto c1 = read_lines("c1.jsonl"), c32 = read_lines("c32.jsonl");
  ASSERT_EQ(c1.size(), 32u);
  for (std::size_t i = 0; i < c1.size(); ++i) {
    EXPECT_NEAR(c1[i]["sum_logprob"].get<double>(), c32[i]["sum_logprob"].get<double>(), 1e-3) << "row " << i;
  }
  // bfloat16 on request (its tokens may depend on the batch, so only that it runs);
  // another dtype is refused by name.
  r = run_disa(common + " --batch-size 32 --dtype bfloat16 --out " + path("b16.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_lines("b16.jsonl").size(), 32u);
  disa::test::expect_rejected(run_disa(common + " --dtype float16 --out " + path("x.jsonl")), "--dtype = float16");
  disa::test::expect_rejected(run_disa("llm score --model " + path("m16") + " --input " + path("s-1.jsonl") +
                                       " --out " + path("x.jsonl") + " --dtype int8"),
                              "--dtype = int8");
}

TEST_F(LlmModelCli, SamplingStopsAtGenerationConfigEosIds) {
  // HF generate() stops at generation_config.json's eos_token_id, which for Qwen2.5/Qwen3
  // instruct names <|endoftext|> besides config.json's <|im_end|>.
  const std::string common = "llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                             " --temperature 0 --max-new-tokens 12";
  auto r = run_disa(common + " --out " + path("plain.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto plain = read_lines("plain.jsonl");
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_GT(plain[0]["token_ids"].size(), 1u);
  const int extra = plain[0]["token_ids"][0];  // greedy: prompt 0's first token is this again
  ASSERT_NE(extra, 31);
  std::ofstream(path("model/generation_config.json")) << nlohmann::json{{"eos_token_id", {31, extra}}}.dump();
  r = run_disa(common + " --out " + path("stopped.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto stopped = read_lines("stopped.jsonl");
  ASSERT_EQ(stopped.size(), 3u);
  EXPECT_EQ(stopped[0]["token_ids"], nlohmann::json::array({extra}));
  EXPECT_EQ(stopped[0]["finish_reason"], "eos");
  for (const auto& line : stopped) {  // each row is the plain one cut at its first stop id
    const auto& ids = line["token_ids"];
    for (std::size_t t = 0; t + 1 < ids.size(); ++t) EXPECT_NE(ids[t], extra) << line.dump();
  }
  // A bad generation_config.json is named with its field and value.
  std::ofstream(path("model/generation_config.json")) << R"({"eos_token_id": [31, 40]})";
  disa::test::expect_rejected(run_disa(common + " --out " + path("x.jsonl")), "generation_config.json");
  const auto bad = run_disa(common + " --out " + path("x.jsonl"));
  EXPECT_NE(bad.output.find("eos_token_id"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("[31,40]"), std::string::npos) << bad.output;
}

// An --out naming the input file (--prompts of sample, --input of score) was renamed over
// it once the model had run, exit 0: the prompts were gone.
TEST_F(LlmModelCli, AnOutThatIsTheInputIsRefusedAndTheInputKept) {
  const std::string prompts = path("prompts.jsonl");
  std::ifstream before(prompts);
  const std::string text((std::istreambuf_iterator<char>(before)), {});
  disa::test::expect_rejected(
      run_disa("llm sample --model " + path("model") + " --prompts " + prompts + " --out " + prompts),
      "--out: '" + prompts + "' is the same file as --prompts '" + prompts + "'");
  disa::test::expect_rejected(
      run_disa("llm score --model " + path("model") + " --input " + prompts + " --out " + prompts),
      "--out: '" + prompts + "' is the same file as --input '" + prompts + "'");
  std::ifstream after(prompts);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(after)), {}), text);
}

// init over a trained model replaced its weights with random ones (its other files kept),
// and a bad --tokenizer was found only after the weights were saved: a half-made folder.
TEST_F(LlmModelCli, InitKeepsAnExistingModelAndChecksTheTokenizerFirst) {
  const std::string init = "llm init --config " + path("config.json") + " --seed 5 --out ";
  std::ifstream before(path("model/model.safetensors"), std::ios::binary);
  const std::string weights((std::istreambuf_iterator<char>(before)), {});
  disa::test::expect_rejected(run_disa(init + path("model")),
                              "--out: '" + path("model") + "' already holds a model (model.safetensors)");
  std::ifstream kept(path("model/model.safetensors"), std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(kept)), {}), weights);
  const auto forced = run_disa(init + path("model") + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  std::ifstream replaced(path("model/model.safetensors"), std::ios::binary);
  EXPECT_NE(std::string((std::istreambuf_iterator<char>(replaced)), {}), weights);
  // A sharded model has no model.safetensors: its config.json was replaced and the new
  // file shadowed its shards.
  std::filesystem::create_directories(path("sharded"));
  std::ofstream(path("sharded/config.json")) << "{}";
  disa::test::expect_rejected(run_disa(init + path("sharded")),
                              "--out: '" + path("sharded") + "' already holds a model (config.json)");
  std::ofstream(path("sharded/model.safetensors.index.json")) << "{}";
  disa::test::expect_rejected(run_disa(init + path("sharded") + " --force"), "holds a sharded model");
  std::ifstream config_kept(path("sharded/config.json"));
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(config_kept)), {}), "{}");

  std::ofstream(path("bad_tokenizer.json")) << "{}";
  const auto bad = run_disa(init + path("fresh") + " --tokenizer " + path("bad_tokenizer.json"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--tokenizer"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(path("fresh")));
  // A file as --out: named, not a raw filesystem error.
  disa::test::expect_rejected(run_disa(init + path("config.json")),
                              "--out: '" + path("config.json") + "' is a file, not a folder");
}

// A folder as --prompts or --input was read as an empty file ("has no lines").
TEST_F(LlmModelCli, AFolderGivenAsAnInputFileIsNamed) {
  disa::test::expect_rejected(
      run_disa("llm sample --model " + path("model") + " --prompts " + dir_.string() + " --out " + path("x.jsonl")),
      "--prompts: '" + dir_.string() + "' is a folder, not a file");
  disa::test::expect_rejected(
      run_disa("llm score --model " + path("model") + " --input " + dir_.string() + " --out " + path("x.jsonl")),
      "--input: '" + dir_.string() + "' is a folder, not a file");
}

TEST_F(LlmModelCli, BadInputsAreRejectedWithTheirNames) {
  nlohmann::json config = model_test::qwen2_config_json();
  config["num_key_value_heads"] = 3;
  std::ofstream(path("bad.json")) << config.dump();
  disa::test::expect_rejected(run_disa("llm init --config " + path("bad.json") + " --out " + path("m2") + " --seed 1"),
                              "num_key_value_heads");
  // Refused while the weights are made: the folders made for --out go again (an empty
  // --out was left behind); a folder that existed before stays.
  config = model_test::qwen2_config_json();
  config["initializer_range"] = 1e39;  // finite as a double, inf as float32
  std::ofstream(path("overflow.json")) << config.dump();
  disa::test::expect_rejected(
      run_disa("llm init --config " + path("overflow.json") + " --out " + path("made/for/m3") + " --seed 1"),
      "initializer_range = 1e+39");
  EXPECT_FALSE(std::filesystem::exists(path("made")));
  std::filesystem::create_directories(path("there"));
  disa::test::expect_rejected(
      run_disa("llm init --config " + path("overflow.json") + " --out " + path("there/m3") + " --seed 1"),
      "initializer_range = 1e+39");
  EXPECT_TRUE(std::filesystem::is_directory(path("there")));
  EXPECT_FALSE(std::filesystem::exists(path("there/m3")));
  std::ofstream(path("bad_prompts.jsonl")) << "\"HELLO\"\n";
  disa::test::expect_rejected(run_disa("llm sample --model " + path("model") + " --prompts " +
                                       path("bad_prompts.jsonl") + " --out " + path("x.jsonl")),
                              "line 1");
  disa::test::expect_rejected(run_disa("llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                                       " --top-p 1.5 --out " + path("x.jsonl")),
                              "top_p");
  disa::test::expect_rejected(run_disa("llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                                       " --temperature 1e-40 --out " + path("x.jsonl")),
                              "temperature = 1e-40");
  // Held until written: more than memory is refused before allocating (was the OOM killer).
  disa::test::expect_rejected(run_disa("llm sample --model " + path("model") + " --prompts " + path("prompts.jsonl") +
                                       " --samples-per-prompt 99999999999 --out " + path("x.jsonl")),
                              "--samples-per-prompt 99999999999 x --max-new-tokens");
  EXPECT_FALSE(std::filesystem::exists(path("x.jsonl")));
  // An id past the model's vocabulary (32 here) is named by its line and field, not by the
  // model's batch row.
  std::ofstream(path("far_ids.jsonl")) << "{\"prompt_ids\": [1, 2]}\n{\"prompt_ids\": [1, 99]}\n";
  disa::test::expect_rejected(run_disa("llm sample --model " + path("model") + " --prompts " + path("far_ids.jsonl") +
                                       " --out " + path("x.jsonl")),
                              "far_ids.jsonl line 2: field 'prompt_ids' token 1: id 99");
  std::ofstream(path("far_score.jsonl")) << "{\"prompt_ids\": [1, 2], \"token_ids\": [3, 40]}\n";
  disa::test::expect_rejected(run_disa("llm score --model " + path("model") + " --input " + path("far_score.jsonl") +
                                       " --out " + path("x.jsonl")),
                              "far_score.jsonl line 1: field 'token_ids' token 1: id 40");
}

}  // namespace
}  // namespace disa::llm

// Tests `disa llm tokenize` (src/cli/llm_tokenize_command.cpp) as a user runs it, with
// a character tokenizer saved into the test's folder (no ../shared needed): encoding
// JSONL strings, --json, --decode, stdin, and bad input lines named by number.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "llm/tokenizer/char_tokenizer.h"
#include "tests/llm/tokenizer/mini_tokenizer.h"
#include "tests/util/cli_harness.h"

namespace disa::cli {
namespace {

using test::CliDirTest;
using test::expect_rejected;
using test::run_disa;

class LlmTokenizeCommand : public CliDirTest {
 protected:
  void SetUp() override {
    CliDirTest::SetUp();
    // ids: a 0, b 1, c 2, space 3, newline 4, é 5, <|im_end|> 6
    llm::CharTokenizer("abc \né", {"<|im_end|>"}, "<|im_end|>").save(path("tokenizer.json"));
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
    return path(name);
  }
};

TEST_F(LlmTokenizeCommand, EncodesOneLineOfIdsPerJsonString) {
  const std::string in = write("in.jsonl", "\"ab c\"\n\"\"\n\"a\\nb<|im_end|>\"\n\"\\u00e9\"\n");
  const auto r = run_disa("llm tokenize --tokenizer " + dir_.string() + " --input " + in);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "0 1 3 2\n\n0 4 1 6\n5\n");
}

// A folder as --input read as an empty file: no output, exit 0. And ids written to a
// full device were lost with exit 0 (stderr to the pipe, stdout to /dev/full here).
TEST_F(LlmTokenizeCommand, AFolderInputAndALostOutputAreErrors) {
  expect_rejected(run_disa("llm tokenize --tokenizer " + dir_.string() + " --input " + dir_.string()),
                  "--input: '" + dir_.string() + "' is a folder, not a file");
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  const std::string in = write("in.jsonl", "\"ab c\"\n");
  const std::string args = "llm tokenize --tokenizer " + dir_.string() + " --input " + in;
  const auto r = run_disa(args, "", "2>&1 >/dev/full");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "disa: failed: writing standard output: No space left on device\n");
}

TEST_F(LlmTokenizeCommand, PrintsJsonArraysWithJson) {
  const std::string in = write("in.jsonl", "\"ab\"\n\"\"\n");
  const auto r = run_disa("llm tokenize --json --tokenizer " + path("tokenizer.json") + " --input " + in);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "[0,1]\n[]\n");
}

TEST_F(LlmTokenizeCommand, DecodesIdArraysToJsonStrings) {
  const std::string in = write("ids.jsonl", "[0,4,1,6]\n[]\n[5]\n");
  const auto r = run_disa("llm tokenize --decode --tokenizer " + dir_.string() + " --input " + in);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "\"a\\nb<|im_end|>\"\n\"\"\n\"é\"\n");
}

TEST_F(LlmTokenizeCommand, ReadsStdin) {
  const std::string in = write("in.jsonl", "\"cab\"\n");
  const auto r = run_disa("llm tokenize --tokenizer " + dir_.string() + " --input - < " + in);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "2 0 1\n");
}

TEST_F(LlmTokenizeCommand, NamesTheBadLine) {
  const std::string tok = " --tokenizer " + dir_.string();
  expect_rejected(run_disa("llm tokenize" + tok + " --input " + write("a.jsonl", "\"a\"\nnot json\n")), "line 2");
  expect_rejected(run_disa("llm tokenize" + tok + " --input " + write("b.jsonl", "\"a\"\n\"b\"\n[1]\n")), "line 3");
  const auto unknown = run_disa("llm tokenize" + tok + " --input " + write("c.jsonl", "\"abz\"\n"));
  expect_rejected(unknown, "line 1");
  EXPECT_NE(unknown.output.find("U+007A"), std::string::npos) << unknown.output;
  expect_rejected(run_disa("llm tokenize --decode" + tok + " --input " + write("d.jsonl", "[0]\n[0,99]\n")), "line 2");
  expect_rejected(run_disa("llm tokenize --decode" + tok + " --input " + write("e.jsonl", "[\"a\"]\n")), "line 1");
  // 2^64 - 1 is not id -1: named as written.
  const auto huge = run_disa("llm tokenize --decode" + tok + " --input " + write("f.jsonl", "[18446744073709551615]\n"));
  expect_rejected(huge, "line 1");
  EXPECT_NE(huge.output.find("18446744073709551615 is not a token id"), std::string::npos) << huge.output;
}

TEST_F(LlmTokenizeCommand, RejectsBadArguments) {
  const auto no_tokenizer = run_disa("llm tokenize --tokenizer " + path("nowhere") + " --input -");
  expect_rejected(no_tokenizer, "--tokenizer");
  EXPECT_NE(no_tokenizer.output.find("nowhere"), std::string::npos) << no_tokenizer.output;
  expect_rejected(run_disa("llm tokenize --tokenizer " + dir_.string() + " --input " + path("none.jsonl")), "--input");
  expect_rejected(run_disa("llm tokenize --decode --json --tokenizer " + dir_.string() + " --input -"), "--json");
}

// A byte-level tokenizer whose file is wrong in ways found only at load or while encoding
// is an input error (exit 2, one line naming the field), not a crash: contradictory added
// tokens were taken silently, and a pre-tokenizer pattern that backtracks catastrophically
// failed with "failed: pre-tokenizer regex failed: match limit exceeded", exit 1.
TEST_F(LlmTokenizeCommand, ABadByteLevelTokenizerIsAnInputError) {
  nlohmann::json evil = llm::test::mini_tokenizer_json();
  evil["added_tokens"].push_back({{"id", 97}, {"content", "<evil>"}, {"special", true}});
  std::filesystem::create_directories(path("evil"));
  std::ofstream(path("evil/tokenizer.json")) << evil.dump();
  const std::string in = write("in.jsonl", "\"a\"\n");
  const auto contradicts = run_disa("llm tokenize --tokenizer " + path("evil") + " --input " + in);
  expect_rejected(contradicts, "added_tokens[3].id");
  EXPECT_NE(contradicts.output.find("id 97 of '<evil>' is already 'a' in model.vocab"), std::string::npos)
      << contradicts.output;

  nlohmann::json hard = llm::test::mini_tokenizer_json();
  hard["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a|aa)+$";
  std::filesystem::create_directories(path("hard"));
  std::ofstream(path("hard/tokenizer.json")) << hard.dump();
  const std::string hard_in = write("hard.jsonl", "\"ok\"\n\"" + std::string(60, 'a') + "b\"\n");
  const auto too_hard = run_disa("llm tokenize --tokenizer " + path("hard") + " --input " + hard_in);
  expect_rejected(too_hard, "pre_tokenizer.pretokenizers[0].pattern.Regex");
  for (const std::string part : {"line 2", "too hard for the pre-tokenizer pattern '(a|aa)+$'", "match limit"}) {
    EXPECT_NE(too_hard.output.find(part), std::string::npos) << part << " not in: " << too_hard.output;
  }
}

}  // namespace
}  // namespace disa::cli

// Tests `disa llm verify` (src/cli/llm_verify_command.cpp) as a user runs it: one
// line per record, --json, list answers, stdin, and bad input named by line.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/util/cli_harness.h"

namespace disa::cli {
namespace {

using test::CliDirTest;
using test::expect_rejected;
using test::run_disa;

class LlmVerifyCommand : public CliDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
    return path(name);
  }
};

TEST_F(LlmVerifyCommand, PrintsRewardAndReasonPerRecord) {
  const std::string in = write("in.jsonl",
                               R"({"response": "so \\boxed{\\frac{1}{2}}", "answer": "0.5"})"
                               "\n"
                               R"({"response": "The answer is 26.", "answer": "025"})"
                               "\n"
                               R"({"response": "\\boxed{27}", "answer": 27.0})"
                               "\n");
  const auto r = run_disa("llm verify --task math --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string l1, l2, l3, extra;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  EXPECT_FALSE(std::getline(lines, extra));
  EXPECT_TRUE(l1.starts_with("1\t")) << l1;
  EXPECT_NE(l1.find("same value 1/2"), std::string::npos) << l1;
  EXPECT_TRUE(l2.starts_with("0\t")) << l2;
  EXPECT_NE(l2.find("values differ: 26 vs 25"), std::string::npos) << l2;
  EXPECT_TRUE(l3.starts_with("1\t")) << l3;
}

TEST_F(LlmVerifyCommand, JsonHasTheNormalisedForms) {
  const std::string in = write("in.jsonl", R"({"response": "\\boxed{\\dfrac{1}{2}}", "answer": "1/2"})" "\n");
  const auto r = run_disa("llm verify --task math500 --json --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["line"], 1);
  EXPECT_EQ(j["reward"], 1);
  EXPECT_EQ(j["rule"], "boxed");
  EXPECT_EQ(j["extracted"], "\\dfrac{1}{2}");
  EXPECT_EQ(j["normalised_response"], "\\frac{1}{2}");
  EXPECT_EQ(j["normalised_reference"], "1/2");
}

TEST_F(LlmVerifyCommand, OlympiadBenchListsAndStdin) {
  const std::string in = write("in.jsonl",
                               R"({"response": "\\boxed{84, 69}", "answer": ["$69$", "$84$"], "is_multiple_answer": true})"
                               "\n"
                               R"({"response": "\\boxed{69}", "answer": ["$69$", "$84$"], "is_multiple_answer": true})"
                               "\n");
  const auto r = run_disa("llm verify --task olympiadbench --input - < " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output.starts_with("1\t")) << r.output;
  EXPECT_NE(r.output.find("\n0\t"), std::string::npos) << r.output;
}

TEST_F(LlmVerifyCommand, AListWithoutIsMultipleAnswerIsAlternatives) {
  // rllm's Minerva records list spellings of one answer and have no is_multiple_answer;
  // the benchmark loader reads them as alternatives, and so does the command.
  const std::string in = write("in.jsonl",
                               R"({"response": "\\boxed{15000}", "answer": ["15000 \\text{ kcal m}^{-2}", "15000"]})"
                               "\n"
                               R"({"response": "\\boxed{15000, 15000}", "answer": ["15000", "15000"]})"
                               "\n");
  const auto r = run_disa("llm verify --task minerva --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output.starts_with("1\t")) << r.output;
  EXPECT_NE(r.output.find(" [alternative "), std::string::npos) << r.output;  // not "[none of 2 alternatives]"
  EXPECT_NE(r.output.find("\n0\t"), std::string::npos) << r.output;  // not a list of two answers
}

TEST_F(LlmVerifyCommand, ARecordWithTwoAnswersIsRefused) {
  // The last "answer" used to be the reference, silently: this record scored 1.
  const std::string in = write("two.jsonl", R"({"response": "\\boxed{2}", "answer": "1", "answer": "2"})" "\n");
  expect_rejected(run_disa("llm verify --task math --input " + in),
                  "line 1: /answer: key \"answer\" is given twice in one object");
}

TEST_F(LlmVerifyCommand, NamesTheBadLineAndPrintsNothingElse) {
  const std::string in = write("in.jsonl", R"({"response": "\\boxed{1}", "answer": "1"})" "\n{\"response\": 3, \"answer\": \"1\"}\n");
  expect_rejected(run_disa("llm verify --task math --input " + in), "line 2: field 'response'");
  const std::string bad_json = write("bad.jsonl", "not json\n");
  expect_rejected(run_disa("llm verify --task math --input " + bad_json), "line 1: not JSON");
  const std::string no_answer = write("na.jsonl", R"({"response": "x"})" "\n");
  expect_rejected(run_disa("llm verify --task math --input " + no_answer), "line 1: field 'answer' is missing");
  const std::string bad_answer = write("ba.jsonl", R"({"response": "x", "answer": {"a": 1}})" "\n");
  expect_rejected(run_disa("llm verify --task math --input " + bad_answer), "field 'answer'");
}

// The code-only options (the help says "Code:") were accepted for math whatever their
// value (--jobs 0, --timeout -1); a missing --python failed in the sandbox, blaming
// namespaces, exit 1; a folder as --input printed nothing, exit 0.
TEST_F(LlmVerifyCommand, CodeOnlyOptionsPythonAndFolderInputsAreChecked) {
  const std::string in = write("in.jsonl", R"({"response": "1", "answer": "1"})" "\n");
  expect_rejected(run_disa("llm verify --task math --jobs 0 --input " + in), "--jobs: only for code tasks");
  expect_rejected(run_disa("llm verify --task gsm8k --timeout -1 --input " + in), "--timeout: only for code tasks");
  expect_rejected(run_disa("llm verify --task code --python /nonexistent --input " + in),
                  "--python '/nonexistent': not an executable file");
  expect_rejected(run_disa("llm verify --task code --python " + in + " --input " + in),
                  "--python '" + in + "': not an executable file");
  expect_rejected(run_disa("llm verify --task math --input " + dir_.string()),
                  "--input: '" + dir_.string() + "' is a folder, not a file");
  // An executable that is not Python 3 scored every program 0 ("runtime error") with exit
  // 0, and a timeout no interpreter can start within scored every program "timeout".
  expect_rejected(run_disa("llm verify --task code --python /bin/false --input " + in),
                  "--python '/bin/false': does not run Python 3");
  expect_rejected(run_disa("llm verify --task code --python /bin/true --input " + in),
                  "--python '/bin/true': does not run Python 3");
  expect_rejected(run_disa("llm verify --task code --timeout 1e-300 --input " + in),
                  "--timeout 1e-300: expected seconds in [0.1, 3600]");
}

TEST_F(LlmVerifyCommand, RejectsUnknownTasksAndCodeRecordsWithoutTests) {
  const std::string in = write("in.jsonl", R"({"response": "1", "answer": "1"})" "\n");
  expect_rejected(run_disa("llm verify --task code --input " + in), "line 1: field 'tests' is missing");
  expect_rejected(run_disa("llm verify --task chess --input " + in), "--task 'chess'");
  expect_rejected(run_disa("llm verify --task math --input " + path("missing.jsonl")), "--input");
}

}  // namespace
}  // namespace disa::cli

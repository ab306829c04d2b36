// Tests `disa llm verify --task code|humaneval|...` (src/cli/llm_verify_command.cpp)
// as a user runs it: one line per record with the reward and the reason, --json,
// tests as a list or as the datasets' JSON string, benchmark tasks named by id, and
// bad records named by line. Skips where the sandbox cannot be built.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "llm/verify/code_benchmarks.h"
#include "llm/verify/code_sandbox.h"
#include "tests/util/cli_harness.h"
#include "tests/util/shared_data.h"

namespace disa::cli {
namespace {

using test::CliDirTest;
using test::expect_rejected;
using test::run_disa;

#define REQUIRE_SANDBOX()                                                     \
  if (const auto why = llm::verify::sandbox_unavailable_reason()) GTEST_SKIP() \
      << "no sandbox here: " << *why

class CodeVerifyCommand : public CliDirTest {
 protected:
  std::string write(const std::string& name, const std::vector<nlohmann::json>& records) {
    std::ofstream out(path(name));
    for (const auto& r : records) out << r.dump() << "\n";
    return path(name);
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

const nlohmann::json kCheckTests = "def check(candidate):\n    assert candidate(2, 3) == 5\n";

TEST_F(CodeVerifyCommand, PrintsRewardAndReasonPerRecord) {
  REQUIRE_SANDBOX();
  const std::string in = write(
      "in.jsonl",
      {{{"response", "```python\ndef add(a, b):\n    return a + b\n```"}, {"tests", kCheckTests}, {"entry_point", "add"}},
       {{"response", "```python\ndef add(a, b):\n    return a * b\n```"}, {"tests", kCheckTests}, {"entry_point", "add"}},
       {{"response", "```python\nprint(int(input()) + 1)\n```"},
        {"tests", nlohmann::json::array({{{"input", "1\n"}, {"output", "2\n"}}, {{"input", "5"}, {"output", "7"}}})}},
       // The datasets' form: the test list as a JSON string.
       {{"response", "```python\nprint(int(input()) + 1)\n```"},
        {"tests", R"([{"input": "1", "output": "2", "testtype": "stdin"}])"}}});
  const auto r = run_disa("llm verify --task code --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 4u) << r.output;
  EXPECT_EQ(lines[0], "1\tpassed 1/1 tests (check)");
  EXPECT_EQ(lines[1], "0\tfailed test at tests.py:2: assert candidate(2, 3) == 5");
  EXPECT_EQ(lines[2], "0\tfailed test 2: expected '7' got '6' (token 1)");
  EXPECT_EQ(lines[3], "1\tpassed 1/1 tests");
}

TEST_F(CodeVerifyCommand, JsonReportsTheLimitHit) {
  REQUIRE_SANDBOX();
  const std::string in = write(
      "in.jsonl", {{{"response", "```python\nwhile True:\n    pass\n```"},
                    {"tests", nlohmann::json::array({{{"input", ""}, {"output", "1"}}})}}});
  const auto r = run_disa("llm verify --task code --json --timeout 1 --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["line"], 1);
  EXPECT_EQ(j["reward"], 0);
  EXPECT_EQ(j["tests_passed"], 0);
  EXPECT_EQ(j["tests_total"], 1);
  EXPECT_TRUE(j["limit"] == "timeout" || j["limit"] == "cpu time limit") << j.dump();
  // --timeout 1 sets a 1 s wall limit (and a 1 s CPU limit, which can only end it sooner),
  // so the one sandboxed run is killed by 1 s; the 1.5 s after it is the sandbox's kill
  // margin (sandbox_hostile_test.cpp, kKillMargin: 1.101 s by the caller's poll loop's
  // construction + 0.4 s of teardown and scheduling). This test runs RUN_SERIAL.
  EXPECT_GE(j["wall_seconds"].get<double>(), 0.0);
  EXPECT_LT(j["wall_seconds"].get<double>(), 1.0 + 1.5);
}

TEST_F(CodeVerifyCommand, FunctionalTestsTakeTheMethodFromTheStarter) {
  REQUIRE_SANDBOX();
  const std::string in = write(
      "in.jsonl",
      {{{"response", "```python\nclass Solution:\n    def double(self, xs):\n        return [2 * x for x in xs]\n```"},
        {"starter_code", "class Solution:\n    def double(self, xs: List[int]) -> List[int]:\n        "},
        {"tests", nlohmann::json::array({{{"input", "[1, 2]"}, {"output", "[2, 4]"}, {"testtype", "functional"}}})}}});
  const auto r = run_disa("llm verify --task livecodebench --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "1\tpassed 1/1 tests\n");
}

TEST_F(CodeVerifyCommand, BenchmarkTasksByIdFromTheDataDir) {
  REQUIRE_SANDBOX();
  const std::optional<std::filesystem::path> found = disa::test::shared_data_dir("humaneval");
  if (!found) GTEST_SKIP() << "no ../shared/data/humaneval (or $DISA_SHARED_DIR/data); a user's clone has none";
  const std::filesystem::path data = *found;
  const std::string in = write(
      "in.jsonl",
      {{{"response", "```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n```"},
        {"task_id", "HumanEval/2"}},
       {{"response", "```python\ndef truncate_number(number: float) -> float:\n    return number\n```"},
        {"task_id", "HumanEval/2"}}});
  const auto r = run_disa("llm verify --task humanevalplus --input " + in + " --data-dir " + data.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_TRUE(lines[0].starts_with("1\tpassed check() and ")) << lines[0];
  EXPECT_EQ(lines[1], "0\tfailed test at tests.py:10: assert candidate(3.5) == 0.5");
}

// The benchmark files are hidden from the programs: one that looked its input up in
// codeforces.json and printed the stored output passed 401 of 408 tasks.
TEST_F(CodeVerifyCommand, ProgramsCannotReadTheBenchmarkFiles) {
  REQUIRE_SANDBOX();
  const std::optional<std::filesystem::path> found = disa::test::shared_data_dir("codeforces");
  if (!found) GTEST_SKIP() << "no ../shared/data/codeforces (or $DISA_SHARED_DIR/data); a user's clone has none";
  const std::string answers = (*found / "codeforces" / "codeforces.json").string();
  const std::string lookup = "```python\nimport sys, json\ns = sys.stdin.read()\nfor rec in json.load(open(" +
                             nlohmann::json(answers).dump() +
                             ")):\n    for t in rec['tests']:\n        if t['input'] == s:\n"
                             "            sys.stdout.write(t['output'])\n            sys.exit(0)\n```";
  const std::string in = write("in.jsonl", {{{"response", lookup}, {"id", 0}}, {{"response", lookup}, {"id", 1}}});
  const auto r = run_disa("llm verify --task codeforces --input " + in + " --data-dir " + found->string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  for (const auto& line : lines) {
    EXPECT_TRUE(line.starts_with("0\tfailed test 1: runtime error: FileNotFoundError: [Errno 2] No such file")) << line;
  }
}

// HumanEval+ verdicts do not depend on --jobs: the reference runs on its own time, once
// per task, and jobs beyond the cores are not started (at --jobs 9 on 2 cores, 6 of
// these 9 canonical solutions timed out).
TEST_F(CodeVerifyCommand, HumanEvalPlusVerdictsHoldAtManyJobs) {
  REQUIRE_SANDBOX();
  const std::optional<std::filesystem::path> found = disa::test::shared_data_dir("humanevalplus");
  if (!found) GTEST_SKIP() << "no ../shared/data/humanevalplus (or $DISA_SHARED_DIR/data); a user's clone has none";
  std::vector<nlohmann::json> records;
  for (const auto& c : llm::verify::load_code_benchmark(llm::verify::CodeBenchmark::kHumanEvalPlus, *found)) {
    if (c.id != "HumanEval/139" && c.id != "HumanEval/15" && c.id != "HumanEval/130") continue;  // the slowest
    for (int copy = 0; copy < 3; ++copy) records.push_back({{"response", c.reference_response}, {"task_id", c.id}});
  }
  ASSERT_EQ(records.size(), 9u);
  const auto r = run_disa("llm verify --task humanevalplus --jobs 9 --input " + write("in.jsonl", records) +
                          " --data-dir " + found->string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 9u) << r.output;
  for (const auto& line : lines) EXPECT_TRUE(line.starts_with("1\tpassed check() and ")) << line;
}

// A record's "compare" sets how its outputs compare; --json says when a task admits
// several answers (judged against the stored one), and so does the reason.
TEST_F(CodeVerifyCommand, RecordsCompareFieldAndSeveralAnswers) {
  REQUIRE_SANDBOX();
  const nlohmann::json tests = nlohmann::json::array({{{"input", ""}, {"output", "YES 0.5\n"}}});
  const std::string yes = "```python\nprint('yes', 0.5000001)\n```";
  const std::string in = write(
      "in.jsonl",
      {{{"response", yes}, {"tests", tests}},
       {{"response", yes}, {"tests", tests}, {"compare", {{"case_insensitive", true}}}},
       {{"response", yes}, {"tests", tests}, {"compare", {{"case_insensitive", true}, {"tolerance", 1e-9}}}},
       {{"response", "```python\nprint('YES 0.5')\n```"}, {"tests", tests}, {"compare", {{"several_answers", true}}}}});
  const auto r = run_disa("llm verify --task code --input " + in);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 4u) << r.output;
  EXPECT_EQ(lines[0], "0\tfailed test 1: expected 'YES' got 'yes' (token 1)");
  EXPECT_EQ(lines[1], "1\tpassed 1/1 tests");
  EXPECT_EQ(lines[2], "0\tfailed test 1: expected '0.5' got '0.5000001' (token 2)");
  EXPECT_EQ(lines[3], "1\tpassed 1/1 tests (task admits several answers; compared with the stored one)");
  const auto j = run_disa("llm verify --task code --json --input " + in);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const auto json_lines = lines_of(j.output);
  ASSERT_EQ(json_lines.size(), 4u) << j.output;
  EXPECT_FALSE(nlohmann::json::parse(json_lines[0])["several_answers"].get<bool>());
  EXPECT_TRUE(nlohmann::json::parse(json_lines[3])["several_answers"].get<bool>());
  EXPECT_FALSE(nlohmann::json::parse(json_lines[3])["interactive"].get<bool>());
  expect_rejected(run_disa("llm verify --task code --input " +
                           write("bad.jsonl", {{{"response", yes}, {"tests", tests}, {"compare", {{"tolerance", -1}}}}})),
                  "line 1: field 'compare.tolerance': expected a number in (0, 1), got -1");
}

// Codeforces record 1 says the answer may be printed in any case; a record may still
// make it exact.
TEST_F(CodeVerifyCommand, CodeforcesStatementsComparisonAndItsOverride) {
  REQUIRE_SANDBOX();
  const std::optional<std::filesystem::path> found = disa::test::shared_data_dir("codeforces");
  if (!found) GTEST_SKIP() << "no ../shared/data/codeforces (or $DISA_SHARED_DIR/data); a user's clone has none";
  const auto cf = llm::verify::load_code_benchmark(llm::verify::CodeBenchmark::kCodeforces, *found);
  nlohmann::json table = nlohmann::json::object();
  for (const auto& t : cf[1].task.tests) table[t.input] = t.output;
  const std::string lower = "```python\nimport json, sys\nTABLE = json.loads(" + nlohmann::json(table.dump()).dump() +
                            ")\nsys.stdout.write(TABLE[sys.stdin.read()].lower())\n```";
  const std::string in = write("in.jsonl", {{{"response", lower}, {"id", 1}},
                                            {{"response", lower}, {"id", 1}, {"compare", {{"case_insensitive", false}}}}});
  const auto r = run_disa("llm verify --task codeforces --input " + in + " --data-dir " + found->string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_TRUE(lines[0].starts_with("1\tpassed ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("0\tfailed test 1: expected '")) << lines[1];
}

// Codeforces record 18 is interactive: --json says so, and "interactive": false makes it a
// plain task, several_answers and the note gone (was: both kept, from the statement's
// interactive flag).
TEST_F(CodeVerifyCommand, AnInteractiveTaskAndItsOverride) {
  REQUIRE_SANDBOX();
  const std::optional<std::filesystem::path> found = disa::test::shared_data_dir("codeforces");
  if (!found) GTEST_SKIP() << "no ../shared/data/codeforces (or $DISA_SHARED_DIR/data); a user's clone has none";
  const std::string none = "```python\nprint('? 1 1')\n```";
  const std::string in = write("in.jsonl", {{{"response", none}, {"id", 18}},
                                            {{"response", none}, {"id", 18}, {"compare", {{"interactive", false}}}}});
  const auto r = run_disa("llm verify --task codeforces --json --input " + in + " --data-dir " + found->string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  const auto first = nlohmann::json::parse(lines[0]);
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_TRUE(first["interactive"].get<bool>()) << lines[0];
  EXPECT_TRUE(first["several_answers"].get<bool>()) << lines[0];
  EXPECT_TRUE(first["reason"].get<std::string>().ends_with(llm::verify::kInteractiveNote)) << lines[0];
  EXPECT_FALSE(second["interactive"].get<bool>()) << lines[1];
  EXPECT_FALSE(second["several_answers"].get<bool>()) << lines[1];
  EXPECT_EQ(second["reason"].get<std::string>().find("(task admits several answers"), std::string::npos) << lines[1];
  EXPECT_EQ(second["reason"].get<std::string>().find("(interactive problem"), std::string::npos) << lines[1];
}

TEST_F(CodeVerifyCommand, NamesTheBadLineAndField) {
  const std::string ok = R"({"response": "x", "tests": [{"input": "", "output": ""}]})";
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
    return path(name);
  };
  expect_rejected(run_disa("llm verify --task code --input " + file("a.jsonl", ok + "\n{\"response\": \"x\"}\n")),
                  "line 2: field 'tests' is missing");
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("b.jsonl", R"({"response": "x", "tests": "def check(c): pass"})" "\n")),
                  "line 1: field 'entry_point' is missing");
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("c.jsonl", R"({"response": "x", "tests": [{"input": 1, "output": ""}]})" "\n")),
                  "line 1: field 'tests' element 0: 'input' is missing or not a string");
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("d.jsonl", R"({"response": "x", "tests": [{"input": "", "output": "", "testtype": "functional"}]})" "\n")),
                  "functional tests need field 'entry_point'");
  // Found when the records are read (exit 2, naming line and field), not when the
  // program runs (was: exit 1 with no record named).
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("h.jsonl", ok + "\n" + R"({"response": "x", "tests": "def check(c): pass", "entry_point": "a-b"})" "\n")),
                  "line 2: field 'entry_point': 'a-b' is not a Python identifier");
  const std::string functional = R"({"response": "x", "entry_point": "f", "tests": [{"input": "1\n[2]", "output": "3", "testtype": "functional"}, )";
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("i.jsonl", functional + R"({"input": "1", "output": "not json", "testtype": "functional"}]})" "\n")),
                  "line 1: field 'tests' element 1: 'output' 'not json' is not JSON");
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("j.jsonl", functional + R"({"input": "1\n\nfoo", "output": "1", "testtype": "functional"}]})" "\n")),
                  "line 1: field 'tests' element 1: 'input' line 3 'foo' is not JSON");
  expect_rejected(run_disa("llm verify --task code --input " +
                           file("k.jsonl", R"({"response": "x", "entry_point": "my func", "tests": [{"input": "1", "output": "1", "testtype": "functional"}]})" "\n")),
                  "line 1: field 'entry_point': 'my func' is not a Python identifier");
  expect_rejected(run_disa("llm verify --task humaneval --data-dir " + path("nowhere") + " --input " +
                           file("e.jsonl", R"({"response": "x", "task_id": "HumanEval/0"})" "\n")),
                  "HumanEval.jsonl.gz: cannot open");
  expect_rejected(run_disa("llm verify --task code --jobs 0 --input " + file("f.jsonl", ok + "\n")), "--jobs 0");
  expect_rejected(run_disa("llm verify --task code --timeout -1 --input " + file("g.jsonl", ok + "\n")),
                  "--timeout -1");
}

}  // namespace
}  // namespace disa::cli

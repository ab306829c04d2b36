// The code benchmarks in ../shared/data (see its SOURCES.md) as verifier tasks:
//   humaneval      HumanEval.jsonl.gz: check(entry_point) on prompt + the program
//                  (CodeTask::prompt)
//   humanevalplus  HumanEvalPlus.jsonl.gz: the same check(), then the candidate against
//                  the canonical solution on base_input + plus_input (atol)
//   livecodebench  livecodebench.json: stdin tests, or functional tests of a
//                  `class Solution` method named by starter_code (public samples only)
//   codeforces     codeforces.json: stdin/stdout tests
// HumanEval(+) carry a canonical solution, given as `reference_response` (a fenced
// response of prompt + canonical_solution); the other two have none.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "llm/verify/code_verifier.h"

namespace disa::llm::verify {

enum class CodeBenchmark { kHumanEval, kHumanEvalPlus, kLiveCodeBench, kCodeforces };

inline constexpr CodeBenchmark kAllCodeBenchmarks[] = {CodeBenchmark::kHumanEval, CodeBenchmark::kHumanEvalPlus,
                                                       CodeBenchmark::kLiveCodeBench, CodeBenchmark::kCodeforces};

std::string_view code_benchmark_name(CodeBenchmark b);  // "humaneval", ...
std::optional<CodeBenchmark> parse_code_benchmark(std::string_view name);

struct CodeBenchmarkCase {
  std::string id;  // task_id ("HumanEval/0"), else the 0-based record index as text
  std::string prompt;
  CodeTask task;
  std::string reference_response;  // "" when the benchmark has no solution
};

// `data_dir` is ../shared/data. A missing or malformed file is an InputError naming
// the file, the record and the field.
std::vector<CodeBenchmarkCase> load_code_benchmark(CodeBenchmark b, const std::filesystem::path& data_dir);

// The method a LeetCode starter (`class Solution:\n    def name(self, ...`) asks for;
// nullopt when it has none.
std::optional<std::string> starter_method_name(std::string_view starter_code);

// Tests as the datasets and `disa llm verify` records give them: a list of
// {"input", "output"[, "testtype": "stdin"|"functional"]}, or that list as a JSON
// string. Sets task.kind (functional when the tests say so) and task.tests; `where`
// prefixes errors ("file.json record 3").
void parse_io_tests(const nlohmann::json& tests, const std::string& where, CodeTask& task);

// Functional tests: every non-blank input line (one argument each) and the output must
// be JSON, as the driver reads them; otherwise an InputError naming `where`, the test
// and the field, at load time rather than when the test runs. Other kinds pass.
void require_json_functional_tests(const CodeTask& task, const std::string& where);

}  // namespace disa::llm::verify

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

// How a task's outputs compare, as its statement (Codeforces' or LiveCodeBench's
// problem text) says, matching the phrasings the datasets use:
//   case_insensitive  "You can output the answer in any case", "You may output "YES" and
//                     "NO" in any case" (a can/may output|print sentence that ends the
//                     clause with "in any case"; "not removed in any case" is not it).
//                     The words that sentence quotes ("YES", 'NO', \texttt{Yes}) go to
//                     case_insensitive_words, so that only they are case-blind (record 1
//                     prints a string after its YES, which must match exactly); a sentence
//                     quoting none ("the answer", "each letter") leaves the list empty:
//                     every word
//   tolerance         "absolute or relative error does not exceed 10^{-9}" (10^{-k},
//                     10^{−k}, 10^-k or 1e-k after "absolute or relative error" in one
//                     sentence, times a mantissa when written: 2 \cdot 10^{-6}, 2.5·10^{-6},
//                     5 \times 10^{-7}, 2e-6), else kDefaultOutputTolerance (also for a
//                     stated value of 1 or more)
//   several_answers   "If there are multiple answers, print any of them", "If multiple
//                     solutions exist, any of them will be accepted", "output any suitable
//                     matrix", "output any string", "any other positive number ... will
//                     also be recognized" ("If there are multiple maxima, it can be any
//                     one of them" describes the problem, not the output: not it)
//   interactive       "This is an interactive problem", or 'interactive' in the
//                     statement's "Tags: [...]" list (Codeforces 275 has the tag only);
//                     sets several_answers too
OutputComparison comparison_from_statement(std::string_view statement);

// A record's or caller's "compare" object over `base`: {"case_insensitive": bool (true:
// every word) or a non-empty list of words (only those, e.g. ["YES", "NO"]),
// "tolerance": number in (0, 1), "several_answers": bool, "interactive": bool (true sets
// several_answers; false on an interactive base clears the several_answers that only
// interactive implied, keeping the statement's own)}, each optional. An InputError
// names `where`, the field and the value for anything else.
OutputComparison parse_output_comparison(const nlohmann::json& compare, const std::string& where,
                                         OutputComparison base = {});

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

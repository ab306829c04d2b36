// `disa llm verify --task code|humaneval|...` records as verifier tasks. A record is
//   {"response": ..., "tests": <HumanEval check() source>, "entry_point": "f"}
//     optional "prompt" (source the program is appended to: CodeTask::prompt);
//     optional "reference" (a correct program), "inputs" (argument lists), "atol": HumanEval+
//   {"response": ..., "tests": [{"input", "output"[, "testtype"]}, ...]}
//     (or that list as a JSON string, as the datasets store it); functional tests need
//     "entry_point" (the Solution method) or "starter_code"
//   {"response": ..., "task_id": "HumanEval/3"} or {"response": ..., "id": 17}
//     only with a benchmark task name: the tests of that task in the benchmark file
//     (HumanEval's task_id; LiveCodeBench and Codeforces by 0-based record index)
//   optional "compare": {"case_insensitive": true, "tolerance": 1e-9, "several_answers": true}
//     (each optional; "case_insensitive": ["YES", "NO"] frees only those words' case) for stdin/stdout and functional tests: over a benchmark task's own
//     comparison (read from its statement), else over the defaults (exact words, 1e-6)
// Bad records are InputErrors naming the line and field.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "llm/verify/code_benchmarks.h"

namespace disa::llm::verify {

// The benchmarks' tasks by id, each file loaded on first use.
class CodeBenchmarkIndex {
 public:
  explicit CodeBenchmarkIndex(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  const CodeTask& task(CodeBenchmark b, const std::string& id, const std::string& where);

 private:
  std::filesystem::path data_dir_;
  std::map<CodeBenchmark, std::map<std::string, CodeTask>> loaded_;
};

// `benchmark` is nullopt for --task code. `where` is "--input F line N".
CodeTask code_task_from_record(const nlohmann::json& record, const std::string& where,
                               std::optional<CodeBenchmark> benchmark, CodeBenchmarkIndex& index);

}  // namespace disa::llm::verify

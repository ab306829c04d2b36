// The math benchmarks in ../shared/data (see its SOURCES.md) as verifier checks: each
// problem becomes a response built from its reference solution and the reference
// answer it must match. What is taken from each file:
//   math500        solution (\boxed inside)            vs answer
//   gsm8k          answer (rationale, "#### n")        vs the text after "####"
//   aime24         solution                            vs answer ("025"-style)
//   aime25         "The answer is \boxed{answer}"      vs answer (no solutions given)
//   amc23          "\boxed{n}" from the number's shortest form vs the JSON number (27.0)
//   minerva        solution (\boxed inside)            vs rllm_test_math/minerva.json answer list
//                                                     (joined by idx; alternative spellings, any matches)
//   olympiadbench  last element of solution            vs final_answer (list), is_multiple_answer
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm::verify {

enum class MathBenchmark { kMath500, kGsm8k, kAime24, kAime25, kAmc23, kMinerva, kOlympiadBench };

inline constexpr MathBenchmark kAllMathBenchmarks[] = {
    MathBenchmark::kMath500, MathBenchmark::kGsm8k,   MathBenchmark::kAime24,       MathBenchmark::kAime25,
    MathBenchmark::kAmc23,   MathBenchmark::kMinerva, MathBenchmark::kOlympiadBench};

std::string_view benchmark_name(MathBenchmark b);          // "math500", "gsm8k", ...
std::optional<MathBenchmark> parse_benchmark(std::string_view name);

struct BenchmarkCase {
  std::string id;  // the file's id field, or the line number
  std::string response;
  std::vector<std::string> answers;  // one entry except OlympiadBench's lists
  bool is_multiple = false;  // answers are all required (else alternatives)
  std::string question;      // the problem statement (what a model is prompted with)
};

// `data_dir` is ../shared/data. A missing or malformed file is an InputError naming it.
std::vector<BenchmarkCase> load_benchmark(MathBenchmark b, const std::filesystem::path& data_dir);

// A JSON number as an answer string: integral values print without ".0" only when
// `integer_form` (so 27.0 -> "27"); otherwise as the JSON text ("27.0").
std::string number_answer(double value, bool integer_form);

}  // namespace disa::llm::verify

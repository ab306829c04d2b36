#include "llm/verify/math_benchmarks.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::verify {
namespace {

using nlohmann::json;

std::vector<json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("benchmark file '{}': cannot read it", path.string()));
  std::vector<json> records;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    try {
      records.push_back(parse_json_strict(line, fmt::format("benchmark file '{}' line {}", path.string(), number)));
    } catch (const json::exception& e) {
      throw InputError(fmt::format("benchmark file '{}' line {}: not JSON ({})", path.string(), number, e.what()));
    }
  }
  return records;
}

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("benchmark file '{}': cannot read it", path.string()));
  try {
    return parse_json_strict(in, fmt::format("benchmark file '{}'", path.string()));
  } catch (const json::exception& e) {
    throw InputError(fmt::format("benchmark file '{}': not JSON ({})", path.string(), e.what()));
  }
}

std::string text_field(const json& record, const char* field, const std::filesystem::path& path, std::size_t i) {
  if (!record.contains(field) || !record[field].is_string()) {
    throw InputError(fmt::format("benchmark file '{}' record {}: field '{}' is not a string", path.string(), i + 1,
                                 field));
  }
  return record[field].get<std::string>();
}

std::string id_of(const json& record, const char* field, std::size_t i) {
  if (record.contains(field)) return record[field].is_string() ? record[field].get<std::string>() : record[field].dump();
  return std::to_string(i + 1);
}

// The problem statement shown to a model: "problem" (MATH-500, AIME, AMC, Minerva) or
// "question" (GSM8K, OlympiadBench, whose "context", when present, comes first).
std::string question_of(const json& record, const std::filesystem::path& path, std::size_t i) {
  for (const char* field : {"problem", "question"}) {
    if (!record.contains(field) || !record[field].is_string()) continue;
    std::string q = record[field].get<std::string>();
    if (record.contains("context") && record["context"].is_string() && !record["context"].get<std::string>().empty()) {
      q = record["context"].get<std::string>() + "\n\n" + q;
    }
    return q;
  }
  throw InputError(fmt::format("benchmark file '{}' record {}: no 'problem' or 'question' text", path.string(), i + 1));
}

}  // namespace

std::string_view benchmark_name(MathBenchmark b) {
  switch (b) {
    case MathBenchmark::kMath500: return "math500";
    case MathBenchmark::kGsm8k: return "gsm8k";
    case MathBenchmark::kAime24: return "aime24";
    case MathBenchmark::kAime25: return "aime25";
    case MathBenchmark::kAmc23: return "amc23";
    case MathBenchmark::kMinerva: return "minerva";
    case MathBenchmark::kOlympiadBench: return "olympiadbench";
  }
  return "?";
}

std::optional<MathBenchmark> parse_benchmark(std::string_view name) {
  for (const MathBenchmark b : kAllMathBenchmarks) {
    if (benchmark_name(b) == name) return b;
  }
  return std::nullopt;
}

std::string number_answer(double value, bool integer_form) {
  if (integer_form && std::isfinite(value) && value == std::floor(value) && std::abs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return json(value).dump();
}

std::vector<BenchmarkCase> load_benchmark(MathBenchmark b, const std::filesystem::path& data_dir) {
  std::vector<BenchmarkCase> cases;
  const auto file = [&](const char* relative) { return data_dir / relative; };
  switch (b) {
    case MathBenchmark::kMath500: {
      const auto path = file("math500/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        cases.push_back({id_of(records[i], "unique_id", i), text_field(records[i], "solution", path, i),
                         {text_field(records[i], "answer", path, i)}, false, question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kGsm8k: {
      const auto path = file("gsm8k/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string rationale = text_field(records[i], "answer", path, i);
        const auto at = rationale.rfind("####");
        if (at == std::string::npos) {
          throw InputError(fmt::format("benchmark file '{}' record {}: answer has no '####'", path.string(), i + 1));
        }
        std::string answer = rationale.substr(at + 4);
        answer.erase(0, answer.find_first_not_of(" \t"));
        answer.erase(answer.find_last_not_of(" \t\r\n") + 1);
        cases.push_back({std::to_string(i + 1), rationale, {answer}, false, question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kAime24: {
      const auto path = file("aime24/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        cases.push_back({id_of(records[i], "id", i), text_field(records[i], "solution", path, i),
                         {text_field(records[i], "answer", path, i)}, false, question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kAime25: {
      const auto path = file("aime25/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string answer = text_field(records[i], "answer", path, i);
        cases.push_back({std::to_string(i + 1), fmt::format("The answer is \\boxed{{{}}}", answer), {answer}, false,
                         question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kAmc23: {
      const auto path = file("amc23/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        if (!records[i].contains("answer") || !records[i]["answer"].is_number()) {
          throw InputError(
              fmt::format("benchmark file '{}' record {}: field 'answer' is not a number", path.string(), i + 1));
        }
        const double value = records[i]["answer"].get<double>();
        cases.push_back({id_of(records[i], "id", i), fmt::format("\\boxed{{{}}}", number_answer(value, true)),
                         {records[i]["answer"].dump()}, false, question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kMinerva: {
      const auto path = file("minerva_math/test.jsonl");
      const auto answers_path = file("rllm_test_math/minerva.json");
      const json answer_records = read_json(answers_path);
      std::map<std::string, std::vector<std::string>> answers_by_idx;
      for (const json& r : answer_records) {
        std::vector<std::string> answers;
        for (const json& a : r.at("answer")) answers.push_back(a.get<std::string>());
        answers_by_idx[r.at("idx").dump()] = answers;
      }
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string idx = records[i].at("idx").dump();
        const auto found = answers_by_idx.find(idx);
        if (found == answers_by_idx.end()) {
          throw InputError(fmt::format("benchmark file '{}': no answer for idx {}", answers_path.string(), idx));
        }
        cases.push_back(
            {idx, text_field(records[i], "solution", path, i), found->second, false, question_of(records[i], path, i)});
      }
      break;
    }
    case MathBenchmark::kOlympiadBench: {
      const auto path = file("olympiadbench/test.jsonl");
      const auto records = read_jsonl(path);
      for (std::size_t i = 0; i < records.size(); ++i) {
        const json& r = records[i];
        if (!r.contains("solution") || !r["solution"].is_array() || r["solution"].empty() ||
            !r.contains("final_answer") || !r["final_answer"].is_array()) {
          throw InputError(fmt::format("benchmark file '{}' record {}: solution/final_answer are not lists",
                                       path.string(), i + 1));
        }
        std::vector<std::string> answers;
        for (const json& a : r["final_answer"]) answers.push_back(a.get<std::string>());
        cases.push_back({id_of(r, "id", i), r["solution"].back().get<std::string>(), answers,
                         r.value("is_multiple_answer", false), question_of(records[i], path, i)});
      }
      break;
    }
  }
  return cases;
}

}  // namespace disa::llm::verify

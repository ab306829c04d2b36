#include "llm/verify/code_records.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::llm::verify {
namespace {

std::optional<std::string> optional_string(const nlohmann::json& record, const char* field, const std::string& where) {
  if (!record.contains(field)) return std::nullopt;
  if (!record[field].is_string()) {
    throw InputError(fmt::format("{}: field '{}': expected a string, got {}", where, field,
                                 json_excerpt(record[field])));
  }
  return record[field].get<std::string>();
}

// The driver looks the name up as a Python identifier (check(entry_point), a Solution
// method); "a-b" would fail only when the program runs.
std::string identifier_field(const nlohmann::json& record, const char* field, const std::string& where) {
  const std::string name = record[field].get<std::string>();
  bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (const char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) throw InputError(fmt::format("{}: field '{}': '{}' is not a Python identifier", where, field, name));
  return name;
}

// A string field that holds a JSON list (the datasets' form of `tests`).
bool is_json_list_text(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '[') return false;
  return nlohmann::json::accept(text);
}

CodeTask check_function_task(const nlohmann::json& record, const std::string& where) {
  CodeTask task;
  task.kind = CodeTestKind::kCheckFunction;
  task.test_code = record["tests"].get<std::string>();
  const auto entry = optional_string(record, "entry_point", where);
  if (!entry) {
    throw InputError(fmt::format("{}: field 'entry_point' is missing (a 'tests' source is run as "
                                 "check(entry_point))", where));
  }
  task.entry_point = identifier_field(record, "entry_point", where);
  if (const auto prompt = optional_string(record, "prompt", where)) task.prompt = *prompt;
  if (const auto reference = optional_string(record, "reference", where)) {
    task.reference = *reference;
    if (!record.contains("inputs") || !record["inputs"].is_array()) {
      throw InputError(fmt::format("{}: field 'inputs': expected a list of argument lists with 'reference'", where));
    }
    for (const auto& args : record["inputs"]) {
      if (!args.is_array()) {
        throw InputError(fmt::format("{}: field 'inputs': element {} is not a list of arguments", where,
                                     json_excerpt(args)));
      }
    }
    task.inputs_json = record["inputs"].dump();
    if (record.contains("atol")) {
      if (!record["atol"].is_number() || record["atol"].get<double>() < 0) {
        throw InputError(fmt::format("{}: field 'atol': expected a number >= 0, got {}", where, json_excerpt(record["atol"])));
      }
      task.atol = record["atol"].get<double>();
    }
  }
  return task;
}

CodeTask io_task(const nlohmann::json& record, const std::string& where) {
  CodeTask task;
  parse_io_tests(record["tests"], where, task);
  if (task.kind == CodeTestKind::kFunctional) {
    if (optional_string(record, "entry_point", where)) {
      task.entry_point = identifier_field(record, "entry_point", where);
    } else if (const auto starter = optional_string(record, "starter_code", where)) {
      const auto method = starter_method_name(*starter);
      if (!method) throw InputError(fmt::format("{}: field 'starter_code': no `def name(self` in it", where));
      task.entry_point = *method;
    } else {
      throw InputError(fmt::format(
          "{}: functional tests need field 'entry_point' (the Solution method) or 'starter_code'", where));
    }
    require_json_functional_tests(task, where);
  }
  return task;
}

// A record's "compare" over the task's own (the benchmark statement's, or the defaults):
// only tests whose outputs are compared take one; HumanEval's check() decides by itself.
CodeTask with_record_comparison(CodeTask task, const nlohmann::json& record, const std::string& where) {
  if (!record.contains("compare")) return task;
  if (task.kind == CodeTestKind::kCheckFunction) {
    throw InputError(fmt::format("{}: field 'compare': only stdin/stdout and functional tests compare outputs "
                                 "(this task runs check())",
                                 where));
  }
  task.compare = parse_output_comparison(record["compare"], where, task.compare);
  return task;
}

std::string record_id(const nlohmann::json& record, const std::string& where) {
  for (const char* field : {"task_id", "id"}) {
    if (!record.contains(field)) continue;
    const auto& v = record[field];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    throw InputError(fmt::format("{}: field '{}': expected a string or an index, got {}", where, field, json_excerpt(v)));
  }
  return "";
}

}  // namespace

const CodeTask& CodeBenchmarkIndex::task(CodeBenchmark b, const std::string& id, const std::string& where) {
  auto [it, inserted] = loaded_.try_emplace(b);
  if (inserted) {
    for (auto& c : load_code_benchmark(b, data_dir_)) it->second.emplace(c.id, std::move(c.task));
  }
  const auto found = it->second.find(id);
  if (found == it->second.end()) {
    throw InputError(fmt::format("{}: {} has no task '{}' (in {})", where, code_benchmark_name(b), id,
                                 data_dir_.string()));
  }
  return found->second;
}

CodeTask code_task_from_record(const nlohmann::json& record, const std::string& where,
                               std::optional<CodeBenchmark> benchmark, CodeBenchmarkIndex& index) {
  if (!record.contains("tests")) {
    const std::string id = record_id(record, where);
    if (!benchmark || id.empty()) {
      throw InputError(fmt::format(
          "{}: field 'tests' is missing (--task code records are {{\"response\", \"tests\", \"entry_point\"}}; "
          "with --task humaneval, humanevalplus, livecodebench or codeforces a 'task_id' or 'id' names the "
          "benchmark's task instead)",
          where));
    }
    return with_record_comparison(index.task(*benchmark, id, where), record, where);
  }
  const nlohmann::json& tests = record["tests"];
  if (tests.is_string() && !is_json_list_text(tests.get<std::string>())) {
    return with_record_comparison(check_function_task(record, where), record, where);
  }
  if (tests.is_string() || tests.is_array()) return with_record_comparison(io_task(record, where), record, where);
  throw InputError(fmt::format("{}: field 'tests': expected check() source or a list of {{input, output}}, got {}",
                               where, json_excerpt(tests)));
}

}  // namespace disa::llm::verify

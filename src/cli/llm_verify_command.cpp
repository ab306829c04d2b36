// disa llm verify: rewards for responses, one JSONL record at a time.
//
//   disa llm verify --task math --input records.jsonl [--json]
//
// Each line is {"response": "...", "answer": ...}; the answer is a string, a number
// (AMC's 27.0) or, for OlympiadBench, a list of strings (then "is_multiple_answer" may
// say whether they are several answers). Prints one line per record: the reward, a
// tab, the reason; with --json one object per line with the extracted answer and both
// normalised forms. --task names the benchmark the records come from (all math tasks
// use the same verifier); `code` is later work. A bad line is an InputError naming
// it, and then nothing is printed: output is written once every line has succeeded.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/verify/math_benchmarks.h"
#include "llm/verify/math_verifier.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"

namespace disa::cli {
namespace {

struct Args {
  std::string task;
  std::string input;
  bool json = false;
};

// The reference answers of one record: a string, a number's JSON text, or a list.
std::vector<std::string> reference_answers(const nlohmann::json& answer, const std::string& where) {
  if (answer.is_string()) return {answer.get<std::string>()};
  if (answer.is_number()) return {answer.dump()};
  if (answer.is_array() && !answer.empty()) {
    std::vector<std::string> answers;
    for (const auto& a : answer) {
      if (a.is_string()) {
        answers.push_back(a.get<std::string>());
      } else if (a.is_number()) {
        answers.push_back(a.dump());
      } else {
        throw InputError(fmt::format("{}: field 'answer': list element {} is not a string or number", where, a.dump()));
      }
    }
    return answers;
  }
  throw InputError(fmt::format("{}: field 'answer': expected a string, a number or a non-empty list, got {}", where,
                               answer.dump().substr(0, 80)));
}

std::string result_line(const llm::verify::VerifyResult& r, std::size_t number, bool as_json) {
  if (!as_json) return fmt::format("{}\t{}", r.reward, r.reason);
  return nlohmann::json{{"line", number},
                        {"reward", r.reward},
                        {"rule", std::string(llm::verify::rule_name(r.rule))},
                        {"extracted", r.extracted},
                        {"normalised_response", r.normalised_response},
                        {"normalised_reference", r.normalised_reference},
                        {"reason", r.reason}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void run_verify(const Args& a) {
  if (a.task == "code") {
    throw InputError("--task code: the code verifier (sandboxed execution) is not built yet; use --task math");
  }
  if (a.task != "math" && !llm::verify::parse_benchmark(a.task)) {
    throw InputError(fmt::format(
        "--task '{}': expected math, math500, gsm8k, aime24, aime25, amc23, minerva or olympiadbench", a.task));
  }
  std::string out;
  std::size_t number = 0;  // the record's line number, printed with its result
  for_each_jsonl_line(a.input, [&](const nlohmann::json& record, const std::string& where) {
    ++number;
    if (!record.is_object()) throw InputError(fmt::format("{}: expected a JSON object", where));
    if (!record.contains("response") || !record["response"].is_string()) {
      throw InputError(fmt::format("{}: field 'response' is missing or not a string", where));
    }
    if (!record.contains("answer")) throw InputError(fmt::format("{}: field 'answer' is missing", where));
    const std::vector<std::string> answers = reference_answers(record["answer"], where);
    bool is_multiple = answers.size() > 1;
    if (record.contains("is_multiple_answer")) {
      if (!record["is_multiple_answer"].is_boolean()) {
        throw InputError(fmt::format("{}: field 'is_multiple_answer': expected true or false, got {}", where,
                                     record["is_multiple_answer"].dump()));
      }
      is_multiple = record["is_multiple_answer"].get<bool>();
    }
    const auto result =
        llm::verify::verify_math_multi(record["response"].get_ref<const std::string&>(), answers, is_multiple);
    out += result_line(result, number, a.json);
    out += '\n';
  });
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_llm_verify_command(CLI::App& llm) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = llm.add_subcommand(
      "verify", "Score JSONL records {\"response\", \"answer\"}: one line per record with the reward and the reason");
  cmd->add_option("--task", args->task,
                  "math, or the benchmark the records come from: math500, gsm8k, aime24, aime25, amc23, minerva, "
                  "olympiadbench (code: not built yet)")
      ->required();
  cmd->add_option("--input", args->input, "JSONL file of {\"response\": ..., \"answer\": ...}; - for stdin")
      ->required();
  cmd->add_flag("--json", args->json,
                "Print a JSON object per record (reward, rule, extracted, normalised forms, reason)");
  cmd->callback([args] { run_verify(*args); });
}

}  // namespace disa::cli

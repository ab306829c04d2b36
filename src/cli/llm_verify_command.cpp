// disa llm verify: rewards for responses, one JSONL record at a time.
//
//   disa llm verify --task math --input records.jsonl [--json]
//   disa llm verify --task code --input records.jsonl [--json] [--jobs N] [--timeout S] [--python P]
//
// Math: each line is {"response": "...", "answer": ...}; the answer is a string, a
// number (AMC's 27.0) or a list of strings: alternative spellings of one answer (rllm's
// Minerva), or with "is_multiple_answer": true several answers all required
// (OlympiadBench), as the benchmark loader reads them. --task names the
// benchmark the records come from (all math tasks use the same verifier).
// Code: each line is {"response": "...", "tests": ..., "entry_point": ...} (see
// llm/verify/code_records.h); with a code benchmark name (humaneval, humanevalplus,
// livecodebench, codeforces) a record may instead name the task by "task_id"/"id" and
// its tests come from the benchmark file in --data-dir; an optional "compare" object
// sets how outputs compare (case, tolerance, several answers; code_benchmarks.h).
// Programs run in the sandbox of llm/verify/code_sandbox.h, --jobs at a time (at most
// one per core), which hides the answer keys from them: --data-dir, the --input file
// and the working directory. Prints one line per record: the reward, a tab, the
// reason; with --json one object per line (math: the extracted answer and both
// normalised forms; code: tests passed, the limit hit, wall seconds, whether the task
// admits several answers). A bad line is an InputError naming it, and then nothing is
// printed: output is written once every line has succeeded.
#include <fmt/format.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "llm/verify/code_benchmarks.h"
#include "llm/verify/code_records.h"
#include "llm/verify/code_verifier.h"
#include "llm/verify/math_benchmarks.h"
#include "llm/verify/math_verifier.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/input_error.h"
#include "src/json_strict.h"

namespace disa::cli {
namespace {

struct Args {
  std::string task;
  std::string input;
  bool json = false;
  // Code only.
  std::string data_dir = "../shared/data";
  int jobs = 2;
  double timeout = 6;
  bool allow_unisolated = false;
  std::string python = "/usr/bin/python3";
  std::vector<std::string> code_options_given;  // which of the code-only options the command line has
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
        throw InputError(fmt::format("{}: field 'answer': list element {} is not a string or number", where,
                                     json_excerpt(a)));
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

std::string code_result_line(const llm::verify::CodeVerifyResult& r, std::size_t number, bool as_json) {
  if (!as_json) return fmt::format("{}\t{}", r.reward, r.reason);
  return nlohmann::json{{"line", number},
                        {"reward", r.reward},
                        {"tests_passed", r.tests_passed},
                        {"tests_total", r.tests_total},
                        {"limit", std::string(llm::verify::limit_name(r.limit))},
                        {"wall_seconds", r.wall_seconds},
                        {"several_answers", r.several_answers},
                        {"interactive", r.interactive},
                        {"reason", r.reason}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The cores this process may run on (its affinity mask), at least 1.
int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Exit 42, not 0: /bin/true -c ... exits 0 too.
constexpr const char* kPython3Probe = "import sys; sys.exit(42 if sys.version_info[0] == 3 else 3)";
constexpr int kPython3ProbeExit = 42;

// The exit status of `python -c kPython3Probe` (outside the sandbox, output discarded),
// 128 + the signal if one ended it, -1 when it could not be started.
int python3_probe(const std::string& python) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  std::string dash_c = "-c", program = kPython3Probe, interpreter = python;
  char* argv[] = {interpreter.data(), dash_c.data(), program.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, python.c_str(), &files, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Code records: every line is parsed (and rejected) before any program runs; then
// --jobs threads verify them, each in its own sandbox.
void run_verify_code(const Args& a, std::optional<llm::verify::CodeBenchmark> benchmark) {
  if (a.jobs < 1 || a.jobs > 64) throw InputError(fmt::format("--jobs {}: expected 1 to 64", a.jobs));
  // Below 0.1 s every program times out (a Python interpreter alone starts in about
  // 0.05 s): --timeout 1e-300 scored every program 0, "timeout", exit 0.
  if (!(a.timeout >= 0.1) || a.timeout > 3600) {
    throw InputError(fmt::format("--timeout {}: expected seconds in [0.1, 3600]", a.timeout));
  }
  // The sandbox execs --python itself (no PATH search): a missing or non-executable one
  // failed inside it, with a message blaming namespaces and exit 1.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(a.python, ec) || ::access(a.python.c_str(), X_OK) != 0) {
    throw InputError(
        fmt::format("--python '{}': not an executable file (give the interpreter's path, e.g. "
                    "/usr/bin/python3)",
                    a.python));
  }
  // Another executable (/bin/false) made every program a "runtime error", reward 0 with
  // exit 0: a broken setup read as wrong answers.
  if (const int rc = python3_probe(a.python); rc != kPython3ProbeExit) {
    throw InputError(fmt::format("--python '{}': does not run Python 3 (`{} -c \"{}\"` exited {}, not {})", a.python,
                                 a.python, kPython3Probe, rc, kPython3ProbeExit));
  }
  llm::verify::CodeBenchmarkIndex index(a.data_dir);
  std::vector<std::string> responses;
  std::vector<llm::verify::CodeTask> tasks;
  for_each_jsonl_line(a.input, [&](const nlohmann::json& record, const std::string& where) {
    if (!record.is_object()) throw InputError(fmt::format("{}: expected a JSON object", where));
    if (!record.contains("response") || !record["response"].is_string()) {
      throw InputError(fmt::format("{}: field 'response' is missing or not a string", where));
    }
    tasks.push_back(llm::verify::code_task_from_record(record, where, benchmark, index));
    responses.push_back(record["response"].get<std::string>());
  });
  llm::verify::SandboxOptions options;
  options.limits.wall_seconds = a.timeout;
  options.limits.cpu_seconds = std::max(1, static_cast<int>(a.timeout) - 1);  // the CPU limit ends busy loops first
  options.allow_unisolated = a.allow_unisolated;
  options.python = a.python;
  // Answer keys a program could otherwise open: the benchmark files (a program reading
  // codeforces.json for its input's output passed 401 of 408 tasks), the records (their
  // tests) and the project tree the command runs in. Each only where that leaves the
  // interpreter visible (a working directory of / or one holding a venv stays).
  llm::verify::add_hidden_path(options, a.data_dir);
  if (a.input != "-") llm::verify::add_hidden_path(options, a.input);
  llm::verify::add_hidden_path(options, std::filesystem::current_path());
  // A run's wall limit assumes a core of its own: more jobs than cores turn slow
  // programs into timeouts (6 of 9 canonical HumanEval+ runs at --jobs 9 on 2 cores).
  const int jobs = std::min(a.jobs, available_cores());
  std::vector<llm::verify::CodeVerifyResult> results(tasks.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    for (std::size_t i = next++; i < tasks.size(); i = next++) {
      try {
        results[i] = llm::verify::verify_code(responses[i], tasks[i], options);
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = tasks.size();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < std::min<int>(jobs, static_cast<int>(tasks.size())); ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  std::string out;
  for (std::size_t i = 0; i < results.size(); ++i) {
    out += code_result_line(results[i], i + 1, a.json);
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_verify(const Args& a) {
  if (a.task == "code") return run_verify_code(a, std::nullopt);
  if (const auto code_benchmark = llm::verify::parse_code_benchmark(a.task)) return run_verify_code(a, code_benchmark);
  if (a.task != "math" && !llm::verify::parse_benchmark(a.task)) {
    throw InputError(fmt::format(
        "--task '{}': expected math, math500, gsm8k, aime24, aime25, amc23, minerva, olympiadbench, code, "
        "humaneval, humanevalplus, livecodebench or codeforces",
        a.task));
  }
  // The help marks them "Code:": math runs no program, and a math run given --jobs 0 or
  // --timeout -1 accepted them silently. Refused, so that a value is never ignored.
  if (!a.code_options_given.empty()) {
    throw InputError(
        fmt::format("{}: only for code tasks (--task code, humaneval, humanevalplus, livecodebench, "
                    "codeforces), not --task {}",
                    a.code_options_given.front(), a.task));
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
    // A list is alternatives unless the record says otherwise, as in the benchmark
    // loader (math_benchmarks.cpp): rllm's Minerva lists spellings of one answer with no
    // is_multiple_answer, and OlympiadBench records carry the field.
    bool is_multiple = false;
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
      "verify",
      "Score JSONL records {\"response\", \"answer\"} (math) or {\"response\", \"tests\", \"entry_point\"} "
      "(code, run in a sandbox): one line per record with the reward and the reason");
  cmd->add_option("--task", args->task,
                  "math, or the benchmark the records come from: math500, gsm8k, aime24, aime25, amc23, minerva, "
                  "olympiadbench; code, or humaneval, humanevalplus, livecodebench, codeforces")
      ->required();
  cmd->add_option("--input", args->input, "JSONL file of records; - for stdin")->required();
  cmd->add_flag("--json", args->json,
                "Print a JSON object per record (math: rule, extracted, normalised forms; code: tests passed, "
                "limit hit, wall seconds, several_answers, interactive; both: reward, reason)");
  cmd->add_option("--data-dir", args->data_dir,
                  "Code: where the benchmark files are, for records that name a task by task_id/id")
      ->capture_default_str();
  cmd->add_option("--jobs", args->jobs, "Code: programs run at a time (at most the cores this process may use)")
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout,
                  "Code: wall-clock seconds per run (CPU limit one less; HumanEval+ runs get 3x)")
      ->capture_default_str();
  cmd->add_option("--python", args->python, "Code: the interpreter that runs the programs")->capture_default_str();
  cmd->add_flag("--allow-unisolated", args->allow_unisolated,
                "Code: where namespaces cannot be created, run programs with rlimits only (no network or "
                "file isolation); without it such a machine is an error");
  cmd->callback([args, cmd] {
    for (const char* name : {"--data-dir", "--jobs", "--timeout", "--python", "--allow-unisolated"}) {
      if (cmd->count(name) > 0) args->code_options_given.emplace_back(name);
    }
    run_verify(*args);
  });
}

}  // namespace disa::cli

#include "llm/verify/code_verifier.h"

#include <fmt/format.h>
#include <signal.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "llm/verify/code_extraction.h"
#include "llm/verify/code_harness.h"

namespace disa::llm::verify {
namespace {

std::string_view last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  const std::size_t nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// The driver's own verdict (`<marker> <reason>` as the last stderr line), if any.
std::optional<std::string> driver_verdict(const SandboxResult& run, const std::string& marker) {
  const std::string_view line = last_line(run.stderr_text);
  if (!line.starts_with(marker + " ")) return std::nullopt;
  return std::string(line.substr(marker.size() + 1));
}

bool driver_finished(const SandboxResult& run, const std::string& marker, std::string_view what) {
  return run.ok() && last_line(run.stdout_text).starts_with(marker + " " + std::string(what));
}

std::string format_seconds(double s) { return fmt::format("{:g}", s); }

// Python's int == float: true only when the float is that very integer (1e18 is not
// 1000000000000000001, 2.9999999 is not 3).
bool integer_equals_float(const nlohmann::json& integer, double x) {
  if (!std::isfinite(x) || std::trunc(x) != x) return false;
  if (integer.is_number_unsigned()) {
    return x >= 0 && x < 0x1p64 && static_cast<std::uint64_t>(x) == integer.get<std::uint64_t>();
  }
  return x >= -0x1p63 && x < 0x1p63 && static_cast<std::int64_t>(x) == integer.get<std::int64_t>();
}

}  // namespace

bool json_results_equal(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() && b.is_number_float()) {
      const double x = a.get<double>(), y = b.get<double>();
      return std::fabs(x - y) <= 1e-6 || std::fabs(x - y) <= 1e-6 * std::fabs(y);
    }
    if (a.is_number_float()) return integer_equals_float(b, a.get<double>());
    if (b.is_number_float()) return integer_equals_float(a, b.get<double>());
    return a == b;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!json_results_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !json_results_equal(it.value(), b[it.key()])) return false;
    }
    return true;
  }
  return a == b;
}

namespace {

std::optional<nlohmann::json> parse_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

void check_task(const CodeTask& task) {
  auto is_identifier = [](const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return true;
  };
  if (task.kind != CodeTestKind::kStdio && !is_identifier(task.entry_point)) {
    throw std::invalid_argument(
        fmt::format("code task: entry_point '{}' is not a Python identifier", task.entry_point));
  }
  if (task.kind == CodeTestKind::kCheckFunction && task.test_code.empty()) {
    throw std::invalid_argument("code task: test_code is empty (HumanEval style needs check(candidate))");
  }
  if (task.kind != CodeTestKind::kCheckFunction && task.tests.empty()) {
    throw std::invalid_argument("code task: tests is empty");
  }
}

CodeVerifyResult check_function(const std::string& program, const CodeTask& task, const SandboxOptions& options) {
  CodeVerifyResult r;
  r.tests_total = 1;
  const std::string marker = new_run_marker();
  const bool differential = !task.reference.empty();
  std::vector<SandboxFile> files = {
      {"main.py", check_function_driver(task.entry_point, differential, task.atol, marker)},
      {"solution.py", program},
      {"tests.py", task.test_code}};
  if (differential) {
    files.push_back({"reference.py", task.reference});
    files.push_back({"inputs.json", task.inputs_json.empty() ? "[]" : task.inputs_json});
  }
  // The differential run also computes the reference's outputs (3.6 s alone for
  // HumanEval+ 139 on this project's CI machine), so it gets kDifferentialTimeFactor
  // times the time limits.
  SandboxOptions run_options = options;
  if (differential) {
    run_options.limits.wall_seconds *= kDifferentialTimeFactor;
    run_options.limits.cpu_seconds *= static_cast<int>(kDifferentialTimeFactor);
  }
  const SandboxResult run = run_in_sandbox(files, "", run_options);
  r.wall_seconds = run.wall_seconds;
  r.limit = run.limit;
  if (driver_finished(run, marker, "passed")) {
    r.reward = 1;
    r.tests_passed = 1;
    r.reason = differential ? fmt::format("passed check() and {} inputs against the reference",
                                          last_line(run.stdout_text).substr(marker.size() + 8))
                            : "passed 1/1 tests (check)";
    return r;
  }
  if (run.limit != LimitHit::kNone) {
    r.reason = failure_reason(run, run_options.limits);
  } else if (auto verdict = driver_verdict(run, marker)) {
    r.reason = *verdict;
  } else {
    r.reason = failure_reason(run, run_options.limits);
  }
  return r;
}

CodeVerifyResult per_test(const std::string& program, const CodeTask& task, const SandboxOptions& options) {
  CodeVerifyResult r;
  r.tests_total = static_cast<int>(task.tests.size());
  const bool functional = task.kind == CodeTestKind::kFunctional;
  for (std::size_t i = 0; i < task.tests.size(); ++i) {
    const CodeTestCase& test = task.tests[i];
    const std::string marker = new_run_marker();
    std::vector<SandboxFile> files;
    if (functional) {
      files = {{"main.py", functional_driver(task.entry_point, marker)}, {"solution.py", program}};
    } else {
      files = {{"solution.py", program}};
    }
    const SandboxResult run = run_in_sandbox(files, test.input, options);
    r.wall_seconds += run.wall_seconds;
    const std::string prefix = fmt::format("failed test {}: ", i + 1);
    if (run.limit != LimitHit::kNone) {
      r.limit = run.limit;
      r.reason = prefix + failure_reason(run, options.limits);
      return r;
    }
    if (functional) {
      if (!driver_finished(run, marker, "result ")) {
        const auto verdict = driver_verdict(run, marker);
        r.reason = prefix + (verdict ? *verdict : failure_reason(run, options.limits));
        return r;
      }
      const std::string_view got_text = last_line(run.stdout_text).substr(marker.size() + 8);
      const auto want = parse_json(test.output);
      if (!want) {
        throw std::invalid_argument(
            fmt::format("code task: test {} output '{}' is not JSON", i + 1, one_line_excerpt(test.output)));
      }
      const auto got = parse_json(got_text);
      if (!got || !json_results_equal(*got, *want)) {
        r.reason = prefix + fmt::format("expected {} got {}", one_line_excerpt(test.output),
                                        one_line_excerpt(got_text));
        return r;
      }
    } else {
      if (!run.ok()) {
        r.reason = prefix + failure_reason(run, options.limits);
        return r;
      }
      if (auto diff = compare_outputs(test.output, run.stdout_text)) {
        r.reason = prefix + *diff;
        return r;
      }
    }
    ++r.tests_passed;
  }
  r.reward = 1;
  r.reason = fmt::format("passed {}/{} tests", r.tests_passed, r.tests_total);
  return r;
}

}  // namespace

std::string_view code_test_kind_name(CodeTestKind k) {
  switch (k) {
    case CodeTestKind::kCheckFunction: return "check";
    case CodeTestKind::kStdio: return "stdio";
    case CodeTestKind::kFunctional: return "functional";
  }
  return "?";
}

std::string failure_reason(const SandboxResult& run, const SandboxLimits& limits) {
  switch (run.limit) {
    case LimitHit::kWallTime: return fmt::format("timeout (wall {} s)", format_seconds(limits.wall_seconds));
    case LimitHit::kCpuTime: return fmt::format("cpu time limit ({} s)", limits.cpu_seconds);
    case LimitHit::kMemory: return "memory limit";
    case LimitHit::kOutput: return "output limit";
    case LimitHit::kNone: break;
  }
  if (run.exited && run.exit_code == 0) return "the program ended before the tests finished";
  const std::string_view err = last_line(run.stderr_text);
  if (!err.empty()) return "runtime error: " + one_line_excerpt(err, 200);
  if (run.exited) return fmt::format("runtime error: exit code {}", run.exit_code);
  return fmt::format("runtime error: killed by signal {} ({})", run.signal, sigabbrev_np(run.signal) ? sigabbrev_np(run.signal) : "?");
}

CodeVerifyResult verify_code(std::string_view response, const CodeTask& task, const SandboxOptions& options) {
  check_task(task);
  const std::optional<std::string> program = extract_program(response);
  if (!program) {
    CodeVerifyResult r;
    r.reason = "no code found";
    r.tests_total = task.kind == CodeTestKind::kCheckFunction ? 1 : static_cast<int>(task.tests.size());
    return r;
  }
  CodeVerifyResult r = task.kind == CodeTestKind::kCheckFunction ? check_function(*program, task, options)
                                                                 : per_test(*program, task, options);
  r.program = *program;
  return r;
}

}  // namespace disa::llm::verify

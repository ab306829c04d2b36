#include "llm/verify/code_verifier.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

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

// An integer beyond 64 bits (its text, from parse_json_exact_integers) against a
// double: Python's int == float, so only a float whose exact value has those digits.
bool big_integer_equals_float(const nlohmann::json& big, double x) {
  if (!std::isfinite(x) || std::trunc(x) != x) return false;
  const auto& digits = big.get_binary();
  return fmt::format("{:.0f}", x) == std::string(digits.begin(), digits.end());  // fmt prints the exact value
}

// nlohmann's DOM, except that an integer literal it would round to a double (beyond 64
// bits) is kept as its text in a binary value, which JSON text cannot otherwise hold.
class ExactIntegerDom final : public nlohmann::json_sax<nlohmann::json> {
 public:
  nlohmann::json root;

  bool null() override { return put(nullptr); }
  bool boolean(bool v) override { return put(v); }
  bool number_integer(number_integer_t v) override { return put(v); }
  bool number_unsigned(number_unsigned_t v) override { return put(v); }
  bool number_float(number_float_t v, const string_t& text) override {
    if (text.find_first_of(".eE") != string_t::npos) return put(v);
    return put(nlohmann::json::binary(std::vector<std::uint8_t>(text.begin(), text.end())));
  }
  bool string(string_t& v) override { return put(v); }
  bool binary(binary_t& v) override { return put(nlohmann::json::binary(v)); }
  bool start_object(std::size_t) override { return open(nlohmann::json::object()); }
  bool key(string_t& k) override {
    key_ = &(*stack_.back())[k];
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(nlohmann::json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception&) override { return false; }

 private:
  // Where a new value goes: the root, the open array's end, or the open object's key.
  // Only the open containers are held by pointer; adding to the innermost one moves
  // none of them.
  nlohmann::json* place(nlohmann::json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    nlohmann::json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *key_ = std::move(v);
    return key_;
  }
  bool put(nlohmann::json v) {
    place(std::move(v));
    return true;
  }
  bool open(nlohmann::json v) {
    stack_.push_back(place(std::move(v)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
  std::vector<nlohmann::json*> stack_;
  nlohmann::json* key_ = nullptr;
};

}  // namespace

std::optional<nlohmann::json> parse_json_exact_integers(std::string_view text) {
  ExactIntegerDom dom;
  if (!nlohmann::json::sax_parse(text, &dom, nlohmann::json::input_format_t::json, /*strict=*/true)) {
    return std::nullopt;
  }
  return std::move(dom.root);
}

bool json_results_equal(const nlohmann::json& a, const nlohmann::json& b, double tolerance) {
  if (a.is_binary() || b.is_binary()) {  // an integer beyond 64 bits: its digits, exactly
    if (a.is_binary() && b.is_binary()) return a.get_binary() == b.get_binary();
    const nlohmann::json& other = a.is_binary() ? b : a;
    return other.is_number_float() && big_integer_equals_float(a.is_binary() ? a : b, other.get<double>());
  }
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() && b.is_number_float()) {
      const double x = a.get<double>(), y = b.get<double>();
      return std::fabs(x - y) <= tolerance || std::fabs(x - y) <= tolerance * std::fabs(y);
    }
    if (a.is_number_float()) return integer_equals_float(b, a.get<double>());
    if (b.is_number_float()) return integer_equals_float(a, b.get<double>());
    return a == b;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!json_results_equal(a[i], b[i], tolerance)) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !json_results_equal(it.value(), b[it.key()], tolerance)) return false;
    }
    return true;
  }
  return a == b;
}

namespace {

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

// The program as run: the task's prompt, a newline, then the extracted program (see
// CodeTask::prompt).
std::string with_prompt(const CodeTask& task, const std::string& program) {
  return task.prompt.empty() ? program : task.prompt + "\n" + program;
}

// The largest reference payload (reference_driver's records) sent to the candidate's
// run, whose tmpfs holds it: HumanEval+'s are 6.8 MB in all, the largest 2.8 MB
// (HumanEval/14), as outputs over 64 KiB that are compared exactly travel as digests.
constexpr std::size_t kMaxReferencePayload = 16u << 20;

struct ReferenceOutputs {
  std::shared_ptr<const std::string> payload;  // null when the run failed
  std::string failure;                         // why
  double wall_seconds = 0;                     // 0 when it came from the cache
};

// One run of the reference (reference_driver) and its payload.
ReferenceOutputs run_reference(const CodeTask& task, const SandboxOptions& options) {
  const std::string marker = new_run_marker();
  SandboxOptions run_options = options;
  run_options.limits.output_bytes = std::max(options.limits.output_bytes, kMaxReferencePayload + 4096);
  const SandboxResult run = run_in_sandbox({{"main.py", reference_driver(task.entry_point, task.atol, marker)},
                                            {"reference.py", task.reference},
                                            {"inputs.json", task.inputs_json.empty() ? "[]" : task.inputs_json}},
                                           "", run_options);
  ReferenceOutputs out;
  out.wall_seconds = run.wall_seconds;
  const std::string header = "\n" + marker + " expected ";
  const std::size_t at = run.stdout_text.find(header);
  const std::size_t line_end = at == std::string::npos ? at : run.stdout_text.find('\n', at + header.size());
  if (!run.ok() || line_end == std::string::npos) {
    out.failure = run.ok() ? "it printed no outputs" : failure_reason(run, run_options.limits);
    return out;
  }
  const std::string size_text = run.stdout_text.substr(at + header.size(), line_end - at - header.size());
  const std::size_t body = line_end + 1;
  if (size_text != std::to_string(run.stdout_text.size() - body)) {
    out.failure = fmt::format("its outputs are cut short ({} of {} bytes)", run.stdout_text.size() - body, size_text);
    return out;
  }
  if (run.stdout_text.size() - body > kMaxReferencePayload) {
    out.failure = fmt::format("its outputs take {} bytes, over the {} sent to a run", run.stdout_text.size() - body,
                              kMaxReferencePayload);
    return out;
  }
  out.payload = std::make_shared<const std::string>(run.stdout_text.substr(body));
  return out;
}

// HumanEval+'s expected outputs, from a sandbox run of the reference alone: the
// candidate's run never holds the reference (a program could import or read it: `from
// reference import *` passed HumanEval/10), and the reference's time is not the
// candidate's (sharing one budget, 6 of 9 canonical runs timed out at --jobs 9 on 2
// cores). Kept for the life of the process by task and interpreter, and made once when
// several threads ask at the same time: a batch scores many responses per task, and
// the outputs do not change. A failed run is not kept (the next response retries).
ReferenceOutputs reference_outputs(const CodeTask& task, const SandboxOptions& options) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_future<ReferenceOutputs>> made;
  const std::string key = fmt::format("{}\n{:.17g}\n{}\n{}\n", task.entry_point, task.atol, options.python,
                                      task.reference.size()) +
                          task.reference + task.inputs_json;
  std::promise<ReferenceOutputs> promise;
  std::unique_lock lock(mutex);
  if (const auto found = made.find(key); found != made.end()) {
    const std::shared_future<ReferenceOutputs> earlier = found->second;
    lock.unlock();
    ReferenceOutputs out = earlier.get();  // rethrows the maker's SandboxError
    out.wall_seconds = 0;                  // not this call's time
    return out;
  }
  made.emplace(key, promise.get_future().share());
  lock.unlock();
  try {
    ReferenceOutputs out = run_reference(task, options);
    promise.set_value(out);
    if (!out.payload) {
      lock.lock();
      made.erase(key);
    }
    return out;
  } catch (...) {
    promise.set_exception(std::current_exception());
    lock.lock();
    made.erase(key);
    throw;
  }
}

CodeVerifyResult check_function(const std::string& program, const CodeTask& task, const SandboxOptions& options) {
  CodeVerifyResult r;
  r.tests_total = 1;
  const std::string marker = new_run_marker();
  const bool differential = !task.reference.empty();
  // The differential runs call the candidate, and the reference, on every input (3.6 s
  // for HumanEval+ 139's reference alone on this project's CI machine), so each gets
  // kDifferentialTimeFactor times the time limits.
  SandboxOptions run_options = options;
  if (differential) {
    run_options.limits.wall_seconds *= kDifferentialTimeFactor;
    run_options.limits.cpu_seconds *= static_cast<int>(kDifferentialTimeFactor);
  }
  std::vector<SandboxFile> files = {
      {"main.py", check_function_driver(task.entry_point, differential, task.atol, marker)},
      {"solution.py", with_prompt(task, program)},
      {"tests.py", task.test_code},
      {"prompt.py", task.prompt}};  // the tests' helpers (HumanEval/38's encode_cyclic), run by the driver itself
  if (differential) {
    const ReferenceOutputs expected = reference_outputs(task, run_options);
    r.wall_seconds = expected.wall_seconds;
    if (!expected.payload) {
      r.reason = "the reference failed: " + expected.failure;
      return r;
    }
    files.push_back({"inputs.json", task.inputs_json.empty() ? "[]" : task.inputs_json});
    files.push_back({"expected.pkl", *expected.payload});
  }
  const SandboxResult run = run_in_sandbox(files, "", run_options);
  r.wall_seconds += run.wall_seconds;
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

// Said after a verdict that compared outputs, so that a 0 for a task with several right
// answers is never mistaken for a wrong program (the datasets hold no checker).
std::string several_answers_note(const CodeTask& task) {
  if (task.compare.interactive) return std::string(kInteractiveNote);
  return task.compare.several_answers ? std::string(kSeveralAnswersNote) : "";
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
      const auto want = parse_json_exact_integers(test.output);
      if (!want) {
        throw std::invalid_argument(
            fmt::format("code task: test {} output '{}' is not JSON", i + 1, one_line_excerpt(test.output)));
      }
      const auto got = parse_json_exact_integers(got_text);
      if (!got || !json_results_equal(*got, *want, task.compare.tolerance)) {
        r.reason = prefix + fmt::format("expected {} got {}", one_line_excerpt(test.output),
                                        one_line_excerpt(got_text)) +
                   several_answers_note(task);
        return r;
      }
    } else {
      if (!run.ok()) {
        r.reason = prefix + failure_reason(run, options.limits);
        return r;
      }
      if (auto diff = compare_outputs(test.output, run.stdout_text, task.compare)) {
        r.reason = prefix + *diff + several_answers_note(task);
        return r;
      }
    }
    ++r.tests_passed;
  }
  r.reward = 1;
  r.reason = fmt::format("passed {}/{} tests", r.tests_passed, r.tests_total) + several_answers_note(task);
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
    r.several_answers = task.compare.several_answers;
    r.interactive = task.compare.interactive;
    r.tests_total = task.kind == CodeTestKind::kCheckFunction ? 1 : static_cast<int>(task.tests.size());
    return r;
  }
  CodeVerifyResult r = task.kind == CodeTestKind::kCheckFunction ? check_function(*program, task, options)
                                                                 : per_test(*program, task, options);
  r.program = *program;
  r.several_answers = task.compare.several_answers;
  r.interactive = task.compare.interactive;
  return r;
}

}  // namespace disa::llm::verify

// The code reward: 1 when the program in a response passes every test of its task in
// the sandbox (code_sandbox.h), else 0, with the reason: "passed N/N tests",
// "failed test 3: expected '1' got '2' (token 1)", "timeout (wall 6 s)",
// "cpu time limit (5 s)", "memory limit", "output limit", "runtime error: <last
// stderr line>", "no code found".
//
// Three kinds of test, one per benchmark family:
//   kCheckFunction  HumanEval: prompt + program + the test source + check(entry_point),
//                   one run; with `reference` and `inputs` (HumanEval+) the reference's
//                   outputs are computed first in a run of its own, and the candidate's
//                   run then calls the candidate on every input and compares (floats
//                   within atol, 1e-6 when atol is 0, + 1e-7 relative; find_zero by
//                   |poly(x)| <= atol: evalplus's rules).
//   kStdio          LiveCodeBench stdin / Codeforces: one run per test, stdin -> stdout,
//                   compared token-wise (compare_outputs); stops at the first failure.
//   kFunctional     LiveCodeBench LeetCode tasks: Solution().<method>(*args), args one
//                   JSON value per input line, the result compared as JSON with the output.
// Not a defence against reward hacking: the program runs in the same interpreter as
// the test code and could, deliberately, defeat it; the sandbox protects the machine.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/verify/code_extraction.h"
#include "llm/verify/code_sandbox.h"

namespace disa::llm::verify {

enum class CodeTestKind { kCheckFunction, kStdio, kFunctional };

std::string_view code_test_kind_name(CodeTestKind k);  // "check", "stdio", "functional"

struct CodeTestCase {
  std::string input;
  std::string output;
};

struct CodeTask {
  CodeTestKind kind = CodeTestKind::kStdio;
  std::string entry_point;  // kCheckFunction: the function; kFunctional: Solution's method
  // kCheckFunction, optional: source the program is appended to (HumanEval's prompt:
  // its imports, helpers and the function's def with only its docstring). The program
  // run is prompt + "\n" + the extracted program, as human-eval runs prompt + completion:
  // a response with the whole function redefines the docstring-only def, one with only
  // the (indented) body completes it; either way the prompt's imports and helpers exist.
  std::string prompt;
  std::string test_code;    // kCheckFunction: source defining check(candidate)
  std::string reference;    // kCheckFunction, optional: a correct program (HumanEval+)
  std::string inputs_json;  // kCheckFunction with reference: JSON list of argument lists
  double atol = 0;          // kCheckFunction with reference
  std::vector<CodeTestCase> tests;  // kStdio, kFunctional
  // kStdio: how outputs compare (case, tolerance; several_answers only labels the
  // verdict); kFunctional uses its tolerance for floats.
  OutputComparison compare;
};

// HumanEval+ runs (check() plus the candidate on every input) get this many times
// SandboxOptions' wall and CPU limits; so does the reference's run, which is separate
// (its time never counts against the candidate) and made once per task and interpreter
// in a process (its outputs are kept for the next response to the same task).
inline constexpr double kDifferentialTimeFactor = 3;

struct CodeVerifyResult {
  int reward = 0;  // 0 or 1
  std::string reason;
  std::string program;  // as extracted from the response (without the task's prompt)
  int tests_passed = 0;
  int tests_total = 0;
  LimitHit limit = LimitHit::kNone;
  double wall_seconds = 0;  // all runs together (the reference's when it ran for this call)
  // The task admits several right outputs but was judged against the stored one (no
  // checker): a reward of 0 may be a right answer. Set whatever the verdict, so that a
  // summary can count such tasks; the reason of a compared verdict says it too.
  bool several_answers = false;
  // The task is interactive (compared with a stored transcript, no interactor): set
  // whatever the verdict, as several_answers (which it implies).
  bool interactive = false;
};

// What a several-answers verdict's reason ends with.
inline constexpr std::string_view kSeveralAnswersNote = " (task admits several answers; compared with the stored one)";
// What an interactive task's verdict ends with instead.
inline constexpr std::string_view kInteractiveNote =
    " (interactive problem without its interactor; compared with the stored transcript)";

// Throws SandboxError when the sandbox cannot run (never a reward of 0 for that) and
// std::invalid_argument for a malformed task (names the field).
CodeVerifyResult verify_code(std::string_view response, const CodeTask& task, const SandboxOptions& options = {});

// A functional task's result against the expected one, both parsed JSON: floats within
// `tolerance` (1e-6 unless the task states one) absolute or relative of each other; an integer and a float equal only when the
// float is that integer (Python's int == float: 3.0 is 3, 1e18 is not
// 1000000000000000001); arrays and objects element by element; the rest exactly.
// Integers beyond 64 bits, which nlohmann::json::parse turns into doubles, compare
// exactly when parsed by parse_json_exact_integers (10**30 + 1 is not 10**30).
bool json_results_equal(const nlohmann::json& a, const nlohmann::json& b,
                        double tolerance = kDefaultOutputTolerance);

// JSON text as nlohmann::json, except that an integer literal too large for 64 bits is
// kept as its digits (a binary value holding the text, sign included) rather than the
// nearest double; nullopt when the text is not JSON.
std::optional<nlohmann::json> parse_json_exact_integers(std::string_view text);

// Reason for a run that did not end with exit 0 ("timeout (wall 6 s)", ...).
std::string failure_reason(const SandboxResult& run, const SandboxLimits& limits);

}  // namespace disa::llm::verify

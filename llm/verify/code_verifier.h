// The code reward: 1 when the program in a response passes every test of its task in
// the sandbox (code_sandbox.h), else 0, with the reason: "passed N/N tests",
// "failed test 3: expected '1' got '2' (token 1)", "timeout (wall 6 s)",
// "cpu time limit (5 s)", "memory limit", "output limit", "runtime error: <last
// stderr line>", "no code found".
//
// Three kinds of test, one per benchmark family:
//   kCheckFunction  HumanEval: program + the test source + check(entry_point), one run;
//                   with `reference` and `inputs` (HumanEval+) the same run then calls
//                   the candidate and the reference on every input and compares
//                   (floats within atol, 1e-6 when atol is 0, + 1e-7 relative: evalplus).
//   kStdio          LiveCodeBench stdin / Codeforces: one run per test, stdin -> stdout,
//                   compared token-wise (compare_outputs); stops at the first failure.
//   kFunctional     LiveCodeBench LeetCode tasks: Solution().<method>(*args), args one
//                   JSON value per input line, the result compared as JSON with the output.
// Not a defence against reward hacking: the program runs in the same interpreter as
// the test code and could, deliberately, defeat it; the sandbox protects the machine.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

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
  std::string test_code;    // kCheckFunction: source defining check(candidate)
  std::string reference;    // kCheckFunction, optional: a correct program (HumanEval+)
  std::string inputs_json;  // kCheckFunction with reference: JSON list of argument lists
  double atol = 0;          // kCheckFunction with reference
  std::vector<CodeTestCase> tests;  // kStdio, kFunctional
};

// HumanEval+ runs (check() plus the candidate and the reference on every input) get
// this many times SandboxOptions' wall and CPU limits.
inline constexpr double kDifferentialTimeFactor = 3;

struct CodeVerifyResult {
  int reward = 0;  // 0 or 1
  std::string reason;
  std::string program;  // as extracted from the response
  int tests_passed = 0;
  int tests_total = 0;
  LimitHit limit = LimitHit::kNone;
  double wall_seconds = 0;  // all runs together
};

// Throws SandboxError when the sandbox cannot run (never a reward of 0 for that) and
// std::invalid_argument for a malformed task (names the field).
CodeVerifyResult verify_code(std::string_view response, const CodeTask& task, const SandboxOptions& options = {});

// A functional task's result against the expected one, both parsed JSON: floats within
// 1e-6 absolute or relative of each other; an integer and a float equal only when the
// float is that integer (Python's int == float: 3.0 is 3, 1e18 is not
// 1000000000000000001); arrays and objects element by element; the rest exactly.
bool json_results_equal(const nlohmann::json& a, const nlohmann::json& b);

// Reason for a run that did not end with exit 0 ("timeout (wall 6 s)", ...).
std::string failure_reason(const SandboxResult& run, const SandboxLimits& limits);

}  // namespace disa::llm::verify

// The Python test drivers the verifier runs in the sandbox around a candidate
// program. Each driver execs the candidate from solution.py in its own namespace
// (so `if __name__ == "__main__":` blocks do not run), runs the tests and, only when
// they all pass, prints `<marker> passed N` as its last stdout line: a program that
// exits early (exit(), os._exit) never prints it. A failure is reported as the last
// stderr line `<marker> <reason>`. The marker is random per run (not a secret from a
// program that reads the driver: this guards against accidents, not reward hacking).
#pragma once

#include <string>

namespace disa::llm::verify {

// A fresh random marker, "@@disa-<16 hex digits>".
std::string new_run_marker();

// HumanEval: exec solution.py, then tests.py (the benchmark's check(candidate), run in
// the candidate's namespace because some tests call the prompt's helpers), then
// check(<entry_point>). With `differential`, also reference.py's <entry_point> on every
// argument list in inputs.json: candidate and reference outputs must be equal, floats
// within atol (1e-6 when atol is 0) + 1e-7 relative (evalplus's rule).
std::string check_function_driver(const std::string& entry_point, bool differential, double atol,
                                  const std::string& marker);

// LiveCodeBench LeetCode tasks: the usual imports, exec solution.py, then
// Solution().<method>(*args) with one JSON argument per stdin line; prints
// `<marker> result <json>` as its last line.
std::string functional_driver(const std::string& method, const std::string& marker);

}  // namespace disa::llm::verify

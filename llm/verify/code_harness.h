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

// HumanEval: read tests.py (and with `differential` inputs.json and expected.pkl) and
// remove them, exec solution.py, then the tests (the benchmark's check(candidate), run
// in the candidate's namespace, as human-eval does), then check(<entry_point>). With
// `differential`, also <entry_point> on every argument list in inputs.json against the
// reference's outputs in expected.pkl (reference_driver's payload): equal, floats within
// atol (1e-6 when atol is 0) + 1e-7 relative (evalplus's rule); for find_zero
// (HumanEval/32), as evalplus, any x with |poly(x)| <= atol.
std::string check_function_driver(const std::string& entry_point, bool differential, double atol,
                                  const std::string& marker);

// HumanEval+'s reference, run on its own (never where the candidate runs, which could
// import or read it): exec reference.py, call <entry_point> on every argument list in
// inputs.json, print `\n<marker> expected <N>\n` and N bytes of pickled records (one per
// input: None when the reference raised, the output, or digests of an output too large
// to send that is compared exactly) as its only stdout.
std::string reference_driver(const std::string& entry_point, double atol, const std::string& marker);

// LiveCodeBench LeetCode tasks: the usual imports, read the arguments (one JSON value
// per stdin line), exec solution.py, then Solution().<method>(*args); prints
// `<marker> result <json>` as its last line.
std::string functional_driver(const std::string& method, const std::string& marker);

}  // namespace disa::llm::verify

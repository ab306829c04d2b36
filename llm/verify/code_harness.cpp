#include "llm/verify/code_harness.h"

#include <fmt/format.h>

#include <random>

namespace disa::llm::verify {
namespace {

// Shared by the drivers: run a file in a namespace, report the first failure.
constexpr const char* kDriverCommon = R"PY(import sys, json, copy, math, traceback
MARK = @MARKER@
# The verdict lines start with a newline: a program whose own output ends without one
# (sys.stdout.write("x"), print(..., end="")) must not glue it to the marker, which the
# verifier looks for at the start of the last line.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # outputs such as special_factorial(505) print in full

def report(reason):
    sys.stdout.flush()
    print("\n" + MARK + " " + " ".join(str(reason).split())[:300], file=sys.stderr)
    sys.exit(1)

def run_file(path, ns):
    with open(path) as f:
        source = f.read()
    exec(compile(source, path, "exec"), ns)

def error_line(e):
    return traceback.format_exception_only(type(e), e)[-1].strip()

def guarded(what, fn):
    try:
        return fn()
    except SystemExit as e:
        report("runtime error: the program called exit({}) {}".format(e.code, what))
    except MemoryError:
        report("runtime error: MemoryError")
    except RecursionError as e:
        report("runtime error: " + error_line(e))
    except AssertionError as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "tests.py"]
        where = "failed test at tests.py:{}: {}".format(frames[-1].lineno, frames[-1].line) if frames else "failed test: " + error_line(e)
        report(where)
    except BaseException as e:
        report("runtime error: " + error_line(e))
)PY";

constexpr const char* kCheckDriver = R"PY(
ns = {"__name__": "solution"}
guarded("while loading", lambda: run_file("solution.py", ns))
if @ENTRY_REPR@ not in ns:
    report("runtime error: the program defines no function @ENTRY@")
guarded("while loading the tests", lambda: run_file("tests.py", ns))
guarded("during check()", lambda: ns["check"](ns[@ENTRY_REPR@]))
count = 1
if @DIFFERENTIAL@:
    ref_ns = {"__name__": "reference"}
    run_file("reference.py", ref_ns)
    reference = ref_ns[@ENTRY_REPR@]
    with open("inputs.json") as f:
        inputs = json.load(f)
    atol = @ATOL@

    def is_floats(x):
        if isinstance(x, float):
            return True
        if isinstance(x, (list, tuple)) and x:
            return all(isinstance(v, float) for v in x)
        return False

    def close(got, want, tol):
        if isinstance(want, (list, tuple)):
            return isinstance(got, (list, tuple)) and len(got) == len(want) and all(close(g, w, tol) for g, w in zip(got, want))
        if isinstance(want, bool) or isinstance(got, bool) or not isinstance(want, (int, float)) or not isinstance(got, (int, float)):
            return got == want
        if math.isnan(want) or math.isnan(got):
            return math.isnan(want) and math.isnan(got)
        return abs(got - want) <= tol + 1e-7 * abs(want)

    def short(x):
        text = repr(x)
        return text if len(text) <= 80 else text[:80] + "..."

    count = 0
    for i, args in enumerate(inputs, 1):
        try:
            want = reference(*copy.deepcopy(args))
        except BaseException:
            continue  # an input the reference itself rejects tests nothing
        got = guarded("on input {}".format(i), lambda: ns[@ENTRY_REPR@](*copy.deepcopy(args)))
        count += 1
        if got == want:
            continue
        tol = atol if atol != 0 else (1e-6 if is_floats(want) else 0)
        if tol != 0 and close(got, want, tol):
            continue
        report("failed test {}: input {} expected {} got {}".format(i, short(args), short(want), short(got)))
sys.stdout.flush()
print("\n" + MARK + " passed " + str(count))
)PY";

constexpr const char* kFunctionalDriver = R"PY(
ns = {"__name__": "solution"}
exec("from typing import *\nfrom collections import *\nfrom heapq import *\nfrom math import *\n"
     "from itertools import *\nfrom functools import *\nfrom bisect import *\n"
     "import collections, heapq, math, itertools, functools, bisect, string, re, sys", ns)
guarded("while loading", lambda: run_file("solution.py", ns))
if "Solution" not in ns:
    report("runtime error: the program defines no class Solution")
args = [json.loads(line) for line in sys.stdin.read().split("\n") if line.strip()]
solution = guarded("in Solution()", lambda: ns["Solution"]())
if not hasattr(solution, @METHOD_REPR@):
    report("runtime error: Solution has no method @METHOD@")
result = guarded("in @METHOD@", lambda: getattr(solution, @METHOD_REPR@)(*args))
sys.stdout.flush()
print("\n" + MARK + " result " + json.dumps(result))
)PY";

}  // namespace

std::string new_run_marker() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("@@disa-{:016x}", rng());
}

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

}  // namespace

// Identifiers and the hex marker need no escaping inside Python quotes.
std::string check_function_driver(const std::string& entry_point, bool differential, double atol,
                                  const std::string& marker) {
  std::string text = std::string(kDriverCommon) + kCheckDriver;
  replace_all(text, "@MARKER@", "'" + marker + "'");
  replace_all(text, "@ENTRY_REPR@", "'" + entry_point + "'");
  replace_all(text, "@ENTRY@", entry_point);
  replace_all(text, "@DIFFERENTIAL@", differential ? "True" : "False");
  replace_all(text, "@ATOL@", fmt::format("{:.17g}", atol));
  return text;
}

std::string functional_driver(const std::string& method, const std::string& marker) {
  std::string text = std::string(kDriverCommon) + kFunctionalDriver;
  replace_all(text, "@MARKER@", "'" + marker + "'");
  replace_all(text, "@METHOD_REPR@", "'" + method + "'");
  replace_all(text, "@METHOD@", method);
  return text;
}

}  // namespace disa::llm::verify

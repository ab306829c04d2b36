// The code verifier (llm/verify/code_verifier.h) on small tasks of each kind: the
// reward and the reason for passing, wrong, crashing, early-exiting and slow
// programs. Skips where the sandbox cannot be built.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

#include "llm/verify/code_verifier.h"

namespace disa::llm::verify {
namespace {

#define REQUIRE_SANDBOX() \
  if (const auto why = sandbox_unavailable_reason()) GTEST_SKIP() << "no sandbox here: " << *why

CodeTask check_task() {
  CodeTask t;
  t.kind = CodeTestKind::kCheckFunction;
  t.entry_point = "add";
  t.test_code = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n";
  return t;
}

TEST(CodeVerifier, CheckFunctionPasses) {
  REQUIRE_SANDBOX();
  const auto r = verify_code("```python\ndef add(a, b):\n    return a + b\n```", check_task());
  EXPECT_EQ(r.reward, 1) << r.reason;
  EXPECT_EQ(r.reason, "passed 1/1 tests (check)");
  EXPECT_EQ(r.program, "def add(a, b):\n    return a + b\n");
}

TEST(CodeVerifier, CheckFunctionNamesTheFailingAssert) {
  REQUIRE_SANDBOX();
  const auto r = verify_code("```python\ndef add(a, b):\n    return a - b\n```", check_task());
  EXPECT_EQ(r.reward, 0);
  EXPECT_EQ(r.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
}

TEST(CodeVerifier, CheckFunctionRuntimeErrorAndMissingFunction) {
  REQUIRE_SANDBOX();
  EXPECT_EQ(verify_code("```python\ndef add(a, b):\n    return a / 0\n```", check_task()).reason,
            "runtime error: ZeroDivisionError: division by zero");
  EXPECT_EQ(verify_code("```python\ndef plus(a, b):\n    return a + b\n```", check_task()).reason,
            "runtime error: the program defines no function add");
  EXPECT_EQ(verify_code("```python\ndef add(a, b)\n    return a + b\n```", check_task()).reason.rfind(
                "runtime error: SyntaxError", 0),
            0u);
}

TEST(CodeVerifier, ExitingBeforeTheTestsIsNoPass) {
  REQUIRE_SANDBOX();
  const auto a = verify_code("```python\nimport sys\nsys.exit(0)\n```", check_task());
  EXPECT_EQ(a.reward, 0);
  EXPECT_EQ(a.reason, "runtime error: the program called exit(0) while loading");
  const auto b = verify_code("```python\nimport os\ndef add(a, b):\n    os._exit(0)\n```", check_task());
  EXPECT_EQ(b.reward, 0);
  EXPECT_EQ(b.reason, "the program ended before the tests finished");
}

TEST(CodeVerifier, OutputWithoutAFinalNewlineDoesNotHideTheDriversVerdict) {
  // The drivers' marker line must start a line of its own even when the program's
  // output ends without a newline (was: "the program ended before the tests finished").
  REQUIRE_SANDBOX();
  const auto check = verify_code(
      "```python\nimport sys\ndef add(a, b):\n    sys.stdout.write('debug')\n    return a + b\n```", check_task());
  EXPECT_EQ(check.reward, 1) << check.reason;
  const auto failing = verify_code(
      "```python\nimport sys\ndef add(a, b):\n    sys.stderr.write('note')\n    return a - b\n```", check_task());
  EXPECT_EQ(failing.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
  CodeTask t;
  t.kind = CodeTestKind::kFunctional;
  t.entry_point = "twice";
  t.tests = {{"4", "8"}};
  const auto functional = verify_code(
      "```python\nclass Solution:\n    def twice(self, x):\n        print('computing', end='')\n"
      "        return 2 * x\n```",
      t);
  EXPECT_EQ(functional.reward, 1) << functional.reason;
}

TEST(CodeVerifier, DifferentialAgainstTheReference) {
  REQUIRE_SANDBOX();
  CodeTask t = check_task();
  t.reference = "def add(a, b):\n    return a + b\n";
  t.inputs_json = "[[1, 2], [10, 20], [0.1, 0.2]]";
  const auto good = verify_code("```python\ndef add(a, b):\n    return b + a + 0.0\n```", t);
  EXPECT_EQ(good.reward, 1) << good.reason;
  EXPECT_EQ(good.reason, "passed check() and 3 inputs against the reference");
  // Right on check()'s two asserts, wrong beyond them.
  const auto bad = verify_code("```python\ndef add(a, b):\n    return a + b if a < 5 else 0\n```", t);
  EXPECT_EQ(bad.reward, 0);
  EXPECT_EQ(bad.reason, "failed test 2: input [10, 20] expected 30 got 0");
}

// The "always-equal" reward hack: an object whose __eq__ is always true passed every
// assert of check() and every input against the reference. What the candidate returns
// must now be plain built-in data, checked before the tests see it.
constexpr const char* kAlwaysEqual =
    "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
    "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n";

constexpr const char* kNotPlainData =
    " (only built-in data is compared: a class of the program's own could make == always true)";

std::string with_always_equal(const std::string& body) {
  return std::string("```python\n") + kAlwaysEqual + body + "```";
}

CodeTask task_with(const std::string& entry_point, const std::string& test_code) {
  CodeTask t;
  t.kind = CodeTestKind::kCheckFunction;
  t.entry_point = entry_point;
  t.test_code = test_code;
  return t;
}

TEST(CodeVerifier, AnObjectThatEqualsEverythingFailsCheck) {
  REQUIRE_SANDBOX();
  const auto r = verify_code(with_always_equal("def add(a, b):\n    return AlwaysEqual()\n"), check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;  // was: passed 1/1 tests (check)
  EXPECT_EQ(r.reason, std::string("failed test: add returned an object of type AlwaysEqual") + kNotPlainData);
}

TEST(CodeVerifier, AnObjectThatEqualsEverythingFailsAgainstTheReference) {
  REQUIRE_SANDBOX();
  CodeTask t = check_task();
  t.reference = "def add(a, b):\n    return a + b\n";
  t.inputs_json = "[[1, 2], [10, 20], [0.1, 0.2]]";
  const auto always = verify_code(with_always_equal("def add(a, b):\n    return AlwaysEqual()\n"), t);
  EXPECT_EQ(always.reward, 0) << always.reason;
  EXPECT_EQ(always.reason, std::string("failed test: add returned an object of type AlwaysEqual") + kNotPlainData);
  // Right on check()'s two asserts, the hack beyond them: caught in the loop over the
  // reference's inputs (was: passed check() and 3 inputs against the reference).
  const auto beyond = verify_code(
      with_always_equal("def add(a, b):\n    return a + b if a in (1, -1) else AlwaysEqual()\n"), t);
  EXPECT_EQ(beyond.reward, 0) << beyond.reason;
  EXPECT_EQ(beyond.reason,
            std::string("failed test 2: add returned an object of type AlwaysEqual on input [10, 20]") + kNotPlainData);
}

// A subclass of a built-in type can override __eq__ too: only the exact types pass.
TEST(CodeVerifier, ASubclassOfIntThatEqualsEverythingFails) {
  REQUIRE_SANDBOX();
  const auto r = verify_code(
      "```python\nclass Int(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
      "def add(a, b):\n    return Int(0)\n```",
      check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;
  EXPECT_EQ(r.reason, std::string("failed test: add returned an object of type Int") + kNotPlainData);
}

TEST(CodeVerifier, ContainersHoldingAnObjectThatEqualsEverythingFail) {
  REQUIRE_SANDBOX();
  const CodeTask pair = task_with("pair", "def check(candidate):\n    assert candidate(1, 2) == [1, 2]\n");
  const auto list = verify_code(with_always_equal("def pair(a, b):\n    return [AlwaysEqual(), AlwaysEqual()]\n"), pair);
  EXPECT_EQ(list.reward, 0) << list.reason;
  EXPECT_EQ(list.reason, std::string("failed test: pair returned a list holding an object of type AlwaysEqual") +
                             kNotPlainData);
  const CodeTask tally = task_with("tally", "def check(candidate):\n    assert candidate('aab') == {'a': 2, 'b': 1}\n");
  const auto dict = verify_code(
      with_always_equal("def tally(s):\n    return {'a': AlwaysEqual(), 'b': 1}\n"), tally);
  EXPECT_EQ(dict.reward, 0) << dict.reason;
  EXPECT_EQ(dict.reason, std::string("failed test: tally returned a dict holding an object of type AlwaysEqual") +
                             kNotPlainData);
  // Deep inside (in a tuple in a frozenset in a dict key's tuple in a list) it is found too.
  const auto deep = verify_code(
      with_always_equal("def pair(a, b):\n    return [1, {(2, frozenset({(3, AlwaysEqual())})): [4]}]\n"), pair);
  EXPECT_EQ(deep.reason, std::string("failed test: pair returned a list holding an object of type AlwaysEqual") +
                             kNotPlainData);
}

// The types are compared by identity: `type(x) in {int, ...}` hashes type(x) and calls
// its ==, which a metaclass of the program's can define (hash(int), always equal); that
// passed as an int, alone or in a list.
TEST(CodeVerifier, AMetaclassCannotMakeAClassLookBuiltIn) {
  REQUIRE_SANDBOX();
  const std::string meta =
      "class Meta(type):\n    def __hash__(cls):\n        return hash(int)\n    def __eq__(cls, other):\n"
      "        return True\n"
      "class AlwaysEqual(metaclass=Meta):\n    def __eq__(self, other):\n        return True\n"
      "    __hash__ = object.__hash__\n";
  const auto alone = verify_code("```python\n" + meta + "def add(a, b):\n    return AlwaysEqual()\n```", check_task());
  EXPECT_EQ(alone.reward, 0) << alone.reason;
  EXPECT_EQ(alone.reason, std::string("failed test: add returned an object of type AlwaysEqual") + kNotPlainData);
  const CodeTask pair = task_with("pair", "def check(candidate):\n    assert candidate(1, 2) == [1, 2]\n");
  const auto listed =
      verify_code("```python\n" + meta + "def pair(a, b):\n    return [1, AlwaysEqual()]\n```", pair);
  EXPECT_EQ(listed.reward, 0) << listed.reason;
  EXPECT_EQ(listed.reason, std::string("failed test: pair returned a list holding an object of type AlwaysEqual") +
                               kNotPlainData);
}

// Every built-in data type a right answer may be made of still passes.
TEST(CodeVerifier, PlainDataOfEveryBuiltInTypePasses) {
  REQUIRE_SANDBOX();
  const std::string value =
      "[1, 2.5, 3j, True, 'a', b'b', None, (1, (2,)), {'k': [1, {2: 3}]}, {4, (5, 6)}, frozenset({7})]";
  const CodeTask t = task_with("data", "def check(candidate):\n    assert candidate() == " + value + "\n");
  const auto r = verify_code("```python\ndef data():\n    return " + value + "\n```", t);
  EXPECT_EQ(r.reward, 1) << r.reason;
  EXPECT_EQ(r.reason, "passed 1/1 tests (check)");
  // Shared objects are fine: the same list twice is seen once.
  const CodeTask twice = task_with("twice", "def check(candidate):\n    assert candidate(3) == [[3], [3]]\n");
  const auto shared = verify_code("```python\ndef twice(n):\n    x = [n]\n    return [x, x]\n```", twice);
  EXPECT_EQ(shared.reward, 1) << shared.reason;
}

// The traversal is iterative and remembers the containers it has seen: a list that
// holds itself ends, and 10000 levels of nesting do not hit the recursion limit.
TEST(CodeVerifier, SelfReferencingAndDeeplyNestedResultsAreChecked) {
  REQUIRE_SANDBOX();
  SandboxOptions o;
  o.limits.wall_seconds = 3;
  const auto cyclic = verify_code("```python\ndef add(a, b):\n    x = [a + b]\n    x.append(x)\n    return x\n```",
                                  check_task(), o);
  EXPECT_EQ(cyclic.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
  const auto cyclic_hack = verify_code(
      with_always_equal("def add(a, b):\n    x = [1, {}]\n    x[1]['self'] = x\n    x.append(AlwaysEqual())\n"
                        "    return x\n"),
      check_task(), o);
  EXPECT_EQ(cyclic_hack.reason,
            std::string("failed test: add returned a list holding an object of type AlwaysEqual") + kNotPlainData);
  const auto deep = verify_code(
      "```python\ndef add(a, b):\n    x = [a + b]\n    for _ in range(10000):\n        x = [x]\n    return x\n```",
      check_task(), o);
  // Deeper than marshal goes (2000 levels): the answer cannot leave the program's process.
  EXPECT_EQ(deep.reward, 0);
  EXPECT_EQ(deep.reason, "runtime error: the result cannot be sent: object too deeply nested to marshal");
  const auto deep_hack = verify_code(
      with_always_equal("def add(a, b):\n    x = [AlwaysEqual()]\n    for _ in range(10000):\n        x = [x]\n"
                        "    return x\n"),
      check_task(), o);
  EXPECT_EQ(deep_hack.reason,
            std::string("failed test: add returned a list holding an object of type AlwaysEqual") + kNotPlainData);
}

// The verdict goes straight to file descriptor 2 and the process ends at once, with
// what the driver bound before the program ran: a program that replaced sys.stderr,
// os._exit, sys.exit and builtins.type still gets it.
TEST(CodeVerifier, TheProgramCannotInterceptTheRejection) {
  REQUIRE_SANDBOX();
  const auto r = verify_code(
      with_always_equal("import os, sys, builtins\nsys.stderr = open(os.devnull, 'w')\nos._exit = lambda code: None\n"
                        "sys.exit = lambda *a: None\nbuiltins.type = lambda x: int\n"
                        "def add(a, b):\n    return AlwaysEqual()\n"),
      check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;
  EXPECT_EQ(r.reason, std::string("failed test: add returned an object of type AlwaysEqual") + kNotPlainData);
}

// The candidate's run holds neither the reference nor the harness files: `from
// reference import *` passed every input (the reference sat in its directory, on
// sys.path), and a program could read what the tests expect.
TEST(CodeVerifier, TheCandidateCannotReachTheReferenceOrTheHarnessFiles) {
  REQUIRE_SANDBOX();
  CodeTask t = check_task();
  t.reference = "def add(a, b):\n    return a + b\n";
  t.inputs_json = "[[1, 2], [10, 20], [0.1, 0.2]]";
  const auto imported = verify_code("```python\nfrom reference import *\n```", t);
  EXPECT_EQ(imported.reward, 0) << imported.reason;
  EXPECT_EQ(imported.reason, "runtime error: ModuleNotFoundError: No module named 'reference'");
  const auto read = verify_code("```python\nexec(open('reference.py').read())\n```", t);
  EXPECT_EQ(read.reward, 0) << read.reason;
  // A correct program that would answer wrongly if it could see any harness file.
  const auto looked = verify_code(
      "```python\nimport os\nseen = set(os.listdir('.')) & {'reference.py', 'tests.py', 'inputs.json', "
      "'expected.pkl', 'main.py'}\ndef add(a, b):\n    return a + b if not seen else str(sorted(seen))\n```",
      t);
  EXPECT_EQ(looked.reward, 1) << looked.reason;
}

// The driver reads tests.py before the program runs: a program that replaced it with a
// check() that passes everything was rewarded.
TEST(CodeVerifier, TheProgramCannotRewriteTheTests) {
  REQUIRE_SANDBOX();
  const std::string rewrite =
      "```python\nimport os\nos.remove('tests.py')\nopen('tests.py', 'w').write('def check(candidate):\\n    pass\\n')\n"
      "def add(a, b):\n    return 0\n```";
  const auto r = verify_code(rewrite, check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;
  EXPECT_EQ(r.reason, "runtime error: FileNotFoundError: [Errno 2] No such file or directory: 'tests.py'");
  // Replacing it without removing it first: the tests were already read.
  const auto overwrite = verify_code(
      "```python\nopen('tests.py', 'w').write('def check(candidate):\\n    pass\\n')\ndef add(a, b):\n    return 0\n```",
      check_task());
  EXPECT_EQ(overwrite.reward, 0) << overwrite.reason;
  EXPECT_EQ(overwrite.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
}

// The program runs in a process of its own; the tests, the comparisons and the verdict
// in the driver's, which runs none of the program's code. Each of these got reward 1
// when the program shared the driver's interpreter.
TEST(CodeVerifier, TheProgramCannotPrintTheVerdict) {
  REQUIRE_SANDBOX();
  const auto r = verify_code(
      "```python\nimport __main__, os\nprint('\\n' + __main__.MARK + ' passed 1')\nos._exit(0)\n```", check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;  // was: passed 1/1 tests (check)
  EXPECT_EQ(r.reason, "the program ended before the tests finished");
  // During check(), with the marker it could find in memory: its stdout is not the driver's.
  const auto during = verify_code(
      "```python\nimport os, sys\nmark = [v for v in vars(sys.modules['__main__']).values()\n"
      "        if isinstance(v, str) and v.startswith('@@disa-')]\n"
      "def add(a, b):\n    for m in mark:\n        os.write(1, ('\\n' + m + ' passed 1\\n').encode())\n"
      "    os._exit(0)\n```",
      check_task());
  EXPECT_EQ(during.reward, 0) << during.reason;
  EXPECT_EQ(during.reason, "the program ended before the tests finished");
}

TEST(CodeVerifier, TheProgramCannotReplaceTheDriversFunctions) {
  REQUIRE_SANDBOX();
  const auto guarded = verify_code(
      "```python\nimport __main__\n__main__.guarded = lambda what, fn: None\ndef add(a, b):\n    return 0\n```",
      check_task());
  EXPECT_EQ(guarded.reward, 0) << guarded.reason;  // was: passed 1/1 tests (check)
  EXPECT_EQ(guarded.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
  const auto unwrapped = verify_code(
      with_always_equal("import __main__\n__main__.plain_results = lambda f, n: f\n"
                        "def add(a, b):\n    return AlwaysEqual()\n"),
      check_task());
  EXPECT_EQ(unwrapped.reward, 0) << unwrapped.reason;  // was: passed 1/1 tests (check)
  EXPECT_EQ(unwrapped.reason, std::string("failed test: add returned an object of type AlwaysEqual") + kNotPlainData);
}

// The program's process (same uid as the driver) cannot open the driver's stdout through
// /proc to write a verdict there. Right answers only if it can. (Seen passing without the
// driver's prctl(PR_SET_DUMPABLE, 0) too: the pipe belongs to the caller's uid. The prctl
// is for ptrace and /proc/<pid>/mem.)
TEST(CodeVerifier, TheProgramCannotOpenTheDriversDescriptors) {
  REQUIRE_SANDBOX();
  const auto r = verify_code(
      "```python\nimport os\ndef add(a, b):\n    try:\n        os.close(os.open('/proc/%d/fd/1' % os.getppid(), "
      "os.O_WRONLY))\n        return a + b\n    except OSError:\n        return 0\n```",
      check_task());
  EXPECT_EQ(r.reward, 0) << r.reason;
  EXPECT_EQ(r.reason, "failed test at tests.py:2: assert candidate(1, 2) == 3");
}

// check() runs in a namespace of the driver's: the prompt's helpers and the tests, not
// the program's names nor its builtins.
TEST(CodeVerifier, TheProgramCannotShadowWhatTheTestsUse) {
  REQUIRE_SANDBOX();
  const CodeTask t = task_with("add", "def check(candidate):\n    assert abs(candidate(1, 2) - 3) < 1\n");
  const auto shadowed = verify_code("```python\nabs = lambda x: 0\ndef add(a, b):\n    return 0\n```", t);
  EXPECT_EQ(shadowed.reward, 0) << shadowed.reason;  // was: passed 1/1 tests (check)
  EXPECT_EQ(shadowed.reason, "failed test at tests.py:2: assert abs(candidate(1, 2) - 3) < 1");
  const auto patched = verify_code(
      "```python\nimport builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return 0\n```", t);
  EXPECT_EQ(patched.reward, 0) << patched.reason;
  const auto right = verify_code("```python\ndef add(a, b):\n    return a + b\n```", t);
  EXPECT_EQ(right.reward, 1) << right.reason;
}

// A HumanEval-style task whose function is `doubled`.
CodeTask doubled_task(std::string prompt, std::string test_code) {
  CodeTask t;
  t.kind = CodeTestKind::kCheckFunction;
  t.entry_point = "doubled";
  t.prompt = std::move(prompt);
  t.test_code = std::move(test_code);
  return t;
}

TEST(CodeVerifier, TheProgramCannotPlantAModuleTheDriverImports) {
  // The program's run directory was on the driver's sys.path: a "typing.py" it wrote ran
  // in the parent when the prompt's "from typing import List" loaded after the program
  // (a review's reproducer: reward 1 for a wrong function, on HumanEval and HumanEval+).
  REQUIRE_SANDBOX();
  const CodeTask t = doubled_task(
      "from typing import List\n\n\ndef doubled(xs: List[int]) -> List[int]:\n    \"\"\" Each twice. \"\"\"\n",
      "import random\n\ndef check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n");
  const std::string plant =
      "for name in ('typing', 'random', 'string'):\n"
      "    open(name + '.py', 'w').write('import __main__, os\\n'\n"
      "        'os.write(1, (chr(10) + __main__.MARK + \" passed 1\" + chr(10)).encode())\\n'\n"
      "        'os._exit(0)\\n')\n";
  const auto r = verify_code("```python\n" + plant + "def doubled(xs):\n    return xs\n```", t);
  EXPECT_EQ(r.reward, 0) << r.reason;
  EXPECT_EQ(r.reason, "failed test at tests.py:4: assert candidate([1, 2]) == [2, 4]");
  const auto right = verify_code("```python\n" + plant + "def doubled(xs):\n    return [2 * x for x in xs]\n```", t);
  EXPECT_EQ(right.reward, 1) << right.reason;
}

// HumanEval runs prompt + completion: the prompt's imports and helpers exist for a
// whole function, and a body alone completes the prompt's def.
TEST(CodeVerifier, ThePromptComesBeforeTheProgram) {
  REQUIRE_SANDBOX();
  CodeTask t = doubled_task(
      "from typing import List\n\n\ndef twice(x):\n    return 2 * x\n\n\n"
      "def doubled(xs: List[int]) -> List[int]:\n    \"\"\" Each element twice.\n    >>> doubled([1])\n    [2]\n"
      "    \"\"\"\n",
      "def check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n    assert twice(3) == 6\n");
  const auto whole = verify_code(
      "```python\ndef doubled(xs: List[int]) -> List[int]:\n    return [twice(x) for x in xs]\n```", t);
  EXPECT_EQ(whole.reward, 1) << whole.reason;  // was: NameError: name 'List' is not defined
  EXPECT_EQ(whole.program, "def doubled(xs: List[int]) -> List[int]:\n    return [twice(x) for x in xs]\n");
  const auto body = verify_code("    return [twice(x) for x in xs]\n", t);
  EXPECT_EQ(body.reward, 1) << body.reason;
  const auto fenced_body = verify_code("```python\n    return [twice(x) for x in xs]\n```", t);
  EXPECT_EQ(fenced_body.reward, 1) << fenced_body.reason;
  const auto wrong = verify_code("    return xs\n", t);
  EXPECT_EQ(wrong.reason, "failed test at tests.py:2: assert candidate([1, 2]) == [2, 4]");
  // A prompt that is no program by itself (a header the response gives the body of): the
  // driver, which runs the prompt apart from the program, skips it; the program still has it.
  t.prompt = "def doubled(xs):\n";
  t.test_code = "def check(candidate):\n    assert candidate([1, 2]) == [2, 4]\n";
  const auto headless = verify_code("    return [2 * x for x in xs]\n", t);
  EXPECT_EQ(headless.reward, 1) << headless.reason;
}

// evalplus's special oracle for find_zero (HumanEval/32): any zero of the polynomial
// passes, not only the reference's.
TEST(CodeVerifier, FindZeroAcceptsAnyZero) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.kind = CodeTestKind::kCheckFunction;
  t.entry_point = "find_zero";
  t.test_code = "def check(candidate):\n    pass\n";
  t.reference = "def find_zero(xs):\n    return 1.0\n";  // (x - 1)(x - 2) and (x - 1)(x - 2)(x - 3)
  t.inputs_json = "[[[2, -3, 1]], [[-6, 11, -6, 1]]]";
  t.atol = 1e-4;
  const auto other_zero = verify_code("```python\ndef find_zero(xs):\n    return 2.0\n```", t);
  EXPECT_EQ(other_zero.reward, 1) << other_zero.reason;
  const auto near_zero = verify_code("```python\ndef find_zero(xs):\n    return 2.00001\n```", t);
  EXPECT_EQ(near_zero.reward, 1) << near_zero.reason;
  const auto no_zero = verify_code("```python\ndef find_zero(xs):\n    return 1.5\n```", t);
  EXPECT_EQ(no_zero.reward, 0);
  EXPECT_EQ(no_zero.reason, "failed test 1: input [[2, -3, 1]] expected a zero (|poly(x)| <= 0.0001) got 1.5 "
                            "(|poly(x)| = 0.25)");
  const auto not_a_number = verify_code("```python\ndef find_zero(xs):\n    return None\n```", t);
  EXPECT_EQ(not_a_number.reason, "failed test 1: input [[2, -3, 1]] expected a zero (|poly(x)| <= 0.0001) got None");
}

// Outputs too large to send to the candidate's run (over 64 KiB pickled) travel as
// digests; equal data of another type (ints for integral floats) still match.
TEST(CodeVerifier, LargeOutputsCompareByDigestWithPythonEquality) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.kind = CodeTestKind::kCheckFunction;
  t.entry_point = "f";
  t.test_code = "def check(candidate):\n    pass\n";
  t.reference = "def f(n):\n    return [i / 2 if i % 2 == 0 else i for i in range(n)] + ['x' * n]\n";
  t.inputs_json = "[[3], [100000]]";
  const auto same = verify_code("```python\ndef f(n):\n    return [i // 2 if i % 2 == 0 else i for i in range(n)] + ['x' * n]\n```", t);
  EXPECT_EQ(same.reward, 1) << same.reason;
  const auto differs = verify_code("```python\ndef f(n):\n    return [i // 2 if i % 2 == 0 else i for i in range(n)] + ['y' * n]\n```", t);
  EXPECT_EQ(differs.reward, 0);
  EXPECT_TRUE(differs.reason.starts_with("failed test 1: input [3] expected [0.0, 1, 1.0, 'xxx'] got [0, 1, 1, 'yyy']"))
      << differs.reason;
  const auto large_differs = verify_code(
      "```python\ndef f(n):\n    out = [i // 2 if i % 2 == 0 else i for i in range(n)] + ['x' * n]\n"
      "    if n > 3:\n        out[-2] += 1\n    return out\n```",
      t);
  EXPECT_EQ(large_differs.reward, 0);
  EXPECT_TRUE(large_differs.reason.starts_with("failed test 2: input [100000] expected [0.0, 1, 1.0, 3, 2.0,"))
      << large_differs.reason;
}

TEST(CodeVerifier, TimeoutAndMemoryReasons) {
  REQUIRE_SANDBOX();
  SandboxOptions o;
  o.limits.wall_seconds = 1;
  EXPECT_EQ(verify_code("```python\ndef add(a, b):\n    while True: pass\n```", check_task(), o).reason,
            "timeout (wall 1 s)");
  o.limits.memory_bytes = 200ull << 20;
  const auto r = verify_code("```python\ndef add(a, b):\n    return len(bytearray(1 << 30))\n```", check_task(), o);
  EXPECT_EQ(r.reason, "memory limit");
  EXPECT_EQ(r.limit, LimitHit::kMemory);
}

TEST(CodeVerifier, OutputFloodIsOutputLimit) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.tests = {{"", "1"}};
  SandboxOptions o;
  o.limits.output_bytes = 4096;
  EXPECT_EQ(verify_code("```python\nwhile True:\n    print('spam' * 100)\n```", t, o).reason,
            "failed test 1: output limit");
}

TEST(CodeVerifier, StdioRunsEachTestAndStopsAtTheFirstFailure) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.tests = {{"2 3\n", "5\n"}, {"10 -4\n", "6\n"}, {"0 0\n", "0\n"}};
  const auto good = verify_code("```python\na, b = map(int, input().split())\nprint(a + b)\n```", t);
  EXPECT_EQ(good.reward, 1);
  EXPECT_EQ(good.reason, "passed 3/3 tests");
  EXPECT_EQ(good.tests_passed, 3);
  const auto bad = verify_code("```python\na, b = map(int, input().split())\nprint(abs(a) + abs(b))\n```", t);
  EXPECT_EQ(bad.reward, 0);
  EXPECT_EQ(bad.reason, "failed test 2: expected '6' got '14' (token 1)");
  EXPECT_EQ(bad.tests_passed, 1);
  const auto crash = verify_code("```python\nprint(undefined_name)\n```", t);
  EXPECT_EQ(crash.reason, "failed test 1: runtime error: NameError: name 'undefined_name' is not defined");
}

TEST(CodeVerifier, StdioUsesTheTasksComparison) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.tests = {{"4\n", "YES\n2.000000000\n"}};
  const std::string program = "```python\ninput()\nprint('yes')\nprint(2.0000001)\n```";
  EXPECT_EQ(verify_code(program, t).reason, "failed test 1: expected 'YES' got 'yes' (token 1)");
  t.compare.case_insensitive = true;  // "you may print YES and NO in any case"
  EXPECT_EQ(verify_code(program, t).reason, "passed 1/1 tests");
  t.compare.tolerance = 1e-9;  // "absolute or relative error does not exceed 10^{-9}"
  EXPECT_EQ(verify_code(program, t).reason, "failed test 1: expected '2.000000000' got '2.0000001' (token 2)");
}

TEST(CodeVerifier, SeveralAnswersAreComparedWithTheStoredOneAndSaySo) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.tests = {{"3\n", "1 2 3\n"}};
  t.compare.several_answers = true;  // "if there are multiple answers, print any"
  const auto other = verify_code("```python\ninput()\nprint(3, 2, 1)\n```", t);
  EXPECT_EQ(other.reward, 0);
  EXPECT_TRUE(other.several_answers);
  EXPECT_EQ(other.reason,
            "failed test 1: expected '1' got '3' (token 1) (task admits several answers; compared with the stored one)");
  const auto stored = verify_code("```python\ninput()\nprint(1, 2, 3)\n```", t);
  EXPECT_EQ(stored.reward, 1);
  EXPECT_EQ(stored.reason, "passed 1/1 tests (task admits several answers; compared with the stored one)");
  EXPECT_TRUE(verify_code("```cpp\nint main() {}\n```", t).several_answers);  // counted whatever the verdict
  t.compare.several_answers = false;
  EXPECT_FALSE(verify_code("```python\ninput()\nprint(1, 2, 3)\n```", t).several_answers);
  EXPECT_FALSE(verify_code("```python\ninput()\nprint(1, 2, 3)\n```", t).interactive);
  // interactive is reported the same way, whatever the verdict.
  t.compare.interactive = true;
  t.compare.several_answers = true;
  const auto transcript = verify_code("```python\ninput()\nprint(1, 2, 3)\n```", t);
  EXPECT_TRUE(transcript.interactive);
  EXPECT_TRUE(transcript.reason.ends_with(kInteractiveNote)) << transcript.reason;
  EXPECT_TRUE(verify_code("```cpp\nint main() {}\n```", t).interactive);
}

TEST(JsonResultsEqual, TheTasksTolerance) {
  using nlohmann::json;
  EXPECT_TRUE(json_results_equal(json(1.5), json(1.5000001)));
  EXPECT_FALSE(json_results_equal(json(1.5), json(1.5000001), 1e-9));
  EXPECT_TRUE(json_results_equal(json::parse("[1.5]"), json::parse("[1.5000000001]"), 1e-9));
  EXPECT_FALSE(json_results_equal(json::parse(R"({"a": [1.5]})"), json::parse(R"({"a": [1.5000001]})"), 1e-9));
}

TEST(CodeVerifier, FunctionalCallsTheMethodWithJsonArguments) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.kind = CodeTestKind::kFunctional;
  t.entry_point = "twoSum";
  t.tests = {{"[2, 7, 11, 15]\n9", "[0, 1]"}, {"[3, 2, 4]\n6", "[1, 2]"}};
  const auto good = verify_code(
      "```python\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
      "        seen = {}\n        for i, x in enumerate(nums):\n"
      "            if target - x in seen:\n                return [seen[target - x], i]\n"
      "            seen[x] = i\n```",
      t);
  EXPECT_EQ(good.reward, 1) << good.reason;  // List comes from the usual imports
  EXPECT_EQ(good.reason, "passed 2/2 tests");
  const auto bad = verify_code(
      "```python\nclass Solution:\n    def twoSum(self, nums, target):\n        print('debug')\n"
      "        return [0, 1]\n```",
      t);
  EXPECT_EQ(bad.reason, "failed test 2: expected [1, 2] got [0, 1]");
}

TEST(JsonResultsEqual, FloatsWithinOneMillionthIntegersExactly) {
  using nlohmann::json;
  EXPECT_TRUE(json_results_equal(json(0.1 + 0.2), json(0.3)));
  EXPECT_TRUE(json_results_equal(json(2.5), json(2.5000001)));
  EXPECT_FALSE(json_results_equal(json(2.5), json(2.6)));
  // An integer and a float: Python's int == float, no tolerance.
  EXPECT_TRUE(json_results_equal(json(3), json(3.0)));
  EXPECT_TRUE(json_results_equal(json(-4.0), json(-4)));
  EXPECT_TRUE(json_results_equal(json(std::uint64_t{1} << 63), json(0x1p63)));
  EXPECT_FALSE(json_results_equal(json(3), json(2.9999999)));
  EXPECT_FALSE(json_results_equal(json(1000000000000000001), json(1e18)));
  EXPECT_FALSE(json_results_equal(json(-1), json(1.8446744073709552e19)));
  EXPECT_FALSE(json_results_equal(json(1), json(std::nan(""))));
  EXPECT_FALSE(json_results_equal(json(3), json(4)));
  EXPECT_FALSE(json_results_equal(json(true), json(1)));
  // Containers element by element, with the same rules.
  EXPECT_TRUE(json_results_equal(json::parse(R"([1, [2.0, 0.30000001], {"a": 4}])"),
                                 json::parse(R"([1.0, [2, 0.3], {"a": 4.0}])")));
  EXPECT_FALSE(json_results_equal(json::parse(R"([1, 2])"), json::parse(R"([1, 2.5])")));
  EXPECT_FALSE(json_results_equal(json::parse(R"({"a": 1})"), json::parse(R"({"b": 1})")));
}

// Integers beyond 64 bits, which nlohmann turns into doubles, compare exactly:
// 10**30 + 1 passed against 10**30 (equal within 1e-6 as doubles).
TEST(CodeVerifier, FunctionalBigIntegersCompareExactly) {
  REQUIRE_SANDBOX();
  CodeTask t;
  t.kind = CodeTestKind::kFunctional;
  t.entry_point = "big";
  t.tests = {{"", "1000000000000000000000000000000"}};
  const auto off_by_one = verify_code("```python\nclass Solution:\n    def big(self):\n        return 10**30 + 1\n```", t);
  EXPECT_EQ(off_by_one.reward, 0);
  EXPECT_EQ(off_by_one.reason, "failed test 1: expected 1000000000000000000000000000000 got 1000000000000000000000000000001");
  const auto right = verify_code("```python\nclass Solution:\n    def big(self):\n        return 10**30\n```", t);
  EXPECT_EQ(right.reward, 1) << right.reason;
}

TEST(JsonResultsEqual, IntegersBeyondSixtyFourBitsExactly) {
  auto parse = [](const char* text) {
    const auto j = parse_json_exact_integers(text);
    EXPECT_TRUE(j.has_value()) << text;
    return j.value_or(nullptr);
  };
  EXPECT_TRUE(json_results_equal(parse("1000000000000000000000000000000"), parse("1000000000000000000000000000000")));
  EXPECT_FALSE(json_results_equal(parse("1000000000000000000000000000001"), parse("1000000000000000000000000000000")));
  EXPECT_FALSE(json_results_equal(parse("-1000000000000000000000000000000"), parse("1000000000000000000000000000000")));
  EXPECT_FALSE(json_results_equal(parse("[18446744073709551616]"), parse("[18446744073709551617]")));
  // Against a float: equal only to the float with exactly those digits (Python's int == float).
  EXPECT_TRUE(json_results_equal(parse("1267650600228229401496703205376"), parse("1.2676506002282294e30")));  // 2^100
  EXPECT_FALSE(json_results_equal(parse("1000000000000000000000000000000"), parse("1e30")));
  EXPECT_FALSE(json_results_equal(parse("1000000000000000000000000000000"), parse("5")));
  // Everything else as nlohmann parses it.
  EXPECT_TRUE(json_results_equal(parse(R"({"a": [1, 2.0], "b": null})"), parse(R"({"b": null, "a": [1.0, 2]})")));
  EXPECT_FALSE(parse_json_exact_integers("[1, 2").has_value());
  EXPECT_FALSE(parse_json_exact_integers("1 2").has_value());
}

TEST(CodeVerifier, NoCodeFound) {
  const auto r = verify_code("I cannot solve this.\n```text\nsorry\n```", check_task());
  EXPECT_EQ(r.reward, 0);
  EXPECT_EQ(r.reason, "no code found");
}

TEST(CodeVerifier, MalformedTasksNameTheField) {
  CodeTask t = check_task();
  t.entry_point = "not an identifier";
  EXPECT_THROW(
      {
        try {
          verify_code("x", t);
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find("entry_point 'not an identifier'"), std::string::npos) << e.what();
          throw;
        }
      },
      std::invalid_argument);
  CodeTask empty;
  EXPECT_THROW(verify_code("x", empty), std::invalid_argument);
}

}  // namespace
}  // namespace disa::llm::verify

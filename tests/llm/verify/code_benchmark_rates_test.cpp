// The code verifier against the code benchmarks in ../shared/data (issue 8): every
// canonical solution of HumanEval and HumanEval+ gets reward 1 (164/164 each), the
// same solution with its return value broken gets 0, and LiveCodeBench / Codeforces
// records load and fail a wrong program with the right reason. Records run on two
// threads (two sandboxes at a time). A clone without ../shared (or $DISA_SHARED_DIR)
// skips these tests; so does a machine where the sandbox cannot be built.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "llm/verify/code_benchmarks.h"
#include "llm/verify/code_verifier.h"
#include "tests/util/shared_data.h"

namespace disa::llm::verify {
namespace {

std::optional<std::filesystem::path> shared_data_dir() { return disa::test::shared_data_dir("humaneval"); }

#define REQUIRE_SHARED_DATA_AND_SANDBOX(var)                                                  \
  const std::optional<std::filesystem::path> var = shared_data_dir();                         \
  if (!var) GTEST_SKIP() << "the code benchmarks live in ../shared/data "                     \
                            "(or $DISA_SHARED_DIR/data); a user's clone has none";            \
  if (const auto why = sandbox_unavailable_reason()) GTEST_SKIP() << "no sandbox here: " << *why

// verify_code on every case with `response_of(case)`, two at a time.
template <class ResponseOf>
std::vector<CodeVerifyResult> verify_all(const std::vector<CodeBenchmarkCase>& cases, ResponseOf response_of,
                                         const SandboxOptions& options) {
  std::vector<CodeVerifyResult> results(cases.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < cases.size(); i = next++) {
      results[i] = verify_code(response_of(cases[i]), cases[i].task, options);
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  return results;
}

void expect_all_canonical_pass(CodeBenchmark benchmark, const std::filesystem::path& data) {
  const auto cases = load_code_benchmark(benchmark, data);
  ASSERT_EQ(cases.size(), 164u);
  const auto t0 = std::chrono::steady_clock::now();
  // Wider than the defaults (6 s wall, 5 s CPU; x3 for HumanEval+), which pass all
  // 328 on an idle 2-core machine (slowest HumanEval+/139, 3.6 s of reference alone):
  // ctest may run other tests beside these two sandboxes.
  SandboxOptions roomy;
  roomy.limits.wall_seconds = 10;
  roomy.limits.cpu_seconds = 8;
  const auto results = verify_all(cases, [](const CodeBenchmarkCase& c) { return c.reference_response; }, roomy);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int passed = 0;
  double slowest = 0;
  std::string slowest_id;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (results[i].reward == 1) {
      ++passed;
    } else {
      ADD_FAILURE() << cases[i].id << ": " << results[i].reason;
    }
    if (results[i].wall_seconds > slowest) {
      slowest = results[i].wall_seconds;
      slowest_id = cases[i].id;
    }
  }
  EXPECT_EQ(passed, 164);
  std::printf("%s: canonical solutions %d/164 in %.1f s on 2 threads (slowest %s, %.2f s)\n",
              std::string(code_benchmark_name(benchmark)).c_str(), passed, took, slowest_id.c_str(), slowest);
}

TEST(CodeBenchmarkRates, HumanEvalCanonicalSolutionsAllPass) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  expect_all_canonical_pass(CodeBenchmark::kHumanEval, *data);
}

TEST(CodeBenchmarkRates, HumanEvalPlusCanonicalSolutionsAllPass) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  expect_all_canonical_pass(CodeBenchmark::kHumanEvalPlus, *data);
}

// human-eval runs prompt + completion: the completion alone (the canonical body, as
// a model continuing the prompt writes it) passes, and so does a whole function that
// relies on the prompt's imports and helpers (List, encode_cyclic), as 38 does here.
TEST(CodeBenchmarkRates, HumanEvalCompletionsAloneAllPass) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cases = load_code_benchmark(CodeBenchmark::kHumanEval, *data);
  SandboxOptions roomy;
  roomy.limits.wall_seconds = 10;
  roomy.limits.cpu_seconds = 8;
  // reference_response is ```python\n + prompt + canonical_solution + ```\n.
  auto completion = [](const CodeBenchmarkCase& c) {
    const std::string& r = c.reference_response;
    const std::size_t from = std::string("```python\n").size() + c.prompt.size();
    return r.substr(from, r.size() - from - std::string("```\n").size());
  };
  const auto results = verify_all(cases, completion, roomy);
  int passed = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (results[i].reward == 1) {
      ++passed;
    } else {
      ADD_FAILURE() << cases[i].id << ": " << results[i].reason;
    }
  }
  EXPECT_EQ(passed, 164);
  const auto decode = verify_code(
      "```python\ndef decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n```", cases[38].task);
  EXPECT_EQ(decode.reward, 1) << decode.reason;  // was: NameError: name 'encode_cyclic' is not defined
}

// evalplus's oracle for find_zero: any x with |poly(x)| <= atol passes. Newton's method
// from x = 2 finds another zero than the reference (which starts at 0) on 195 of the
// 888 inputs, each within atol.
TEST(CodeBenchmarkRates, HumanEvalPlusFindZeroAcceptsAnotherZero) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cases = load_code_benchmark(CodeBenchmark::kHumanEvalPlus, *data);
  ASSERT_EQ(cases[32].task.entry_point, "find_zero");
  const auto r = verify_code(
      "```python\n"
      "def find_zero(xs: list):\n"
      "    dxs = [xs[i] * i for i in range(1, len(xs))]\n"
      "    for start in (2.0, 0.0):\n"
      "        x = start\n"
      "        for _ in range(1000):\n"
      "            fx = poly(xs, x)\n"
      "            if abs(fx) < 1e-9:\n"
      "                return x\n"
      "            dfx = poly(dxs, x)\n"
      "            if dfx == 0:\n"
      "                break\n"
      "            x = x - fx / dfx\n"
      "    return x\n"
      "```",
      cases[32].task);
  EXPECT_EQ(r.reward, 1) << r.reason;  // was: failed test 5: input [[-3, 6, 9, -10]] expected 0.376... got 1.19...
  const auto off = verify_code("```python\ndef find_zero(xs: list):\n    return 0.0\n```", cases[32].task);
  EXPECT_EQ(off.reward, 0);
  EXPECT_TRUE(off.reason.starts_with("failed test at tests.py:")) << off.reason;  // check() first
}

// Every `return` of the canonical solution returns None instead: a wrong program
// that still defines the function (and runs as fast).
std::string with_returns_broken(const std::string& response) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t at = response.find("return "); at != std::string::npos; at = response.find("return ", pos)) {
    out += response.substr(pos, at - pos);
    out += "return None  # ";
    pos = at + 7;
  }
  out += response.substr(pos);
  return out;
}

TEST(CodeBenchmarkRates, BrokenReturnsGetRewardZero) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  for (CodeBenchmark b : {CodeBenchmark::kHumanEval, CodeBenchmark::kHumanEvalPlus}) {
    auto cases = load_code_benchmark(b, *data);
    cases.resize(40);  // the first 40 tasks: enough variety, a few seconds
    SandboxOptions quick;  // a broken loop exit may spin: no need to wait 6 s for it
    quick.limits.wall_seconds = 1;
    quick.limits.cpu_seconds = 1;
    const auto results = verify_all(
        cases, [](const CodeBenchmarkCase& c) { return with_returns_broken(c.reference_response); }, quick);
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (with_returns_broken(cases[i].reference_response) == cases[i].reference_response) continue;
      EXPECT_EQ(results[i].reward, 0) << code_benchmark_name(b) << " " << cases[i].id << ": " << results[i].reason;
      EXPECT_FALSE(results[i].reason.empty());
      if (i < 3 || results[i].wall_seconds > 0.5) std::printf("%s %s broken: %s\n", std::string(code_benchmark_name(b)).c_str(), cases[i].id.c_str(),
                             results[i].reason.c_str());
    }
  }
}

TEST(CodeBenchmarkRates, LiveCodeBenchAndCodeforcesLoad) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto lcb = load_code_benchmark(CodeBenchmark::kLiveCodeBench, *data);
  ASSERT_EQ(lcb.size(), 279u);
  int functional = 0;
  for (const auto& c : lcb) functional += c.task.kind == CodeTestKind::kFunctional;
  EXPECT_EQ(functional, 104);  // the `class Solution` starters (SOURCES.md)
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  ASSERT_EQ(cf.size(), 408u);
  for (const auto& c : cf) EXPECT_EQ(c.task.kind, CodeTestKind::kStdio) << c.id;
}

// LiveCodeBench record 0 ("which element is the second largest"), stdin/stdout.
TEST(CodeBenchmarkRates, LiveCodeBenchStdinRecordPassesACorrectProgramOnly) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto lcb = load_code_benchmark(CodeBenchmark::kLiveCodeBench, *data);
  const CodeTask& task = lcb[0].task;
  ASSERT_NE(lcb[0].prompt.find("second largest"), std::string::npos);
  const auto right = verify_code(
      "```python\nn = int(input())\na = list(map(int, input().split()))\n"
      "print(a.index(sorted(a)[-2]) + 1)\n```",
      task);
  EXPECT_EQ(right.reward, 1) << right.reason;
  EXPECT_EQ(right.reason, "passed 2/2 tests");
  const auto wrong = verify_code(
      "```python\nn = int(input())\na = list(map(int, input().split()))\nprint(a.index(max(a)) + 1)\n```", task);
  EXPECT_EQ(wrong.reward, 0);
  EXPECT_EQ(wrong.reason, "failed test 1: expected '3' got '1' (token 1)");
}

// The first functional (LeetCode) record: Solution().<method>(*args).
TEST(CodeBenchmarkRates, LiveCodeBenchFunctionalRecordRunsTheMethod) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto lcb = load_code_benchmark(CodeBenchmark::kLiveCodeBench, *data);
  const CodeBenchmarkCase* first = nullptr;
  for (const auto& c : lcb) {
    if (c.task.kind == CodeTestKind::kFunctional) {
      first = &c;
      break;
    }
  }
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->task.entry_point, "shortestDistanceAfterQueries");
  // BFS after each added road: the dataset gives no solution, so this is ours.
  const auto right = verify_code(
      "```python\n"
      "from collections import deque\n"
      "class Solution:\n"
      "    def shortestDistanceAfterQueries(self, n, queries):\n"
      "        adj = [[i + 1] for i in range(n - 1)] + [[]]\n"
      "        out = []\n"
      "        for u, v in queries:\n"
      "            adj[u].append(v)\n"
      "            dist = [-1] * n\n"
      "            dist[0] = 0\n"
      "            q = deque([0])\n"
      "            while q:\n"
      "                x = q.popleft()\n"
      "                for y in adj[x]:\n"
      "                    if dist[y] < 0:\n"
      "                        dist[y] = dist[x] + 1\n"
      "                        q.append(y)\n"
      "            out.append(dist[n - 1])\n"
      "        return out\n"
      "```",
      first->task);
  EXPECT_EQ(right.reward, 1) << right.reason;
  const auto wrong = verify_code(
      "```python\nclass Solution:\n    def shortestDistanceAfterQueries(self, n, queries):\n"
      "        return [n - 1] * len(queries)\n```",
      first->task);
  EXPECT_EQ(wrong.reward, 0);
  EXPECT_EQ(wrong.reason, "failed test 1: expected [3, 2, 1] got [4, 4, 4]");
  const auto missing = verify_code("```python\nclass Solution:\n    pass\n```", first->task);
  EXPECT_EQ(missing.reason, "failed test 1: runtime error: Solution has no method shortestDistanceAfterQueries");
}

// Codeforces record 0: print min and max of two digits per test case.
TEST(CodeBenchmarkRates, CodeforcesRecordPassesACorrectProgramOnly) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  ASSERT_NE(cf[0].prompt.find("minimum of $x$ and $y$"), std::string::npos);
  const auto right = verify_code(
      "```python\nt = int(input())\nfor _ in range(t):\n    x, y = map(int, input().split())\n"
      "    print(min(x, y), max(x, y))\n```",
      cf[0].task);
  EXPECT_EQ(right.reward, 1) << right.reason;
  const auto crash = verify_code("```python\nt = int(input())\nprint(1 / 0)\n```", cf[0].task);
  EXPECT_EQ(crash.reward, 0);
  EXPECT_EQ(crash.reason, "failed test 1: runtime error: ZeroDivisionError: division by zero");
  const auto slow = verify_code("```python\nwhile True:\n    pass\n```", cf[0].task,
                                [] {
                                  SandboxOptions o;
                                  o.limits.wall_seconds = 1;
                                  return o;
                                }());
  EXPECT_EQ(slow.reason, "failed test 1: timeout (wall 1 s)");
}

// A program that prints the task's stored output for its input (a lookup table), with
// every YES/NO word's letter case flipped when `flip_case` ("YES" -> "yes", "Yes" ->
// "yES"): the stored answers with the case a right program may choose.
std::string stored_output_program(const CodeTask& task, bool flip_case) {
  nlohmann::json table = nlohmann::json::object();
  for (const CodeTestCase& t : task.tests) table[t.input] = t.output;
  return "```python\nimport json, re, sys\nTABLE = json.loads(" + nlohmann::json(table.dump()).dump() +
         ")\nout = TABLE[sys.stdin.read()]\n" +
         (flip_case ? "out = re.sub(r'(?i)\\b(yes|no)\\b', lambda m: m.group(0).swapcase(), out)\n" : "") +
         "sys.stdout.write(out)\n```";
}

bool has_yes_no_word(const CodeTask& task) {
  for (const CodeTestCase& t : task.tests) {
    std::string lower;
    for (const char c : t.output) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string word;
    for (const char c : lower + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += c;
      } else {
        if (word == "yes" || word == "no") return true;
        word.clear();
      }
    }
  }
  return false;
}

// Codeforces record 1 says "You can output the answer in any case": "yes" for a stored
// "YES" is right (was: "expected 'YES' got 'yes'"); record 37 says print "YES", so
// there the case is still part of the answer.
TEST(CodeBenchmarkRates, CodeforcesAnyCaseTaskAcceptsAnotherCase) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  ASSERT_NE(cf[1].prompt.find("in any case"), std::string::npos);
  const auto any_case = verify_code(stored_output_program(cf[1].task, true), cf[1].task);
  EXPECT_EQ(any_case.reward, 1) << any_case.reason;
  ASSERT_EQ(cf[37].prompt.find("in any case"), std::string::npos);
  ASSERT_NE(cf[37].prompt.find("print \"YES\""), std::string::npos);
  const auto exact = verify_code(stored_output_program(cf[37].task, true), cf[37].task);
  EXPECT_EQ(exact.reward, 0);
  EXPECT_NE(exact.reason.find("expected 'YES' got 'yes'"), std::string::npos) << exact.reason;
}

// Record 1 says `You can output "YES" and "NO" in any case` and then prints a string r:
// only YES and NO are case-blind, so the stored output upper-cased (FORCODESEC for
// forcodesec) fails (was: passed, every word being case-blind), while YES/NO flipped
// alone passes (CodeforcesAnyCaseTaskAcceptsAnotherCase). Record 9 says "the answer in
// any case", quoting no word: there every word stays case-blind.
TEST(CodeBenchmarkRates, CodeforcesAnyCaseCoversOnlyTheQuotedWords) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  ASSERT_NE(cf[1].prompt.find("You can output \"YES\" and \"NO\" in any case"), std::string::npos);
  EXPECT_EQ(cf[1].task.compare.case_insensitive_words, (std::vector<std::string>{"YES", "NO"}));
  const std::string upper = stored_output_program(cf[1].task, false);
  const auto upper_cased = verify_code(
      upper.substr(0, upper.rfind("sys.stdout.write")) + "sys.stdout.write(out.upper())\n```", cf[1].task);
  EXPECT_EQ(upper_cased.reward, 0) << upper_cased.reason;
  EXPECT_NE(upper_cased.reason.find("expected 'forcodesec' got 'FORCODESEC' (token 2)"), std::string::npos)
      << upper_cased.reason;
  ASSERT_NE(cf[9].prompt.find("can output the answer in any case"), std::string::npos);
  EXPECT_TRUE(cf[9].task.compare.case_insensitive);
  EXPECT_TRUE(cf[9].task.compare.case_insensitive_words.empty());
}

TEST(CodeBenchmarkRates, AnInteractiveTaskSaysItsVerdictIsAgainstTheStoredTranscript) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  ASSERT_NE(cf[18].prompt.find("interactive"), std::string::npos);
  ASSERT_TRUE(cf[18].task.compare.interactive);
  const auto replayed = verify_code(stored_output_program(cf[18].task, false), cf[18].task);
  EXPECT_EQ(replayed.reward, 1) << replayed.reason;  // only the stored queries pass
  EXPECT_TRUE(replayed.several_answers);
  EXPECT_TRUE(replayed.reason.ends_with(kInteractiveNote)) << replayed.reason;
  const auto other = verify_code("print('? 1 1')\n", cf[18].task);
  EXPECT_EQ(other.reward, 0);
  EXPECT_TRUE(other.reason.ends_with(kInteractiveNote)) << other.reason;
}

struct PolicyCounts {
  int case_insensitive = 0, tight_tolerance = 0, several_answers = 0, interactive = 0;
  int yes_no_words = 0, title_yes_no_words = 0, other_words = 0;  // case-blind for those words only
};

PolicyCounts count_policies(const std::vector<CodeBenchmarkCase>& cases) {
  PolicyCounts n;
  for (const auto& c : cases) {
    n.case_insensitive += c.task.compare.case_insensitive;
    const auto& words = c.task.compare.case_insensitive_words;
    if (words == std::vector<std::string>{"YES", "NO"}) {
      ++n.yes_no_words;
    } else if (words == std::vector<std::string>{"Yes", "No"}) {
      ++n.title_yes_no_words;
    } else if (!words.empty()) {
      ++n.other_words;
    }
    n.tight_tolerance += c.task.compare.tolerance < kDefaultOutputTolerance;
    n.several_answers += c.task.compare.several_answers;
    n.interactive += c.task.compare.interactive;
  }
  return n;
}

// What the statements ask for (llm/verify/README.md lists the phrasings), and the
// stored outputs against their own tests under it: as stored every stdin task passes;
// with YES/NO flipped in case, exactly the tasks that say "in any case" pass.
TEST(CodeBenchmarkRates, StoredOutputsPassUnderTheStatementsComparison) {
  REQUIRE_SHARED_DATA_AND_SANDBOX(data);
  const auto cf = load_code_benchmark(CodeBenchmark::kCodeforces, *data);
  const auto lcb = load_code_benchmark(CodeBenchmark::kLiveCodeBench, *data);
  const PolicyCounts cf_n = count_policies(cf), lcb_n = count_policies(lcb);
  EXPECT_EQ(cf_n.case_insensitive, 53);
  // Of them, quoting "YES"/"NO" (8, and 1 as \texttt), "Yes"/"No" (4, and 3 as \texttt);
  // the other 37 quote no word ("the answer", "each letter", "this answer").
  EXPECT_EQ(cf_n.yes_no_words, 9);
  EXPECT_EQ(cf_n.title_yes_no_words, 7);
  EXPECT_EQ(cf_n.other_words, 0);
  EXPECT_EQ(cf_n.several_answers, 42 + 17);  // 17 interactive problems (a stored transcript), none saying "any"
  EXPECT_EQ(cf_n.interactive, 17);
  EXPECT_EQ(lcb_n.interactive, 0);
  EXPECT_EQ(cf_n.tight_tolerance, 0);  // records 327 and 335 state 10^{-6}, the default
  EXPECT_EQ(lcb_n.case_insensitive, 0);
  EXPECT_EQ(lcb_n.several_answers, 5);
  EXPECT_EQ(lcb_n.tight_tolerance, 1);  // record 184: 10^{-9}
  EXPECT_DOUBLE_EQ(lcb[184].task.compare.tolerance, 1e-9);
  std::printf("codeforces: %d case-insensitive, %d several answers (%d interactive), %d tighter tolerance of %zu\n",
              cf_n.case_insensitive, cf_n.several_answers, cf_n.interactive, cf_n.tight_tolerance, cf.size());
  std::printf("livecodebench: %d case-insensitive, %d several answers, %d tighter tolerance of %zu\n",
              lcb_n.case_insensitive, lcb_n.several_answers, lcb_n.tight_tolerance, lcb.size());

  std::vector<CodeBenchmarkCase> stdio, yes_no;
  for (const auto& [name, set] : {std::pair{"codeforces/", &cf}, std::pair{"livecodebench/", &lcb}}) {
    for (CodeBenchmarkCase c : *set) {
      if (c.task.kind != CodeTestKind::kStdio) continue;
      c.id = name + c.id;
      if (has_yes_no_word(c.task)) yes_no.push_back(c);
      stdio.push_back(std::move(c));
    }
  }
  SandboxOptions roomy;
  roomy.limits.wall_seconds = 10;
  roomy.limits.cpu_seconds = 8;
  const auto as_stored =
      verify_all(stdio, [](const CodeBenchmarkCase& c) { return stored_output_program(c.task, false); }, roomy);
  int passed = 0;
  for (std::size_t i = 0; i < stdio.size(); ++i) {
    passed += as_stored[i].reward;
    if (as_stored[i].reward != 1) ADD_FAILURE() << stdio[i].id << ": " << as_stored[i].reason;
  }
  const auto flipped =
      verify_all(yes_no, [](const CodeBenchmarkCase& c) { return stored_output_program(c.task, true); }, roomy);
  int flipped_passed = 0, any_case = 0;
  for (std::size_t i = 0; i < yes_no.size(); ++i) {
    flipped_passed += flipped[i].reward;
    any_case += yes_no[i].task.compare.case_insensitive;
    EXPECT_EQ(flipped[i].reward, yes_no[i].task.compare.case_insensitive ? 1 : 0)
        << yes_no[i].id << ": " << flipped[i].reason;
  }
  std::printf("stored outputs: %d/%zu stdin tasks pass; YES/NO case flipped: %d/%zu pass (%d say any case)\n",
              passed, stdio.size(), flipped_passed, yes_no.size(), any_case);
}

}  // namespace
}  // namespace disa::llm::verify

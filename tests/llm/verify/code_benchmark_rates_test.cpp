// The code verifier against the code benchmarks in ../shared/data (issue 8): every
// canonical solution of HumanEval and HumanEval+ gets reward 1 (164/164 each), the
// same solution with its return value broken gets 0, and LiveCodeBench / Codeforces
// records load and fail a wrong program with the right reason. Records run on two
// threads (two sandboxes at a time). A clone without ../shared (or $DISA_SHARED_DIR)
// skips these tests; so does a machine where the sandbox cannot be built.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
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

}  // namespace
}  // namespace disa::llm::verify

#include "llm/tasks/countdown.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "src/input_error.h"

namespace disa::llm::countdown {
namespace {

// Every expression tree, by repeatedly joining an ordered pair of the remaining
// operands: independent of the solver's subset programme, redundant on purpose.
void brute_force(std::vector<std::string> operands, std::vector<std::string>& out) {
  if (operands.size() == 1) {
    out.push_back(operands[0]);
    return;
  }
  for (std::size_t i = 0; i < operands.size(); ++i) {
    for (std::size_t j = 0; j < operands.size(); ++j) {
      if (i == j) continue;
      std::vector<std::string> rest;
      for (std::size_t k = 0; k < operands.size(); ++k) {
        if (k != i && k != j) rest.push_back(operands[k]);
      }
      for (const char op : {'+', '-', '*', '/'}) {
        rest.push_back("(" + operands[i] + op + operands[j] + ")");
        brute_force(rest, out);
        rest.pop_back();
      }
    }
  }
}

std::set<std::string> brute_force_signatures(const Problem& p) {
  std::vector<std::string> operands, all;
  for (const auto n : p.numbers) operands.push_back(std::to_string(n));
  brute_force(operands, all);
  std::set<std::string> correct;
  for (const std::string& e : all) {
    const Verdict v = verify(p, e);
    if (v.reward == 1) correct.insert(v.signature);
  }
  return correct;
}

std::set<std::string> signatures(const std::vector<Solution>& s) {
  std::set<std::string> out;
  for (const Solution& x : s) out.insert(x.signature);
  return out;
}

TEST(Countdown, SolverFindsExactlyTheHandCountedSolutions) {
  // 1 2 3 -> 6: 1+2+3, 1*2*3, 2*3/1 (and nothing else uses each number once).
  const std::vector<Solution> s = solve({{1, 2, 3}, 6});
  std::set<std::string> texts;
  for (const Solution& x : s) texts.insert(x.expression);
  EXPECT_EQ(texts, (std::set<std::string>{"1+2+3", "1*2*3", "2*3/1"}));
  // 3 3 8 8 -> 24 has the single fraction solution 8/(3-8/3).
  const std::vector<Solution> t = solve({{3, 3, 8, 8}, 24});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(verify({{3, 3, 8, 8}, 24}, t[0].expression).reward, 1);
}

TEST(Countdown, SolverAgreesWithBruteForceEnumeration) {
  TaskConfig c3;
  TaskConfig c4{.count = 4, .max_number = 9, .max_target = 30};
  int checked = 0;
  for (std::uint64_t i = 0; i < 25; ++i) {
    for (const TaskConfig* c : {&c3, &c4}) {
      if (c == &c4 && i >= 6) continue;  // 4 numbers: ~10^4 trees each
      const Problem p = generate(*c, 7, Split::kTrain, i);
      EXPECT_EQ(signatures(solve(p)), brute_force_signatures(p)) << prompt_text(p);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 31);
  // A problem without solutions too.
  EXPECT_TRUE(solve({{1, 1, 1}, 40}).empty());
  EXPECT_TRUE(brute_force_signatures({{1, 1, 1}, 40}).empty());
}

TEST(Countdown, VerifierAcceptsEverySolverSolution) {
  TaskConfig c{.count = 4, .max_number = 12, .max_target = 50};
  for (std::uint64_t i = 0; i < 40; ++i) {
    const Problem p = generate(c, 3, Split::kTrain, i);
    const std::vector<Solution> s = solve(p);
    ASSERT_GE(s.size(), 2u) << prompt_text(p);
    for (const Solution& x : s) {
      const Verdict v = verify(p, x.expression + "<|im_end|>junk", "<|im_end|>");
      EXPECT_EQ(v.reason, Reason::kCorrect) << prompt_text(p) << x.expression << " " << v.detail;
      EXPECT_EQ(v.reward, 1);
      EXPECT_EQ(v.signature, x.signature);
    }
  }
}

TEST(Countdown, ACompletionWithoutTheGivenEosIsTruncatedNotVerified) {
  // "3*5+7" is correct, but without the EOS it was cut at the token limit: it may be the
  // start of "3*5+71"; with eos empty the caller has judged that, and it is read whole.
  const Problem p{{3, 5, 7}, 22};
  const Verdict cut = verify(p, "3*5+7", "<|im_end|>");
  EXPECT_EQ(cut.reason, Reason::kTruncated);
  EXPECT_EQ(cut.reward, 0);
  EXPECT_EQ(reason_name(cut.reason), "truncated");
  EXPECT_EQ(verify(p, "3*5+7<|im_end|>", "<|im_end|>").reason, Reason::kCorrect);
  EXPECT_EQ(verify(p, "3*5+7").reason, Reason::kCorrect);
}

TEST(Countdown, VerifierRejectsWithTheRightReason) {
  const Problem p{{3, 5, 7}, 22};
  EXPECT_EQ(verify(p, "3*5+7").reason, Reason::kCorrect);
  EXPECT_EQ(verify(p, "7+5*3").reason, Reason::kCorrect);
  EXPECT_EQ(verify(p, "3*5-7").reason, Reason::kWrongValue);
  EXPECT_EQ(verify(p, "3*5-7").detail, "value 8");
  EXPECT_EQ(verify(p, "3*5+7+5").reason, Reason::kReusedNumber);
  EXPECT_EQ(verify(p, "3*4+10").reason, Reason::kNumberNotAllowed);
  EXPECT_EQ(verify(p, "3*5").reason, Reason::kUnusedNumber);
  EXPECT_EQ(verify(p, "3*5+").reason, Reason::kSyntaxError);
  EXPECT_EQ(verify(p, "").reason, Reason::kSyntaxError);
  EXPECT_EQ(verify({{3, 3, 5}, 5}, "5/(3-3)").reason, Reason::kDivisionByZero);
  EXPECT_EQ(verify({{3, 3, 5}, 5}, "5/(3-3)").reward, 0);
  // A repeated number of the problem may be used as often as it is given.
  EXPECT_EQ(verify({{3, 3, 5}, 11}, "3+3+5").reason, Reason::kCorrect);
  for (const Reason r : {Reason::kWrongValue, Reason::kReusedNumber, Reason::kNumberNotAllowed, Reason::kSyntaxError}) {
    EXPECT_NE(reason_name(r), "unknown");
  }
}

TEST(Countdown, VerifierRejectsOverflowingExpressions) {
  // Numbers the problem does not give: rejected for that, with no undefined behaviour on
  // the way (the parser evaluates first).
  EXPECT_EQ(verify({{3, 5, 7}, 22}, "999999*999999*999999*999999").reason, Reason::kNumberNotAllowed);
  // Every given number once, and the product 2^64 wraps to 0 in two's complement: the old
  // verifier called this 24 and gave it reward 1.
  const Problem p{{65536, 65536, 65536, 65536, 24}, 24};
  const Verdict v = verify(p, "65536*65536*65536*65536+24");
  EXPECT_EQ(v.reason, Reason::kOverflow) << reason_name(v.reason) << " " << v.detail;
  EXPECT_EQ(v.reward, 0);
  EXPECT_EQ(reason_name(Reason::kOverflow), "overflow");
  EXPECT_EQ(verify({{1, 999999, 999999, 999999, 999999}, 1}, "1/999999/999999/999999/999999").reason,
            Reason::kOverflow);
  // The same numbers in range still verify.
  EXPECT_EQ(verify(p, "65536/65536*(65536/65536)*24").reason, Reason::kCorrect);
}

TEST(Countdown, SolverDropsOverflowingExpressions) {
  const Problem p{{65536, 65536, 65536, 65536, 24}, 24};
  const std::string wrapped = parse_expression("65536*65536*65536*65536+24").expression->signature;
  const std::vector<Solution> s = solve(p);
  EXPECT_FALSE(s.empty());  // e.g. 65536/65536*(65536/65536)*24
  for (const Solution& x : s) {
    EXPECT_NE(x.signature, wrapped) << x.expression;
    EXPECT_EQ(verify(p, x.expression).reason, Reason::kCorrect) << x.expression;
  }
}

TEST(Countdown, SolverValuesAreOrderedExactly) {
  // Four numbers near 10^6 give values such as 999999*999998*999997/999996 (~10^12) and
  // 999996/(999999*999998*999997) (denominator ~10^18): comparing those cross-multiplies
  // to ~10^30. The old int64 comparison overflowed there, and the map of values was
  // ordered inconsistently; it now multiplies in 128 bits.
  const std::map<Rational, std::vector<Solution>> all = solve_all({999999, 999998, 999997, 999996});
  ASSERT_GT(all.size(), 900u);
  const auto cross = [](const Rational& a, const Rational& b) { return static_cast<__int128>(a.num) * b.den; };
  const Rational* previous = nullptr;
  std::size_t out_of_order = 0, not_found = 0;
  for (const auto& [value, solutions] : all) {
    if (previous && !(cross(*previous, value) < cross(value, *previous))) ++out_of_order;
    previous = &value;
    not_found += all.find(value) == all.end();
  }
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(not_found, 0u);
  const std::int64_t three = 999999ll * 999998 * 999997;
  EXPECT_TRUE(all.count(Rational::of(999996, three)));
  EXPECT_FALSE(all.count(Rational::of(three) /* times 999996 overflows: dropped, not wrapped */));
}

TEST(Countdown, GeneratorIsDeterministicAndIndependentOfCount) {
  const TaskConfig c;
  std::vector<Problem> a, b;
  for (std::uint64_t i = 0; i < 50; ++i) a.push_back(generate(c, 11, Split::kTrain, i));
  for (std::uint64_t i = 0; i < 10; ++i) b.push_back(generate(c, 11, Split::kTrain, i));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin()));
  EXPECT_EQ(generate(c, 11, Split::kEval, 9), generate(c, 11, Split::kEval, 9));
  // Another seed gives other problems (not all 50 equal).
  int same = 0;
  for (std::uint64_t i = 0; i < 50; ++i) same += generate(c, 12, Split::kTrain, i) == a[i];
  EXPECT_LT(same, 10);
  std::set<std::string> distinct;
  for (const Problem& p : a) distinct.insert(prompt_text(p));
  EXPECT_GT(distinct.size(), 40u);
}

TEST(Countdown, ProblemDrawsShareNoUniformWithSamplerRows) {
  // The sampler's row r at seed s reads CounterRng(s, r); rows 2 i + split once were the
  // problem's own stream. Any shared uniform among the first draws would show here.
  for (const std::uint64_t seed : {0ull, 1ull, 2ull, 7ull, 12345ull}) {
    for (std::uint64_t i = 0; i < 64; ++i) {
      for (const Split split : {Split::kTrain, Split::kEval}) {
        const CounterRng problem = problem_rng(seed, split, i);
        const CounterRng row(seed, 2 * i + static_cast<std::uint64_t>(split));
        for (std::uint64_t k = 0; k < 8; ++k) EXPECT_NE(problem.uniform(k), row.uniform(k)) << seed << " " << i;
      }
    }
  }
}

TEST(Countdown, ProblemsRespectTheConfig) {
  const TaskConfig c{.count = 4, .max_number = 12, .min_target = 10, .max_target = 30, .min_solutions = 3};
  for (std::uint64_t i = 0; i < 60; ++i) {
    const Problem p = generate(c, 5, i % 2 ? Split::kEval : Split::kTrain, i);
    ASSERT_EQ(p.numbers.size(), 4u);
    for (const auto n : p.numbers) EXPECT_TRUE(n >= 1 && n <= 12);
    EXPECT_TRUE(p.target >= 10 && p.target <= 30);
    EXPECT_GE(solve(p).size(), 3u);
  }
  EXPECT_EQ(prompt_text({{3, 5, 7}, 22}), "3 5 7>22:");
}

TEST(Countdown, TrainAndEvalAreDisjointUpToOrder) {
  const TaskConfig c;
  std::set<std::string> train, eval;
  auto key = [](Problem p) {
    std::sort(p.numbers.begin(), p.numbers.end());
    return prompt_text(p);
  };
  for (std::uint64_t i = 0; i < 2000; ++i) train.insert(key(generate(c, 1, Split::kTrain, i)));
  for (std::uint64_t i = 0; i < 300; ++i) {
    const Problem p = generate(c, 1, Split::kEval, i);
    EXPECT_EQ(split_of(p, c), Split::kEval);
    eval.insert(key(p));
  }
  for (const std::string& e : eval) EXPECT_EQ(train.count(e), 0u) << e;
  EXPECT_GT(eval.size(), 50u);  // 3 numbers <= 10: a few hundred distinct problems
}

TEST(Countdown, BadConfigNamesTheField) {
  try {
    generate(TaskConfig{.count = 9}, 1, Split::kTrain, 0);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(--numbers) = 9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(validate(TaskConfig{.min_target = 50, .max_target = 10}), InputError);
  // Satisfiable by no problem: 2 numbers <= 2 never reach 90.
  EXPECT_THROW(generate(TaskConfig{.count = 2, .max_number = 2, .min_target = 90, .max_target = 99}, 1, Split::kTrain, 0),
               InputError);
}

}  // namespace
}  // namespace disa::llm::countdown

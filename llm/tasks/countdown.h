// Countdown, the synthetic reasoning task of the in-house model: reach a target from
// given numbers with + - * / and parentheses. Most problems have several correct
// expressions, and the answer is checked exactly, so a model's diversity can be measured
// as distinct correct solutions per problem.
//
// Rules (chosen for a small model and an unambiguous count of solutions):
//   * every given number is used EXACTLY once (as in the 24 game); a number that appears
//     twice in the problem may be used twice;
//   * arithmetic is exact over the rationals: intermediate fractions are allowed
//     (8/(3-8/3) = 24), a division by zero anywhere makes the expression invalid, so
//     does an intermediate numerator or denominator beyond 64-bit integers (only
//     reachable with numbers the problem does not give, or huge given ones), and the
//     value must equal the target exactly;
//   * two expressions are the same solution when their canonical forms agree
//     (llm/tasks/expression.h: commutative and associative rewritings are one solution).
//
// Text format for a character-level model (see task_charset()):
//   prompt     "3 5 7>24:"        the numbers in drawn order, '>', the target, ':'
//   completion "3*(5+7)-..."      one expression, no spaces, then the EOS token
// e.g. prompt "2 3 4>10:", completions "2*3+4" or "2+3*4"... (here only 2*3+4 is correct).
//
// Problems: problem i of a split is a pure function of (config, seed, split, i), drawn
// from CounterRng(splitmix64(seed ^ tag), 2 i + split), a stream no sampler row reads;
// so the first n problems are the same for every n.
// The split is decided by a hash of the problem's sorted numbers and target, so train and
// eval never share a problem, not even up to the order of the numbers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "llm/tasks/expression.h"
#include "llm/tasks/rational.h"
#include "src/counter_rng.h"

namespace disa::llm::countdown {

struct Problem {
  std::vector<std::int64_t> numbers;
  std::int64_t target = 0;
  friend bool operator==(const Problem&, const Problem&) = default;
};

struct TaskConfig {
  int count = 3;                   // numbers per problem, 2..5
  std::int64_t max_number = 10;    // numbers are drawn uniformly from 1..max_number
  std::int64_t min_target = 1;     // targets are integers in [min_target, max_target]
  std::int64_t max_target = 40;
  int min_solutions = 2;           // keep only problems with at least this many
  int eval_per_mille = 125;        // share of distinct problems held out for eval (‰)
};
// Throws InputError naming the field and its value.
void validate(const TaskConfig& config);

enum class Split { kTrain = 0, kEval = 1 };
std::string split_name(Split s);  // "train", "eval"

struct Solution {
  std::string expression;  // render() of the canonical form: the training completion
  std::string signature;   // the canonical form: distinct signature = distinct solution
};

// Every correct solution, one per signature, sorted by signature.
std::vector<Solution> solve(const Problem& problem);
// Every value reachable with each number used exactly once, with its solutions.
std::map<Rational, std::vector<Solution>> solve_all(const std::vector<std::int64_t>& numbers);

Split split_of(const Problem& problem, const TaskConfig& config);
// The uniforms problem `index` of `split` is drawn from: a key of its own,
// splitmix64(seed ^ tag), so that no sampler row (CounterRng(seed, row)) reads them.
CounterRng problem_rng(std::uint64_t seed, Split split, std::uint64_t index);
// Problem i of the split; throws InputError if the config admits no problem at all.
Problem generate(const TaskConfig& config, std::uint64_t seed, Split split, std::uint64_t index);

// The characters of prompts and completions; with the special tokens, the model's vocabulary.
std::string_view task_charset();
std::string prompt_text(const Problem& problem);

enum class Reason {
  kCorrect,
  kWrongValue,        // valid expression, other value
  kNumberNotAllowed,  // a number the problem does not have
  kReusedNumber,      // a number used more often than the problem has it
  kUnusedNumber,      // a number of the problem left out
  kSyntaxError,
  kDivisionByZero,
  kOverflow,          // an intermediate numerator or denominator leaves int64 (rational.h)
  kTruncated,         // `eos` given but absent: cut off at the token limit, not finished
};
std::string reason_name(Reason r);  // "correct", "wrong_value", "number_not_allowed", ...

struct Verdict {
  double reward = 0;      // 1 iff correct
  Reason reason = Reason::kSyntaxError;
  std::string signature;  // the canonical form when the text parsed; else empty
  std::string detail;     // e.g. the syntax error, the value reached
};

// The reward of one completion: the text up to the first occurrence of `eos` is the
// expression. With `eos` given, a completion without it was cut off at the token limit
// and is kTruncated (reward 0): "3*4+1" cut from "3*4+12" must not be read as an answer.
// With `eos` empty the whole text is the expression (the caller cut the stop token and
// judged truncation itself). Pure and allocation-light: used on every sample.
Verdict verify(const Problem& problem, std::string_view completion, std::string_view eos = "");

}  // namespace disa::llm::countdown

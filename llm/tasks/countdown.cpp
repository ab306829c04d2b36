#include "llm/tasks/countdown.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "src/counter_rng.h"
#include "src/input_error.h"

namespace disa::llm::countdown {
namespace {

struct Entry {
  Rational value;
  Normal normal;
};
using Table = std::unordered_map<std::string, Entry>;  // signature -> expression

// `value` nullopt: the expression overflows int64 somewhere (rational.h). It is no
// solution, as the verifier rejects it too; with the generator's numbers (<= 99) no value
// comes near that range, so this only drops expressions of huge given numbers.
void insert(Table& t, const std::optional<Rational>& value, Normal n) {
  if (!value) return;
  std::string key = n.signature;
  t.try_emplace(std::move(key), Entry{*value, std::move(n)});
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

void validate(const TaskConfig& c) {
  if (c.count < 2 || c.count > 5) throw InputError(fmt::format("task count (--numbers) = {}: expected 2..5", c.count));
  if (c.max_number < 1 || c.max_number > 99) {
    throw InputError(fmt::format("task max_number (--max-number) = {}: expected 1..99", c.max_number));
  }
  if (c.min_target > c.max_target) {
    throw InputError(fmt::format("task min_target = {} exceeds max_target (--max-target) = {}", c.min_target, c.max_target));
  }
  if (c.min_solutions < 1) throw InputError(fmt::format("task min_solutions = {}: expected >= 1", c.min_solutions));
  if (c.eval_per_mille < 1 || c.eval_per_mille > 999) {
    throw InputError(fmt::format("task eval_per_mille = {}: expected 1..999", c.eval_per_mille));
  }
}

std::string split_name(Split s) { return s == Split::kTrain ? "train" : "eval"; }

std::map<Rational, std::vector<Solution>> solve_all(const std::vector<std::int64_t>& numbers) {
  const std::size_t n = numbers.size();
  if (n == 0 || n > 6) throw InputError(fmt::format("numbers: {} given, expected 1..6", n));
  // Subset dynamic programme: every binary tree over a set splits at its root into two
  // disjoint subsets, and equal canonical forms combine into equal canonical forms, so
  // keeping one expression per signature per subset loses no solution.
  std::vector<Table> table(std::size_t{1} << n);
  for (std::size_t i = 0; i < n; ++i) insert(table[std::size_t{1} << i], Rational::of(numbers[i]), make_number(numbers[i]));
  for (std::size_t mask = 1; mask < table.size(); ++mask) {
    if ((mask & (mask - 1)) == 0) continue;
    for (std::size_t a = (mask - 1) & mask; a > 0; a = (a - 1) & mask) {
      const std::size_t b = mask ^ a;
      if (a > b) continue;  // each unordered split once; - and / are taken both ways below
      for (const auto& [sa, x] : table[a]) {
        for (const auto& [sb, y] : table[b]) {
          insert(table[mask], add(x.value, y.value), combine(x.normal, '+', y.normal));
          insert(table[mask], multiply(x.value, y.value), combine(x.normal, '*', y.normal));
          insert(table[mask], subtract(x.value, y.value), combine(x.normal, '-', y.normal));
          insert(table[mask], subtract(y.value, x.value), combine(y.normal, '-', x.normal));
          if (!y.value.is_zero()) insert(table[mask], divide(x.value, y.value), combine(x.normal, '/', y.normal));
          if (!x.value.is_zero()) insert(table[mask], divide(y.value, x.value), combine(y.normal, '/', x.normal));
        }
      }
    }
  }
  std::map<Rational, std::vector<Solution>> out;
  for (const auto& [signature, e] : table.back()) out[e.value].push_back({render(e.normal), signature});
  for (auto& [value, solutions] : out) {
    std::sort(solutions.begin(), solutions.end(), [](const Solution& x, const Solution& y) { return x.signature < y.signature; });
  }
  return out;
}

std::vector<Solution> solve(const Problem& problem) {
  auto all = solve_all(problem.numbers);
  const auto it = all.find(Rational::of(problem.target));
  return it == all.end() ? std::vector<Solution>{} : std::move(it->second);
}

Split split_of(const Problem& problem, const TaskConfig& config) {
  std::vector<std::int64_t> sorted = problem.numbers;
  std::sort(sorted.begin(), sorted.end());
  const std::string key = fmt::format("{}>{}", fmt::join(sorted, " "), problem.target);
  return fnv1a(key) % 1000 < static_cast<std::uint64_t>(config.eval_per_mille) ? Split::kEval : Split::kTrain;
}

CounterRng problem_rng(std::uint64_t seed, Split split, std::uint64_t index) {
  // With the bare seed, problem i of a split drew the uniforms that the sampler's row
  // 2 i + split reads at the same seed, so a few proposals were sampled from the numbers
  // that made their own prompt (before 2026-12-06).
  constexpr std::uint64_t kProblemTag = 0xc0de5eed0b1e3ull;  // "countdown problem"
  return CounterRng(splitmix64(seed ^ kProblemTag), 2 * index + static_cast<std::uint64_t>(split));
}

Problem generate(const TaskConfig& config, std::uint64_t seed, Split split, std::uint64_t index) {
  validate(config);
  const CounterRng rng = problem_rng(seed, split, index);
  std::uint64_t draw = 0;
  auto pick = [&](std::uint64_t size) {
    return std::min<std::uint64_t>(size - 1, static_cast<std::uint64_t>(rng.uniform(draw++) * static_cast<double>(size)));
  };
  constexpr int kMaxAttempts = 2000;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Problem p;
    for (int k = 0; k < config.count; ++k) p.numbers.push_back(1 + static_cast<std::int64_t>(pick(config.max_number)));
    std::vector<std::int64_t> targets;
    for (const auto& [value, solutions] : solve_all(p.numbers)) {
      if (value.is_integer() && value.num >= config.min_target && value.num <= config.max_target &&
          static_cast<int>(solutions.size()) >= config.min_solutions) {
        targets.push_back(value.num);
      }
    }
    if (targets.empty()) continue;
    p.target = targets[pick(targets.size())];
    if (split_of(p, config) == split) return p;
  }
  throw InputError(fmt::format(
      "task config (count {}, max_number {}, targets {}..{}, min_solutions {}) gave no {} problem in {} attempts",
      config.count, config.max_number, config.min_target, config.max_target, config.min_solutions, split_name(split),
      kMaxAttempts));
}

std::string_view task_charset() { return "0123456789+-*/()> :"; }

std::string prompt_text(const Problem& problem) {
  return fmt::format("{}>{}:", fmt::join(problem.numbers, " "), problem.target);
}

std::string reason_name(Reason r) {
  switch (r) {
    case Reason::kCorrect: return "correct";
    case Reason::kWrongValue: return "wrong_value";
    case Reason::kNumberNotAllowed: return "number_not_allowed";
    case Reason::kReusedNumber: return "reused_number";
    case Reason::kUnusedNumber: return "unused_number";
    case Reason::kSyntaxError: return "syntax_error";
    case Reason::kDivisionByZero: return "division_by_zero";
    case Reason::kOverflow: return "overflow";
    case Reason::kTruncated: return "truncated";
  }
  return "unknown";
}

Verdict verify(const Problem& problem, std::string_view completion, std::string_view eos) {
  Verdict v;
  if (!eos.empty()) {
    const std::size_t end = completion.find(eos);
    if (end == std::string_view::npos) {
      v.reason = Reason::kTruncated;
      v.detail = "no end-of-sequence token: cut off at the token limit";
      return v;
    }
    completion = completion.substr(0, end);
  }
  ParsedExpression parsed = parse_expression(completion);
  if (!parsed.expression) {
    v.reason = Reason::kSyntaxError;
    v.detail = parsed.error;
    return v;
  }
  v.signature = parsed.expression->signature;
  const std::vector<std::int64_t> used = leaves(*parsed.expression);
  std::vector<std::int64_t> given = problem.numbers;
  std::sort(given.begin(), given.end());
  for (std::size_t i = 0; i < used.size(); ++i) {
    const auto have = std::count(given.begin(), given.end(), used[i]);
    if (have == 0) {
      v.reason = Reason::kNumberNotAllowed;
      v.detail = fmt::format("{} is not among the numbers", used[i]);
      return v;
    }
    if (std::count(used.begin(), used.end(), used[i]) > have) {
      v.reason = Reason::kReusedNumber;
      v.detail = fmt::format("{} used more often than given ({})", used[i], have);
      return v;
    }
  }
  if (used.size() < given.size()) {
    v.reason = Reason::kUnusedNumber;
    v.detail = fmt::format("{} of {} numbers used", used.size(), given.size());
    return v;
  }
  if (!parsed.value) {
    if (parsed.value_error == ValueError::kOverflow) {
      v.reason = Reason::kOverflow;
      v.detail = "an intermediate value leaves the 64-bit integer range";
    } else {
      v.reason = Reason::kDivisionByZero;
    }
    return v;
  }
  if (*parsed.value != Rational::of(problem.target)) {
    v.reason = Reason::kWrongValue;
    v.detail = "value " + parsed.value->str();
    return v;
  }
  v.reason = Reason::kCorrect;
  v.reward = 1;
  return v;
}

}  // namespace disa::llm::countdown

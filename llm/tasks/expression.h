// Arithmetic expressions of the Countdown task: the parser of a completion and the
// canonical form that decides when two expressions are "the same solution".
//
// Grammar (no spaces, no unary minus, no leading zeros):
//   expr   := term (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := number | '(' expr ')'
//
// Canonical form: sums and products are flattened into n-ary nodes whose operands carry a
// sign (+/-) or a side (numerator/denominator), and the operands are sorted. So every
// commutative and associative rewriting is one solution: 3+5, 5+3, (2+3)+4, 2+(3+4),
// a-(b-c) = a-b+c, a/(b/c) = a*c/b. Distinct: different operations (2*3 vs 2+3 vs
// 2*3/1), and distributivity (2*(3+4) vs 2*3+2*4 cannot both use each number once).
// signature() is that form as a string; it is what "distinct correct solutions" counts.
// render() writes a canonical form back as the shortest expression of it (sums' operands
// unparenthesised, a sum inside a product in parentheses), and parse(render(n)) has the
// same signature as n.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/tasks/rational.h"

namespace disa::llm::countdown {

// A flattened expression: a number, or a sum / product of signed operands.
struct Normal {
  enum class Kind { kNumber, kSum, kProduct };
  Kind kind = Kind::kNumber;
  std::int64_t number = 0;  // kNumber
  // kSum: (negated, operand); kProduct: (in the denominator, operand). Sorted by
  // (flag, signature); an operand is never of the same kind as its parent.
  std::vector<std::pair<bool, Normal>> operands;
  std::string signature;  // filled by make_number / combine
};

Normal make_number(std::int64_t n);
// The canonical form of (a op b), op one of + - * /.
Normal combine(const Normal& a, char op, const Normal& b);

// The numbers used, sorted ascending (a multiset).
std::vector<std::int64_t> leaves(const Normal& n);
std::string render(const Normal& n);

// Parsing evaluates the tree as written (left to right, exact rationals): the canonical
// form alone cannot tell, since flattening a/(b/0) gives a*0/b. An intermediate value
// whose numerator or denominator leaves int64 (llm/tasks/rational.h) has no value either.
enum class ValueError { kNone, kDivisionByZero, kOverflow };
struct ParsedExpression {
  std::optional<Normal> expression;  // nullopt: a syntax error
  std::string error;                 // what was wrong and at which character
  std::optional<Rational> value;     // nullopt when a division by zero or an overflow occurred
  ValueError value_error = ValueError::kNone;  // which, the first in evaluation order
};
// Text longer than kMaxExpressionLength is a syntax error (bounds the work on junk).
inline constexpr std::size_t kMaxExpressionLength = 96;
ParsedExpression parse_expression(std::string_view text);

}  // namespace disa::llm::countdown

#include "llm/tasks/expression.h"

#include <gtest/gtest.h>

namespace disa::llm::countdown {
namespace {

std::string sig(std::string_view text) {
  const ParsedExpression p = parse_expression(text);
  EXPECT_TRUE(p.expression.has_value()) << text << ": " << p.error;
  return p.expression ? p.expression->signature : "";
}

TEST(Expression, CommutativeAndAssociativeRewritingsShareASignature) {
  EXPECT_EQ(sig("3+5"), sig("5+3"));
  EXPECT_EQ(sig("(2+3)+4"), sig("2+(3+4)"));
  EXPECT_EQ(sig("4+3+2"), sig("2+(4+3)"));
  EXPECT_EQ(sig("7-(5-3)"), sig("7-5+3"));
  EXPECT_EQ(sig("7-(5-3)"), sig("3+7-5"));
  EXPECT_EQ(sig("8/(4/2)"), sig("8*2/4"));
  EXPECT_EQ(sig("(8-5)*(7+1)"), sig("(1+7)*(8-5)"));
  EXPECT_EQ(sig("2*3*4"), sig("4*(3*2)"));
}

TEST(Expression, DifferentOperationsAreDifferentSolutions) {
  EXPECT_NE(sig("2*3"), sig("2+3"));
  EXPECT_NE(sig("2*3*1"), sig("2*3/1"));
  EXPECT_NE(sig("7-5"), sig("5-7"));
  EXPECT_NE(sig("8/4"), sig("4/8"));
  EXPECT_NE(sig("(2+3)*4"), sig("2+3*4"));
  EXPECT_NE(sig("2*3+4"), sig("2*(3+4)"));
}

TEST(Expression, ParseEvaluatesExactlyWithFractions) {
  const ParsedExpression p = parse_expression("8/(3-8/3)");
  ASSERT_TRUE(p.expression && p.value);
  EXPECT_EQ(*p.value, Rational::of(24));
  const ParsedExpression q = parse_expression("1/3+1/3");
  ASSERT_TRUE(q.value);
  EXPECT_EQ(*q.value, Rational::of(2, 3));
  // Left to right: 8-3-2 = 3, 12/2/3 = 2.
  EXPECT_EQ(*parse_expression("8-3-2").value, Rational::of(3));
  EXPECT_EQ(*parse_expression("12/2/3").value, Rational::of(2));
}

TEST(Expression, DivisionByZeroIsSeenEvenWhereTheCanonicalFormHidesIt) {
  const ParsedExpression p = parse_expression("4/(2/(3-3))");
  ASSERT_TRUE(p.expression.has_value());
  EXPECT_FALSE(p.value.has_value());
}

// Completions are model output: a value beyond int64 is no value (signed overflow was
// undefined behaviour, and wrapped in practice), whichever operation leaves the range.
TEST(Expression, OverflowIsNoValueAndNotUndefinedBehaviour) {
  for (const char* text : {"999999*999999*999999*999999", "1/999999/999999/999999/999999",
                           "999999*999999*999999*999999-999999*999999*999999*999999",
                           "1/999999/999999/999999+1/999998/999997/999996",
                           "65536*65536*65536*65536+24"}) {  // 2^64 wraps to 0 in two's complement
    const ParsedExpression p = parse_expression(text);
    ASSERT_TRUE(p.expression.has_value()) << text;
    EXPECT_FALSE(p.value.has_value()) << text << " = " << p.value->str();
    EXPECT_EQ(p.value_error, ValueError::kOverflow) << text;
  }
  // Large but in range: 999999^3 < 2^63.
  const ParsedExpression big = parse_expression("999999*999999*999999");
  ASSERT_TRUE(big.value.has_value());
  EXPECT_EQ(big.value->str(), "999997000002999999");
  // The first failure in evaluation order names the reason.
  EXPECT_EQ(parse_expression("1/(2-2)+999999*999999*999999*999999").value_error, ValueError::kDivisionByZero);
  EXPECT_EQ(parse_expression("999999*999999*999999*999999+1/(2-2)").value_error, ValueError::kOverflow);
  EXPECT_EQ(parse_expression("4/(2/(3-3))").value_error, ValueError::kDivisionByZero);
  EXPECT_EQ(parse_expression("3+4").value_error, ValueError::kNone);
}

TEST(Expression, SyntaxErrorsSayWhere) {
  for (const char* bad : {"", "3+", "(3+4", "3++4", "-3+4", "3 + 4", "03+4", "3)", "3*()", "a"}) {
    const ParsedExpression p = parse_expression(bad);
    EXPECT_FALSE(p.expression.has_value()) << bad;
    EXPECT_FALSE(p.error.empty()) << bad;
  }
  EXPECT_NE(parse_expression("3++4").error.find("character 3"), std::string::npos) << parse_expression("3++4").error;
  EXPECT_FALSE(parse_expression(std::string(kMaxExpressionLength + 1, '1')).expression.has_value());
}

TEST(Expression, RenderParsesBackToTheSameSignature) {
  for (const char* text : {"(8-5)*(7+1)", "8/(3-8/3)", "7-(5-3)", "2*(3+4)/(1+1)", "9-8/(4-2)*3", "((1))"}) {
    const ParsedExpression p = parse_expression(text);
    ASSERT_TRUE(p.expression) << text;
    const std::string r = render(*p.expression);
    EXPECT_EQ(sig(r), p.expression->signature) << text << " -> " << r;
    EXPECT_EQ(*parse_expression(r).value, *p.value) << text << " -> " << r;
  }
  EXPECT_EQ(render(*parse_expression("(7+1)*(8-5)").expression), "(1+7)*(8-5)");
}

TEST(Expression, LeavesAreTheNumbersUsed) {
  EXPECT_EQ(leaves(*parse_expression("(8-5)*(7+5)").expression), (std::vector<std::int64_t>{5, 5, 7, 8}));
}

}  // namespace
}  // namespace disa::llm::countdown

// The exact evaluator: values, exactness, and what is not a number.
#include "llm/verify/expression_evaluator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

namespace disa::llm::verify {
namespace {

Rational exact(const std::string& s) {
  const auto v = evaluate_number(s);
  EXPECT_TRUE(v && v->exact) << s;
  return v && v->exact ? *v->exact : Rational(-999999);
}

double approx(const std::string& s) {
  const auto v = evaluate_number(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v ? v->approx : std::nan("");
}

TEST(ExpressionEvaluator, IntegersDecimalsAndFractionsAreExact) {
  EXPECT_EQ(exact("025"), Rational(25));
  EXPECT_EQ(exact("27.0"), Rational(27));
  EXPECT_EQ(exact(".5"), Rational(1, 2));
  EXPECT_EQ(exact("\\frac{1}{2}"), Rational(1, 2));
  EXPECT_EQ(exact("-3/4"), Rational(-3, 4));
  EXPECT_EQ(exact("\\frac{\\frac{1}{2}}{3}"), Rational(1, 6));
  EXPECT_EQ(exact("2^{10}-1"), Rational(1023));
  EXPECT_EQ(exact("2^{-2}"), Rational(1, 4));
  EXPECT_EQ(exact("(1+2)\\cdot3"), Rational(9));
  EXPECT_EQ(exact("8.7\\times10^8"), Rational(870000000));
  EXPECT_EQ(exact("3.83e35"), Rational(boost::multiprecision::cpp_int(383) * boost::multiprecision::pow(boost::multiprecision::cpp_int(10), 33)));
  EXPECT_EQ(exact("1e-3"), Rational(1, 1000));
}

TEST(ExpressionEvaluator, PerfectSquareRootsStayExact) {
  EXPECT_EQ(exact("\\sqrt{\\frac{9}{4}}"), Rational(3, 2));
  EXPECT_EQ(exact("\\sqrt[3]{27}"), Rational(3));
  EXPECT_EQ(exact("4^{\\frac{1}{2}}"), Rational(2));
}

TEST(ExpressionEvaluator, RootsAndPiAreApproximate) {
  const auto v = evaluate_number("2\\sqrt{3}");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->exact);
  EXPECT_NEAR(v->approx, 2 * std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(approx("3\\pi"), 3 * std::numbers::pi, 1e-12);
  EXPECT_NEAR(approx("\\frac{\\pi}{2}"), std::numbers::pi / 2, 1e-12);
}

TEST(ExpressionEvaluator, AnIntegerBeforeAProperFractionIsAMixedNumber) {
  // MATH-500 geometry/826 and algebra/2470 write mixed numbers; a product would make
  // 1\frac{4}{5} equal to the wrong 4/5.
  EXPECT_EQ(exact("1\\frac{4}{5}"), Rational(9, 5));
  EXPECT_EQ(exact("137 \\frac{1}{2}"), Rational(275, 2));
  EXPECT_EQ(exact("-1\\frac{1}{2}"), Rational(-3, 2));  // the sign applies to the whole
  EXPECT_EQ(exact("3-1\\frac{1}{2}"), Rational(3, 2));
  // Anything else after a number stays an implicit product.
  EXPECT_EQ(exact("2\\frac{3}{2}"), Rational(3));    // not a proper fraction
  EXPECT_EQ(exact("1.5\\frac{1}{2}"), Rational(3, 4));  // a decimal is no whole part
  EXPECT_EQ(exact("2\\frac{\\frac{1}{2}}{3}"), Rational(1, 3));
  EXPECT_NEAR(approx("2\\sqrt{3}"), 2 * std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(approx("2\\frac{\\pi}{3}"), 2 * std::numbers::pi / 3, 1e-12);
  const auto at = evaluate_at_point("2\\frac{x}{3}", 1), x = evaluate_at_point("x", 1);
  ASSERT_TRUE(at && x);
  EXPECT_NEAR(at->value, 2 * x->value / 3, 1e-12);
}

TEST(ExpressionEvaluator, NonNumbersAreNullopt) {
  for (const std::string s : {"x", "2n", "\\infty", "(1,2)", "1/0", "\\sqrt{-4}", "", "\\frac{1}", "3+", "e^2"}) {
    EXPECT_FALSE(evaluate_number(s).has_value()) << s;
  }
}

TEST(ExpressionEvaluator, AnExponentWithoutBracesIsTheWholeNumber) {
  // As latex2sympy reads it; one digit only made 2^10 = 2^1 * 0 = 0 and 10^23 = 300.
  EXPECT_EQ(exact("2^10"), Rational(1024));
  EXPECT_EQ(exact("2^10-1"), Rational(1023));
  EXPECT_EQ(exact("10^23"), Rational(boost::multiprecision::pow(boost::multiprecision::cpp_int(10), 23)));
  EXPECT_EQ(exact("3\\cdot2^10"), Rational(3072));
  EXPECT_EQ(exact("4^0.5"), Rational(2));
  EXPECT_EQ(exact("2^3 5"), Rational(40));  // the normaliser keeps this space: 2^3 then 5
}

TEST(ExpressionEvaluator, ARelationIsNoExpression) {
  // Every spelling of a relation stops the parser: \leq is no variable to multiply by.
  for (const char* s : {"x\\le3", "x\\leq3", "x\\leqslant3", "x\\ne3", "x\\neq3", "x\\ge3", "x\\geq3", "x<3",
                        "x>3", "x\\lt3", "x\\gt3", "3x\\leq", "A\\subset B", "a\\mid b", "A\\to B", "x\\nleq3",
                        "3x\\nleq", "a\\equiv b", "x\\approx2", "A\\Rightarrow B", "x\\sim y"}) {
    EXPECT_FALSE(evaluate_number(s).has_value()) << s;
    EXPECT_FALSE(evaluate_at_point(s, 1).has_value()) << s;
  }
}

TEST(ExpressionEvaluator, TwoNumbersWithASpaceBetweenAreNoNumber) {
  // The normaliser keeps the space of "3\\quad 5": it is neither 35 (read before) nor 15.
  for (const std::string s : {"3 5", "1 2", "2+3 4", "1 .5"}) {
    EXPECT_FALSE(evaluate_number(s).has_value()) << s;
    EXPECT_FALSE(evaluate_at_point(s, 1).has_value()) << s;
  }
  EXPECT_EQ(exact("137 \\frac{1}{2}"), Rational(275, 2));  // a space before anything else is nothing
}

TEST(ExpressionEvaluator, HugePowersLeaveExactArithmetic) {
  EXPECT_EQ(exact("2^{1000}"), Rational(boost::multiprecision::pow(boost::multiprecision::cpp_int(2), 1000)));
  // Past the exact budget (4096 bits) the value goes on as a double ...
  const auto v = evaluate_number("\\frac{1000001}{1000000}^{500}");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->exact);
  EXPECT_NEAR(v->approx, std::pow(1.000001, 500), 1e-12);
  // ... and a double that overflows is no number at all.
  EXPECT_FALSE(evaluate_number("2^{9999}").has_value());
  EXPECT_FALSE(evaluate_number("2^{99999}").has_value());  // exponent over the 10000 limit
}

TEST(ExpressionEvaluator, DeepNestingIsRefusedNotACrash) {
  std::string s;
  for (int i = 0; i < 500; ++i) s += "(";
  s += "1";
  for (int i = 0; i < 500; ++i) s += ")";
  EXPECT_FALSE(evaluate_number(s).has_value());
}

TEST(ExpressionEvaluator, CotSecCscAndTheirInversesAreFunctions) {
  const auto value = [](const std::string& s) {
    const auto v = evaluate_at_point(s, 1);
    EXPECT_TRUE(v && !v->has_variables) << s;  // a function, not the variables c, o, t
    return v ? v->value : std::nan("");
  };
  EXPECT_NEAR(value("\\cot(1)"), 1 / std::tan(1.0), 1e-12);
  EXPECT_NEAR(value("\\sec(1)"), 1 / std::cos(1.0), 1e-12);
  EXPECT_NEAR(value("\\csc(1)"), 1 / std::sin(1.0), 1e-12);
  EXPECT_NEAR(value("\\sec^2 1"), 1 / (std::cos(1.0) * std::cos(1.0)), 1e-12);
  EXPECT_NEAR(value("\\arccot(2)"), std::atan(0.5), 1e-12);
  EXPECT_NEAR(value("\\arccot(-1)"), -std::numbers::pi / 4, 1e-12);  // atan(1/x), as sympy's acot
  EXPECT_NEAR(value("\\arcsec(2)"), std::numbers::pi / 3, 1e-12);
  EXPECT_NEAR(value("\\arccsc(2)"), std::numbers::pi / 6, 1e-12);
  EXPECT_NEAR(value("\\cosh(1)") - value("\\sinh(1)"), std::exp(-1.0), 1e-12);
  EXPECT_FALSE(evaluate_at_point("\\arcsec(0.5)", 1).has_value());  // outside the domain
  EXPECT_FALSE(evaluate_at_point("\\cot(0)", 1).has_value());
}

TEST(ExpressionEvaluator, VariablesTakeTheSameValueOnBothSides) {
  const auto a = evaluate_at_point("\\frac{x}{2}+\\sin(\\omega t)", 1);
  const auto b = evaluate_at_point("\\sin(t\\omega)+0.5x", 1);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->has_variables);
  EXPECT_NEAR(a->value, b->value, 1e-12);
  const auto c = evaluate_at_point("\\frac{x}{2}+\\sin(\\omega t)", 2);
  ASSERT_TRUE(c);
  EXPECT_NE(a->value, c->value);  // another point, other values
  EXPECT_FALSE(evaluate_at_point("3", 1)->has_variables);
}

}  // namespace
}  // namespace disa::llm::verify

// The value of a numeric answer: exact (a rational, arbitrary precision) while only
// + - * /, integer powers and perfect-square roots are involved; otherwise a double
// (after \sqrt of a non-square, \pi, a non-integer power).
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <optional>
#include <string>

namespace disa::llm::verify {

using Rational = boost::multiprecision::cpp_rational;

struct NumericValue {
  std::optional<Rational> exact;  // set while the value is known exactly
  double approx = 0.0;            // always set

  static NumericValue of_exact(const Rational& r);
  static NumericValue of_approx(double x);
  std::string to_string() const;  // "3/4" when exact, else shortest double
};

// Relative tolerance for values that are not both exact (see answer_equivalence.h).
inline constexpr double kRelativeTolerance = 1e-6;

// Relative tolerance against a reference written as a decimal or in scientific notation
// (answer_equivalence.h): Qwen2.5-Math's grader (math_equal: math.isclose(rel_tol=1e-4))
// uses 1e-4 for every pair of numbers, which also makes 10000 equal to 10001; here an
// integer, fraction or surd reference stays exact.
inline constexpr double kDecimalRelativeTolerance = 1e-4;

// Exact equality when both are exact: 1000000 != 1000001, 999999/2 != 500000, and a
// rounded decimal is not the fraction (1/3 != 0.3333333). Otherwise (a root, \pi, a
// function value on either side) |a-b| <= kRelativeTolerance * max(|a|,|b|); and a zero
// equals a value below kZeroDust in magnitude (rounding where 0 is meant: \sin(\pi) is
// 1.2e-16). Two nonzero values compare relatively however small: 1.6e-19 J is not 8.2e-19 J.
inline constexpr double kZeroDust = 1e-13;
//
// `decimal_tolerance` > 0 (the caller passes it when the reference is written as a
// decimal or in scientific notation, answer_equivalence.h) also accepts
// |a-b| <= decimal_tolerance * max(|a|,|b|), exact or not: 0.350001 is 0.35.
bool numerically_equal(const NumericValue& a, const NumericValue& b, double decimal_tolerance = 0);

}  // namespace disa::llm::verify

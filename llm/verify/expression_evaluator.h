// Evaluates a normalised answer that denotes a number: integers, decimals (".5"),
// scientific notation ("3.83e35"), a/b, \frac{a}{b}, \sqrt{x}, \sqrt[n]{x}, \pi,
// + - * / ^ (also \cdot, \times, \div; "2^10" is 2^{10}, as latex2sympy reads it),
// parentheses, brackets and braces, and implicit products ("2\sqrt{3}", "3\pi",
// "2(1+5)"). Anything else (a variable, \infty, an unknown command, two numbers with
// a space between, "3 5") is not a number: evaluate_number gives nullopt.
//
// evaluate_at_point() also accepts variables (a letter or a command such as \omega,
// with an optional subscript, accent or primes: x, C_1, \rho_{0}, \dot{x}, x'),
// Euler's e, and \sin \cos \tan \cot \sec \csc, their \arc inverses (\arccot as sympy's
// acot, atan(1/x)), \sinh \cosh \tanh, \ln \log \exp (without
// parentheses a function takes the implicit product after it, up to an operator or
// another function: \sin 2x is sin(2x), \sin x\cos x is sin(x)cos(x)). Each variable
// gets a value from a hash of its name and `point` ([1.5, 3.5) at odd points,
// [0.1, 1.1) at even ones); outside a function's domain the result is nullopt.
// Comparing two expressions at several points decides symbolic equality with high
// probability (there is no sympy here); it is double arithmetic, never exact.
//
// Limits, so a hostile answer cannot make it slow or huge: at most 64 nested levels,
// literals of at most 1000 digits, integer exponents up to 10000 in magnitude while
// the exact result stays under 4096 bits (beyond that the value continues as a
// double; an infinite double is no number).
#pragma once

#include <optional>
#include <string_view>

#include "llm/verify/numeric_value.h"

namespace disa::llm::verify {

std::optional<NumericValue> evaluate_number(std::string_view normalized);

struct PointValue {
  double value = 0.0;
  bool has_variables = false;  // false: the expression is a plain number
};
std::optional<PointValue> evaluate_at_point(std::string_view normalized, unsigned point);

}  // namespace disa::llm::verify

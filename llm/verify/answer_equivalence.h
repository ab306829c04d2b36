// Decides whether two normalised answers (see latex_normalizer.h) are the same answer.
//
// Thousands separators: "1,000" against a single number is 1000; against a list it
// is the list 1, 000 (so "100,200" and "200,100" are the same two answers). A comma
// followed by a space ("100, 200", kept so by normalize_answer) is always a list. The
// LaTeX separators "10,\!080" (MATH's), "1\,000" and "1{,}000" reach here as 10080 and
// 1000: one number, never a list. A relation reads its sides alike: "x>1,000" against one
// answer (a scalar, an interval or a union) is "x>1000", if every comma sits in a side written
// with thousands separators ("x=1,2" and "x>1,00" stay lists); so do relations joined by "or",
// each of them ("x<1,000 \text{ or } x>2,000" is "(-\infty,1000)\cup(2000,\infty)").
//
// Structure first: a tuple or interval "(a,b)", "[a,b)" matches elementwise in order,
// and only a tuple with the same brackets ("(1,2)" is not "[1,2]", which as intervals
// differ); a set "\{a,b\}", a bare list "a, b" (several answers) and a union of
// intervals "A\cup B" match as multisets, in any order (elements labelled on both
// sides only under the same label: "a=3, b=2" is not "a=2, b=3"). Then each scalar:
// "x=3" is "3"; an inequality (<, >, \le, \ge, \ne, possibly chained, also with =) is
// compared as a relation, never as a value: the same relations with equivalent sides, or
// for a single relation the mirrored one with its sides swapped ("3\ge x" is "x\le 3");
// an inequality in one variable with numeric bounds against an interval is the interval it
// describes ("-2\le x<7" is "[-2,7)", "x<3" is "(-\infty,3)"), brackets compared exactly, but
// not against a reference "(a,b)" with finite ends, which may be a point ("x\in(a,b)" is a set);
// a union of intervals against such inequalities joined by "or" ("x<1 \text{ or } x>2" is
// "(-\infty,1)\cup(2,\infty)") compares the intervals in any order; "x\ne 3" with a finite
// bound is "(-\infty,3)\cup(3,\infty)" and "\mathbb{R}\setminus\{3\}" (also "\mathbb{R}-\{3\}";
// several points: "\mathbb{R}\setminus\{1,2\}" is "(-\infty,1)\cup(1,2)\cup(2,\infty)");
// "\mathbb{R}" is "(-\infty,\infty)"; "]a,b[", "]a,b]", "[a,b[" are "(a,b)", "(a,b]", "[a,b)"; an
// inequality linear in one variable with rational coefficients is solved exactly, a negative
// coefficient turning the order ("2x\le 6" and "2x+1\le 7" are "x\le 3" and "(-\infty,3]", "-x<3"
// is "x>-3", "\frac{x}{2}>1" is "x>2"; not "x^2<4", which compares side by side), and a surd
// coefficient alone is divided out by value ("\sqrt{2}x<2" is "x<\sqrt{2}"); two
// inequalities in one variable equal when they describe the same intervals of the same
// variable ("x<1 \text{ or } x>2" is not "y<1 \text{ or } y>2");
// if both sides evaluate to numbers (expression_evaluator.h) they are compared
// by value (exactly when both are rational, else to a relative 1e-6; numeric_value.h);
// if either has variables, by evaluating both at 3 pseudo-random points (symbolic
// equality with high probability; no sympy); otherwise the texts must be equal.
//
// A reference written as a decimal with a nonzero fractional digit or in scientific
// notation ("0.35", "7.5", "1.2e-3", "3.83\times10^{35}": a measured or rounded value,
// as Minerva's) also accepts a number within EquivalenceOptions::decimal_relative_tolerance
// of it (default 1e-4, Qwen2.5-Math's math_equal rel_tol), and so does a constant that
// only the point evaluation reads (\arcsin(10/13) vs 0.87707). An integer reference
// ("10000", AMC's "27.0"), a fraction or a surd stays exact: 10001 is not 10000, 0.50001
// is not \frac{1}{2}. A reference in scientific notation gets the tolerance even when its
// value is an integer (2000001 equals 2\times10^{6}): a mantissa times a power of ten is a
// quantity given to the mantissa's figures, measured or rounded, not an exact count. The
// order of the arguments matters here and for units: the response first.
//
// Units: a response that is a number followed by units from a list (bare, as the
// normaliser keeps them: "30m/s", "4.4677\times10^{14}Hz", "5meters", "2\sqrt{3}cm")
// equals a plain-number reference with that number; two answers with the same units
// compare by their numbers. A reference's letters are never dropped against a bare
// number ("2" is not "2mg"), and against a reference with variables they are variables
// ("6m" vs "6m", "\frac{1}{2}m" vs "\frac{m}{2}").
//
// Percent: "50%" equals 50 (the harnesses drop the sign) and equals 0.5 (the value it
// denotes); a bare 50 does not equal 0.5.
#pragma once

#include <string>
#include <string_view>

namespace disa::llm::verify {

struct Equivalence {
  bool equal = false;
  std::string how;  // e.g. "same value 1/2", "texts differ", "tuple: element 2 differs"
};

struct EquivalenceOptions {
  // Relative tolerance against a decimal reference (above); 0 compares exactly.
  double decimal_relative_tolerance = 1e-4;  // kDecimalRelativeTolerance (numeric_value.h)
};

Equivalence answers_equivalent(std::string_view normalized_response, std::string_view normalized_reference,
                               const EquivalenceOptions& options = {});

}  // namespace disa::llm::verify

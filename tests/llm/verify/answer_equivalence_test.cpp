// The equivalence rules, including the tricky pairs from issue 8. Inputs are
// normalised first, as verify_math does.
#include "llm/verify/answer_equivalence.h"

#include <gtest/gtest.h>

#include <string>

#include "llm/verify/latex_normalizer.h"

namespace disa::llm::verify {
namespace {

bool same(const std::string& response, const std::string& reference) {
  return answers_equivalent(normalize_answer(response), normalize_answer(reference)).equal;
}

TEST(AnswerEquivalence, IntegersWithLeadingZerosAndTrailingDotZero) {
  EXPECT_TRUE(same("25", "025"));   // AIME
  EXPECT_TRUE(same("27", "27.0"));  // AMC
  EXPECT_FALSE(same("26", "025"));
  EXPECT_FALSE(same("27.01", "27.0"));
}

TEST(AnswerEquivalence, FractionsDecimalsAndSlashAgree) {
  EXPECT_TRUE(same("\\frac{1}{2}", "0.5"));
  EXPECT_TRUE(same("1/2", "\\frac12"));
  EXPECT_TRUE(same("\\dfrac{1}{2}", "\\tfrac{2}{4}"));
  // An exact reference compares exactly: a rounded decimal is not the fraction, however
  // close. A decimal reference is itself rounded: within the relative 1e-4 is equal.
  EXPECT_FALSE(same("\\frac{1}{3}", "0.333"));
  EXPECT_FALSE(same("0.3333333333", "\\frac{1}{3}"));
  EXPECT_TRUE(same("\\frac{1}{3}", "0.3333333333"));
  EXPECT_FALSE(same("\\frac{999999}{2}", "500000"));
}

TEST(AnswerEquivalence, IntegersCompareExactlyHowEverLarge) {
  EXPECT_FALSE(same("1000001", "1000000"));  // a relative tolerance would call these equal
  EXPECT_TRUE(same("1,000,000", "1000000"));
  EXPECT_TRUE(same("1000000", "1,000,000"));
  EXPECT_FALSE(same("1,000,001", "1000000"));
}

TEST(AnswerEquivalence, ThreeDigitListsAreNotThousands) {
  EXPECT_TRUE(same("200, 100", "100,200"));  // two answers in any order, not 200100 vs 100200
  EXPECT_FALSE(same("100,200", "100200, 1"));
  // A comma and a space before three digits separate two answers, never thousands.
  EXPECT_FALSE(same("\\boxed{100, 200}", "100200"));
  EXPECT_FALSE(same("100200", "100, 200"));
  EXPECT_TRUE(same("100, 200", "200,100"));
  EXPECT_TRUE(same("100,200", "100200"));  // without the space it is one number
}

TEST(AnswerEquivalence, ThousandsSeparatorsAsMathTypesetsThem) {
  // MATH-500's references write ",\!" (was read as a list of two, "10, 080").
  EXPECT_TRUE(same("\\boxed{10080}", "10,\\!080"));
  EXPECT_TRUE(same("32348", "\\$32,\\!348"));
  EXPECT_TRUE(same("11111111100", "11,\\! 111,\\! 111,\\! 100"));
  EXPECT_TRUE(same("\\boxed{1,\\!200}", "1200"));
  EXPECT_TRUE(same("\\boxed{\\$1,\\!200}", "1200"));
  EXPECT_TRUE(same("1,\\,200", "1200"));
  EXPECT_TRUE(same("1\\,000", "1000"));
  // Written out, the number is no list: its groups are not two answers in any order.
  EXPECT_FALSE(same("\\boxed{80, 10}", "10,\\!080"));
  EXPECT_FALSE(same("\\boxed{200, 1}", "1,\\!200"));
  EXPECT_FALSE(same("10, 80", "10,\\!080"));
  // A thin space after a list's comma leaves a list.
  EXPECT_TRUE(same("1,\\,2", "2, 1"));
  EXPECT_TRUE(same("(3,\\, 100)", "(3,100)"));
}

TEST(AnswerEquivalence, ASpaceBetweenDigitsDoesNotJoinThem) {
  EXPECT_FALSE(same("\\boxed{3\\quad 5}", "35"));
  EXPECT_FALSE(same("\\boxed{1\\ 2}", "12"));
  EXPECT_FALSE(same("3~5", "35"));
  EXPECT_FALSE(same("3\\quad 5", "15"));
  EXPECT_TRUE(same("3\\quad 5", "3 \\quad 5"));  // as text, itself
  EXPECT_TRUE(same("1\\,000", "1000"));          // the thousands form
  // Plain spaces are not shown in math mode: OlympiadBench's solutions write 11 as
  // "\mathbf{1 1}" (ids 2673, 2829, 2971).
  EXPECT_TRUE(same("\\mathbf{1 1}", "11"));
  EXPECT_TRUE(same("\\frac{1 5}{4}", "\\frac{15}{4}"));
}

TEST(AnswerEquivalence, AnExponentWithoutBracesIsTheWholeNumber) {
  EXPECT_TRUE(same("\\boxed{2^10}", "1024"));
  EXPECT_FALSE(same("\\boxed{2^10}", "0"));
  EXPECT_FALSE(same("10^23", "300"));
  EXPECT_TRUE(same("x^10", "x^{10}"));
  EXPECT_TRUE(same("x^2 3", "3x^2"));  // a space ends the exponent
  EXPECT_FALSE(same("x^2 3", "x^{23}"));
  EXPECT_TRUE(same("x^{2}3", "3x^2"));
  EXPECT_TRUE(same("x_{1}2", "2x_1"));
}

TEST(AnswerEquivalence, RootsAndPi) {
  EXPECT_TRUE(same("2\\sqrt{3}", "\\sqrt{12}"));
  EXPECT_FALSE(same("2\\sqrt{3}", "\\sqrt{13}"));
  EXPECT_TRUE(same("3\\pi", "3π"));
  EXPECT_TRUE(same("\\frac{3\\pi}{2}", "1.5\\pi"));
  EXPECT_FALSE(same("3\\pi", "9.42"));  // 3pi = 9.42477..., off by more than 1e-6
  EXPECT_TRUE(same("3\\pi", "9.42477796"));  // within the relative 1e-6 of an irrational value
}

TEST(AnswerEquivalence, MixedNumbers) {
  EXPECT_TRUE(same("\\frac{9}{5}", "1\\frac{4}{5}"));  // MATH-500 geometry/826
  EXPECT_TRUE(same("1.8", "1\\frac{4}{5}"));
  EXPECT_FALSE(same("\\frac{4}{5}", "1\\frac{4}{5}"));
  EXPECT_TRUE(same("137.5", "137 \\frac{1}{2}"));  // algebra/2470
  EXPECT_FALSE(same("68.5", "137 \\frac{1}{2}"));
}

TEST(AnswerEquivalence, ConstantsWithFunctionsOrECompareByValue) {
  EXPECT_TRUE(same("\\ln 4", "2\\ln 2"));
  EXPECT_TRUE(same("\\frac{1}{e}", "e^{-1}"));
  EXPECT_TRUE(same("\\sin(\\pi/6)", "\\frac12"));
  EXPECT_TRUE(same("\\cos 0", "1"));
  EXPECT_TRUE(same("\\arcsin(10/13)", "\\arcsin{\\frac{10}{13}}"));  // Minerva
  EXPECT_FALSE(same("\\ln 4", "\\ln 2"));
  EXPECT_FALSE(same("\\frac{1}{e}", "e"));
  EXPECT_FALSE(same("\\ln 2", "0.69"));  // a rounded value is off by more than 1e-6
  EXPECT_FALSE(same("\\cos 0", "1, 1"));
}

TEST(AnswerEquivalence, AFunctionWithoutParenthesesTakesTheProductAfterIt) {
  // \sin 2x is sin(2x), as latex2sympy reads it (was sin(2) times x).
  EXPECT_TRUE(same("\\sin 2x", "\\sin(2x)"));
  EXPECT_FALSE(same("\\sin 2x", "x\\sin 2"));
  EXPECT_TRUE(same("\\frac{\\cos 2t}{15}", "\\frac{\\cos (2 t)}{15}"));
  EXPECT_TRUE(same("\\ln 2x", "\\ln(2x)"));
  EXPECT_TRUE(same("\\sin^2 3x", "(\\sin(3x))^2"));
  EXPECT_TRUE(same("\\sin \\pi x", "\\sin(\\pi x)"));
  // The run ends at a sum, an explicit operator and another function.
  EXPECT_TRUE(same("\\sin 2x+1", "\\sin(2x)+1"));
  EXPECT_TRUE(same("\\sin x/2", "\\frac{\\sin(x)}{2}"));
  EXPECT_TRUE(same("2\\sin x\\cos x", "\\sin(2x)"));
  EXPECT_TRUE(same("\\sin x\\sqrt{2}", "\\sqrt{2}\\sin(x)"));
}

TEST(AnswerEquivalence, CotSecAndCscAreFunctions) {
  EXPECT_TRUE(same("\\cot x", "\\frac{\\cos x}{\\sin x}"));
  EXPECT_TRUE(same("\\sec x", "\\frac{1}{\\cos x}"));
  EXPECT_TRUE(same("\\csc 2x", "\\frac{1}{\\sin(2x)}"));
  EXPECT_TRUE(same("\\sec^2 x", "1+\\tan^2 x"));
  EXPECT_TRUE(same("\\cot(\\pi/4)", "1"));
  EXPECT_TRUE(same("\\operatorname{arccot}(1)", "\\frac{\\pi}{4}"));
  EXPECT_TRUE(same("\\csc \\frac{\\pi}{6}", "2"));
  EXPECT_FALSE(same("\\cot x", "\\tan x"));
  EXPECT_FALSE(same("\\sec x", "\\csc x"));
}

TEST(AnswerEquivalence, TinyNonzeroValuesCompareRelatively) {
  // Physical constants are tiny, not zero (Minerva): only a zero absorbs rounding dust.
  EXPECT_FALSE(same("1.6 \\times 10^{-19} J", "8.224\\times10^{-19}"));
  EXPECT_FALSE(same("5\\times10^{-34} Js", "6.63\\times10^{-34}"));
  EXPECT_FALSE(same("-2\\cdot10^{-13}", "10^{-13}\\sqrt{2}"));
  EXPECT_FALSE(same("0", "\\frac{\\pi}{10^{13}}"));
  EXPECT_TRUE(same("8.224\\times10^{-19}", "8.224\\times 10^{-19}"));
  EXPECT_TRUE(same("\\pi\\times10^{-34}", "3.14159265\\times10^{-34}"));  // within 1e-6 of an irrational
  EXPECT_FALSE(same("\\pi\\times10^{-34}", "3.14\\times10^{-34}"));
  // Rounding dust where 0 is meant: an expression identically 0, evaluated at points.
  EXPECT_TRUE(same("(x+\\sqrt{2})^2-x^2-2\\sqrt{2}x-2", "0"));
}

TEST(AnswerEquivalence, AFunctionValueIsNotAProduct) {
  // I(0) as I times 0 would make the whole reference 0, equal to any 0 or any multiple.
  EXPECT_FALSE(same("0", "I(0)e^{-\\frac{t}{RC}}"));
  EXPECT_FALSE(same("I(0)e^{-\\frac{t}{2RC}}", "I(0)e^{-\\frac{t}{RC}}"));
  EXPECT_TRUE(same("x(x+1)", "x^2+x"));  // a product still: its parentheses hold an expression
  // Lower case or a coefficient in front: still a product.
  EXPECT_TRUE(same("6t(2)", "12t"));
  EXPECT_TRUE(same("\\frac{1}{2}h(3)", "\\frac{3h}{2}"));
  EXPECT_TRUE(same("y(2)", "2y"));
  EXPECT_TRUE(same("x(0.5)", "0.5x"));
}

TEST(AnswerEquivalence, MathFiveHundredForms) {
  // A lettered choice however it is written.
  EXPECT_TRUE(same("\\boxed{C}", "\\text{(C)}"));
  EXPECT_TRUE(same("\\text{C}", "\\text{(C)}"));
  EXPECT_FALSE(same("B", "\\text{(C)}"));
  // a \pm b is both roots, in any order.
  EXPECT_TRUE(same("1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}"));
  EXPECT_TRUE(same("3-2\\sqrt{2}, 3+2\\sqrt{2}", "3 \\pm 2\\sqrt{2}"));
  EXPECT_TRUE(same("-2, 1+\\sqrt{5}, 1-\\sqrt{5}", "\\{1\\pm\\sqrt{5},-2\\}"));
  EXPECT_FALSE(same("1+\\sqrt{19}", "1 \\pm \\sqrt{19}"));  // one root is not the answer
  // A word answer is case-blind; a tuple may be named by its variables.
  EXPECT_TRUE(same("\\text{East}", "\\text{east}"));
  EXPECT_FALSE(same("\\text{West}", "\\text{east}"));
  // Single letters and formulas keep their case: x is not X, Co is not CO.
  EXPECT_FALSE(same("x", "X"));
  EXPECT_FALSE(same("a", "A"));
  EXPECT_FALSE(same("Co", "CO"));
  EXPECT_TRUE(same("(x,y)=(1,2)", "(1,2)"));
  EXPECT_FALSE(same("(x,y)=(2,1)", "(1,2)"));
}

TEST(AnswerEquivalence, PercentIsItsNumberOrItsHundredth) {
  EXPECT_TRUE(same("50\\%", "50"));
  EXPECT_TRUE(same("50", "50\\%"));
  EXPECT_TRUE(same("0.5", "50\\%"));
  EXPECT_FALSE(same("0.5", "50"));  // without a percent sign nothing is scaled
  EXPECT_FALSE(same("5000", "50\\%"));
}

TEST(AnswerEquivalence, UnitsAndDegreesAreDropped) {
  EXPECT_TRUE(same("5\\text{ cm}", "5"));
  EXPECT_TRUE(same("5", "5 \\text{cm}^2"));
  EXPECT_TRUE(same("90^\\circ", "90"));
  EXPECT_FALSE(same("6\\text{ cm}", "5"));
  EXPECT_TRUE(same("5\\textrm{ cm}", "5"));
  EXPECT_TRUE(same("5\\mathrm{cm}", "5"));
  EXPECT_TRUE(same("5\\,\\text{m/s}", "5"));
  EXPECT_TRUE(same("9.6 \\mathrm{eV}", "9.6"));
  EXPECT_TRUE(same("5 cm", "5"));
  EXPECT_TRUE(same("4.4677 \\times 10^{14} Hz", "4.4677 \\times 10^{14}"));  // Minerva 155
  EXPECT_TRUE(same("6.4 \\times 10^{16} \\ \\mathrm{cm}^{-3}", "6.4 \\times 10^{16}"));
  EXPECT_TRUE(same("30 m/s", "30"));
  EXPECT_TRUE(same("2.5 \\, kg", "2.5"));
  EXPECT_TRUE(same("12 years", "12"));
  EXPECT_TRUE(same("45 degrees", "45"));
  EXPECT_TRUE(same("15 \\mbox{ cm}^2", "15"));
  EXPECT_FALSE(same("6 cm", "5"));
  // The answer itself stays: choices, words, a variable after a number.
  EXPECT_FALSE(same("\\text{(A)}", "\\text{(B)}"));
  EXPECT_TRUE(same("\\text{Monday}", "\\text{monday}"));
  EXPECT_FALSE(same("\\text{Monday}", "\\text{Tuesday}"));
  EXPECT_FALSE(same("5 x", "5"));
  EXPECT_FALSE(same("5 \\text{ million}", "5"));
  EXPECT_FALSE(same("5 million", "5"));
  EXPECT_FALSE(same("3 i", "3"));
  EXPECT_TRUE(same("2 k", "2k"));
}

TEST(AnswerEquivalence, SingleLetterVariablesAfterANumberStay) {
  // Bare units are not stripped by the normaliser: these letters are variables when the
  // reference has them (OlympiadBench writes "$6m$").
  EXPECT_TRUE(same("6 m", "6m"));
  EXPECT_TRUE(same("6\\,m", "6m"));
  EXPECT_TRUE(same("3 m^2", "3m^2"));
  EXPECT_TRUE(same("2 m g", "2mg"));
  EXPECT_TRUE(same("\\frac{1}{2} m", "\\frac{m}{2}"));
  EXPECT_TRUE(same("4 N", "4N"));
  EXPECT_TRUE(same("2 s", "2s"));
  EXPECT_TRUE(same("5 A", "5A"));
  EXPECT_FALSE(same("2", "2 m g"));  // a reference's letters are never dropped
  EXPECT_FALSE(same("2", "2mg"));
  EXPECT_FALSE(same("6", "6m"));
  EXPECT_FALSE(same("7 m", "6m"));
}

TEST(AnswerEquivalence, UnitsAfterANumberAgainstANumericReference) {
  EXPECT_TRUE(same("6 m", "6"));  // against a plain number the letters are units
  EXPECT_TRUE(same("30 m/s", "30"));
  EXPECT_TRUE(same("3 \\times 10^8 m s^{-1}", "3\\times10^{8}"));
  EXPECT_TRUE(same("12 square units", "12"));
  EXPECT_TRUE(same("0.5 kg m^2", "0.5"));
  EXPECT_TRUE(same("4.4677 \\times 10^{14} Hz", "4.4677 \\times 10^{14}"));
  EXPECT_TRUE(same("\\frac{1}{2} kg", "0.5"));
  EXPECT_TRUE(same("5 m, 6 m", "5, 6"));
  EXPECT_TRUE(same("2\\sqrt{3} cm", "2\\sqrt{3}"));  // any number, not only decimals
  EXPECT_TRUE(same("\\frac{\\sqrt{3}}{2} m", "\\frac{\\sqrt{3}}{2}"));
  EXPECT_TRUE(same("2\\pi rad", "2\\pi"));
  EXPECT_FALSE(same("3\\sqrt{3} cm", "2\\sqrt{3}"));
  EXPECT_FALSE(same("5" + std::string(150, 'm') + "x", "5"));  // no unit at the end: no split
  EXPECT_TRUE(same("5 kg" + std::string(150, 'm'), "5"));      // memoised: linear
  EXPECT_FALSE(same("31 m/s", "30"));
  EXPECT_FALSE(same("5 mx", "5"));   // x is no unit
  EXPECT_FALSE(same("5 \\pi", "5"));
  // The same units on both sides: the numbers decide (a wrong digit stays wrong).
  EXPECT_TRUE(same("4.4677 \\times 10^{14} Hz", "4.4677 \\times 10^{14} Hz"));
  EXPECT_FALSE(same("4.5677 \\times 10^{14} Hz", "4.4677 \\times 10^{14} Hz"));
  // A unit in text with its number: \text{5 meters}.
  EXPECT_TRUE(same("\\text{5 meters}", "5"));
  EXPECT_TRUE(same("\\text{5 cm}", "5"));
  EXPECT_FALSE(same("\\text{6 meters}", "5"));
  EXPECT_FALSE(same("\\text{5 apples}", "5"));
}

TEST(AnswerEquivalence, RomanSubscriptsAreNames) {
  EXPECT_FALSE(same("T_{\\rm min}", "T_{\\rm max}"));
  EXPECT_FALSE(same("\\frac{3}{2} k T_{\\rm min}", "\\frac{3}{2} k T_{\\rm eff}"));
  EXPECT_FALSE(same("x^{\\rm T}", "x^{\\rm 2}"));
  EXPECT_TRUE(same("2v_{\\rm max}", "2v_{max}"));
  EXPECT_FALSE(same("v_\\mathrm{min}", "v_\\mathrm{max}"));
  EXPECT_TRUE(same("v_\\mathrm{min}", "v_{\\rm min}"));
  EXPECT_TRUE(same("9.6 {\\rm eV}", "9.6"));
}

TEST(AnswerEquivalence, OldRomanOutsideAScriptIsItsText) {
  // {\rm X} outside _ and ^ loses its braces: {\rm e} is e, not the group {e}.
  EXPECT_TRUE(same("{\\rm e}", "e"));
  EXPECT_TRUE(same("{\\rm i}", "i"));
  EXPECT_TRUE(same("(1,{\\rm i})", "(1,i)"));
  EXPECT_TRUE(same("{\\rm A}", "A"));
  EXPECT_TRUE(same("{\\rm (A)}", "A"));
  EXPECT_TRUE(same("{\\rm Yes}", "Yes"));
  EXPECT_TRUE(same("{\\rm Monday}", "\\text{Monday}"));
  EXPECT_TRUE(same("{\\rm A},{\\rm B}", "A,B"));
  EXPECT_TRUE(same("{\\rm d}x", "dx"));
  EXPECT_FALSE(same("{\\rm B}", "A"));
  // Inside a script it is still part of the symbol.
  EXPECT_FALSE(same("T_{\\rm min}", "T_{\\rm max}"));
  EXPECT_FALSE(same("x^{\\rm T}", "x^{\\rm 2}"));
  // A group with spacing or braces of its own is a unit after a number too.
  EXPECT_TRUE(same("5\\,{\\rm m\\,s^{-1}}", "5"));
  EXPECT_TRUE(same("5{\\rm~cm}", "5"));
  EXPECT_FALSE(same("6{\\rm~cm}", "5"));
}

TEST(AnswerEquivalence, UnitsJoinedByCdotOrPerHour) {
  EXPECT_TRUE(same("6.6 J\\cdot s", "6.6"));
  EXPECT_TRUE(same("2 kg\\cdot m/s", "2"));
  EXPECT_TRUE(same("5 N \\cdot m", "5"));
  EXPECT_TRUE(same("3\\times10^8 m \\cdot s^{-1}", "3\\times10^8"));
  EXPECT_TRUE(same("2 kg / m", "2"));
  EXPECT_FALSE(same("5 N \\cdot x", "5"));
  EXPECT_FALSE(same("6 N \\cdot m", "5"));
  // h is the hour after "/" only; alone it stays a variable.
  EXPECT_TRUE(same("30 km/h", "30"));
  EXPECT_FALSE(same("30 h", "30"));
  EXPECT_FALSE(same("31 km/h", "30"));
}

TEST(AnswerEquivalence, TextAfterAnEqualsSignIsTheValue) {
  EXPECT_FALSE(same("f(x)=\\text{odd}", "f(x)=\\text{even}"));
  EXPECT_FALSE(same("x=\\text{odd}", "x=\\text{even}"));
  EXPECT_TRUE(same("x=\\text{even}", "even"));  // as x=5 against 5
  EXPECT_TRUE(same("x=5", "5"));
  EXPECT_TRUE(same("f(x)=\\text{odd}", "f(x)=\\text{odd}"));
  EXPECT_TRUE(same("x = 5\\text{ cm}", "5"));  // a unit after the value still goes
}

TEST(AnswerEquivalence, RelationsCompareAsRelations) {
  EXPECT_TRUE(same("x\\le 3", "x \\leq 3"));
  EXPECT_TRUE(same("x<=3", "x \\leq 3"));
  EXPECT_TRUE(same("x\\leqslant 3", "x\\leq 3"));
  EXPECT_TRUE(same("x\\ne 3", "x\\neq 3"));
  EXPECT_TRUE(same("x ≥ 3", "x\\geqq 3"));
  EXPECT_TRUE(same("x\\lt 3", "x<3"));
  EXPECT_TRUE(same("k \\ge 2", "k \\geqslant 2"));  // OlympiadBench
  // The sides compare as values or expressions.
  EXPECT_TRUE(same("x\\le\\frac{1}{2}", "x \\leq 0.5"));
  EXPECT_TRUE(same("2x+1>0", "1+2x > 0"));
  // Same relation with a different side, a different relation, or no relation: 0.
  EXPECT_FALSE(same("x\\le 4", "x\\le 3"));
  EXPECT_FALSE(same("x\\leqslant 4", "x\\leq 3"));
  EXPECT_FALSE(same("y\\le 3", "x\\le 3"));
  EXPECT_FALSE(same("x\\le 3", "x\\ge 3"));
  EXPECT_FALSE(same("x\\le 3", "x<3"));
  EXPECT_FALSE(same("x\\ne 3", "x=3"));
  EXPECT_FALSE(same("x\\le 3", "x=3"));
  EXPECT_FALSE(same("x\\le 3", "3"));
  EXPECT_FALSE(same("3", "x\\ge 3"));
  // A relation is never a product of variables named \leq or \ne.
  EXPECT_FALSE(same("x\\leq 3", "3x\\leq"));
  EXPECT_FALSE(same("x\\ne 3", "3x\\neq"));
  EXPECT_FALSE(same("x\\le 3", "3\\le x\\le"));
}

TEST(AnswerEquivalence, AFlippedRelationIsTheSameStatement) {
  EXPECT_TRUE(same("3 \\ge x", "x \\le 3"));
  EXPECT_TRUE(same("3 > x", "x < 3"));
  EXPECT_TRUE(same("3\\geqslant x", "x<=3"));
  EXPECT_TRUE(same("3 \\ne x", "x \\neq 3"));
  EXPECT_FALSE(same("3 \\le x", "x \\le 3"));
  EXPECT_FALSE(same("3 < x", "x < 3"));
  EXPECT_FALSE(same("4 \\ge x", "x \\le 3"));
  EXPECT_FALSE(same("3 > x", "x \\le 3"));
  // Chains compare in the order written or read from the other side, each relation
  // mirrored (a review found 1\le x\le 3 vs 3\ge x\ge 1 scored 0).
  EXPECT_TRUE(same("1<x<3", "1 < x < 3"));
  EXPECT_TRUE(same("0\\leq x<\\frac{1}{2}", "0 \\le x < 0.5"));
  EXPECT_FALSE(same("1<x<4", "1 < x < 3"));
  EXPECT_FALSE(same("1\\le x<3", "1<x\\le 3"));
  EXPECT_TRUE(same("1\\le x\\le 3", "3\\ge x\\ge 1"));
  EXPECT_TRUE(same("3\\ge x>1", "1<x\\le 3"));
  EXPECT_TRUE(same("C>A>B", "B<A<C"));
  EXPECT_FALSE(same("3>x\\ge 1", "1<x\\le 3"));  // mirrored relations differ: \le<- vs <\le
  EXPECT_FALSE(same("3\\ge x\\ge 1", "1\\le x\\le 4"));
  EXPECT_FALSE(same("1\\le x\\le 3", "1\\ge x\\ge 3"));  // reversed sides, same relations
}

TEST(AnswerEquivalence, ANegatedOrderIsTheOppositeOrder) {
  EXPECT_TRUE(same("x\\not<3", "x\\ge 3"));
  EXPECT_TRUE(same("x\\nleq 3", "x>3"));
  EXPECT_TRUE(same("x\\ngeq 3", "3>x"));
  EXPECT_TRUE(same("x\\ngtr 3", "(-\\infty,3]"));
  EXPECT_FALSE(same("x\\not<3", "x<3"));
  EXPECT_FALSE(same("x\\not<3", "x>3"));
  EXPECT_FALSE(same("x\\nleq 3", "x\\le 3"));
  EXPECT_FALSE(same("x\\nleq 3", "x\\ge 3"));
  EXPECT_FALSE(same("x\\lneq 3", "x<3"));  // no rewriting of what has no real-ordered reading
}

TEST(AnswerEquivalence, AnIntervalIsTheInequalityInOneVariable) {
  // Each end as the relation says it: \le and \ge close it, < and > leave it open, a
  // missing side is infinite; either side may be the response.
  EXPECT_TRUE(same("-2\\le x\\le 7", "[-2,7]"));
  EXPECT_TRUE(same("[-2,7]", "-2\\le x\\le 7"));
  EXPECT_TRUE(same("-2\\le x\\le 7", "x \\in [-2,7]"));  // MATH-500's reference
  EXPECT_TRUE(same("7\\ge x\\ge -2", "[-2,7]"));
  EXPECT_TRUE(same("x<3", "(-\\infty,3)"));
  EXPECT_TRUE(same("(-\\infty,3)", "x<3"));
  EXPECT_TRUE(same("3>x", "(-\\infty,3)"));
  EXPECT_TRUE(same("x\\ge 1", "[1,\\infty)"));
  EXPECT_TRUE(same("1\\le x", "[1,\\infty)"));
  EXPECT_TRUE(same("x\\le 0", "(-\\infty, 0]"));
  EXPECT_TRUE(same("x>2", "(2,\\infty)"));
  EXPECT_TRUE(same("x > 2", "(2,+\\infty)"));
  EXPECT_TRUE(same("-\\infty<x<3", "(-\\infty,3)"));
  EXPECT_TRUE(same("x\\in[1,3)", "1\\le x<3"));
  EXPECT_TRUE(same("1\\le x<3", "x\\in[1,3)"));
  EXPECT_TRUE(same("x\\in[1,3)", "[1,3)"));
  EXPECT_TRUE(same("0.6<x\\le\\frac{8}{3}", "\\left(\\frac{3}{5},\\frac{8}{3}\\right]"));
  // An interval answer against an inequality reference, finite and open at both ends.
  EXPECT_TRUE(same("(1,3)", "1<x<3"));
  EXPECT_TRUE(same("1<x<3", "x\\in(1,3)"));
}

TEST(AnswerEquivalence, AnIntervalKeepsItsEndsAndItsBounds) {
  EXPECT_FALSE(same("[1,3)", "1\\le x\\le 3"));
  EXPECT_FALSE(same("1\\le x\\le 3", "[1,3)"));
  EXPECT_FALSE(same("x<3", "(-\\infty,3]"));
  EXPECT_FALSE(same("x\\le 3", "(-\\infty,3)"));
  EXPECT_FALSE(same("x>3", "(-\\infty,3)"));
  EXPECT_FALSE(same("x<3", "(3,\\infty)"));
  EXPECT_FALSE(same("x\\ge 1", "(1,\\infty)"));
  EXPECT_FALSE(same("-2\\le x\\le 8", "[-2,7]"));
  EXPECT_FALSE(same("x\\le -2", "[-2,\\infty)"));
  EXPECT_FALSE(same("x<3", "(-\\infty,3)\\cup(4,5)"));
  // Not an interval: a chain that turns, a relation of two variables or of none, \ne, =.
  EXPECT_FALSE(same("1<x>0", "(1,\\infty)"));
  EXPECT_FALSE(same("x<y", "(-\\infty,y)"));
  EXPECT_FALSE(same("1<3", "(1,3)"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,3)"));
  EXPECT_FALSE(same("x=3", "[3,3]"));
  // "(1,3)" as a reference may be the point (1,3): an inequality does not equal it.
  EXPECT_FALSE(same("1<x<3", "(1,3)"));
}

TEST(AnswerEquivalence, ConstantsAreBoundsNotAnIntervalsVariable) {
  // A review's cases: e and \emptyset were read as the variable (e<3 equalled (-\infty,3)).
  EXPECT_FALSE(same("e<3", "(-\\infty,3)"));
  EXPECT_FALSE(same("e>2", "(2,\\infty)"));
  EXPECT_FALSE(same("\\emptyset<3", "(-\\infty,3)"));
  EXPECT_FALSE(same("e<1 \\text{ or } e>2", "(-\\infty,1)\\cup(2,\\infty)"));
  // A constant bound is a bound (these scored 0: only plain numbers were).
  EXPECT_TRUE(same("x>e", "(e,\\infty)"));
  EXPECT_TRUE(same("(e,\\infty)", "x>e"));
  EXPECT_TRUE(same("x>\\ln 2", "(\\ln 2,\\infty)"));
  EXPECT_TRUE(same("x>e^2", "(e^2,\\infty)"));
  EXPECT_TRUE(same("\\theta<\\frac{\\pi}{2}", "(-\\infty,\\frac{\\pi}{2})"));
  EXPECT_FALSE(same("x>e", "(e^2,\\infty)"));
  EXPECT_FALSE(same("x>\\ln 2", "[\\ln 2,\\infty)"));
}

TEST(AnswerEquivalence, ADecimalCommaIsNoThousandsSeparator) {
  // "0,125" is 0.125 written with a decimal comma: it equalled 125, bare and in a relation.
  EXPECT_FALSE(same("0,125", "125"));
  EXPECT_FALSE(same("x>0,125", "x>125"));
  EXPECT_FALSE(same("x>0,125", "(125,\\infty)"));
  EXPECT_FALSE(same("x<-0,500", "x<-500"));
  EXPECT_FALSE(same("00,125", "125"));
  EXPECT_TRUE(same("1,000", "1000"));
  EXPECT_TRUE(same("x>1,000", "x>1000"));
  EXPECT_TRUE(same("-12,500", "-12500"));
}

TEST(AnswerEquivalence, PlusInfinityIsInfinityInEveryInterval) {
  // It was only on the inequality path: x>5 equalled (5,+\infty), (5,+\infty) not (5,\infty).
  EXPECT_TRUE(same("(5,+\\infty)", "(5,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,1)\\cup(2,+\\infty)", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("(5,+\\infty)", "(5,-\\infty)"));
  EXPECT_FALSE(same("(5,+\\infty)", "[5,\\infty)"));
}

TEST(AnswerEquivalence, OnlyALetterOrAGreekLetterNamesAVariable) {
  // Any command was taken for the variable before "=" or "\in": \not\in(1,3) was (1,3).
  EXPECT_FALSE(same("\\not\\in(1,3)", "(1,3)"));
  EXPECT_FALSE(same("\\to\\in(1,3)", "(1,3)"));
  EXPECT_FALSE(same("\\emptyset=5", "5"));
  EXPECT_TRUE(same("\\nu\\in(1,3)", "(1,3)"));
  EXPECT_TRUE(same("\\theta=\\frac{\\pi}{3}", "\\frac{\\pi}{3}"));
  EXPECT_TRUE(same("\\Omega_1=4", "4"));
}

TEST(AnswerEquivalence, AUnionOfIntervalsIsInequalitiesJoinedByOr) {
  EXPECT_TRUE(same("x<1 \\text{ or } x>2", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,1)\\cup(2,\\infty)", "x<1 \\text{ or } x>2"));
  EXPECT_TRUE(same("x>2\\text{ or }x<1", "(-\\infty,1)\\cup(2,\\infty)"));  // in any order
  EXPECT_TRUE(same("x \\le -2 \\text{ or } 1 < x \\le 3", "(-\\infty,-2]\\cup(1,3]"));
  EXPECT_TRUE(same("x<\\pi\\text{ or }x>4", "(-\\infty,\\pi)\\cup(4,\\infty)"));
  EXPECT_TRUE(same("2<x<12 \\text{ or } 12<x<102", "(2,12) \\cup (12,102)"));  // MATH-500's reference
  EXPECT_FALSE(same("x\\le 1 \\text{ or } x>2", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("x<1 \\text{ or } x>3", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("x<1 \\text{ or } y>2", "(-\\infty,1)\\cup(2,\\infty)"));  // two variables
  // Unions of inequalities: one variable (x<1\cup y>2 scored 1), and a union's (a,b) is a
  // set (0<x<9\cup 9<x<36 scored 0 against (0,9)\cup(9,36), as if the ends were a point).
  EXPECT_FALSE(same("x<1 \\cup y>2", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("x<1 \\cup x>2", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("0<x<9 \\cup 9<x<36", "(0,9)\\cup(9,36)"));
  EXPECT_FALSE(same("0<x<9 \\cup 9<x<36", "(0,9)\\cup(9,37)"));
  EXPECT_TRUE(same("(2,\\infty)\\cup x<1", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("(1,2)\\cup(3,4)", "(3,4)\\cup(1,2)"));  // no inequality: as before
  // "or" on both sides, in another order (scored 0: compared as one relation chain).
  EXPECT_TRUE(same("x>2 \\text{ or } x<1", "x<1 \\text{ or } x>2"));
  EXPECT_FALSE(same("x>2 \\text{ or } x<1", "x<1 \\text{ or } x>3"));
  EXPECT_FALSE(same("x\\le 1 \\text{ or } x>2", "x<1 \\text{ or } x>2"));
  EXPECT_FALSE(same("x<1 \\text{ or } x>2", "(-\\infty,1)\\cup(2,\\infty)\\cup(5,6)"));
  EXPECT_FALSE(same("x<1 \\text{ and } x>2", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("x<1", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("x<1 \\text{ or } x>2", "(-\\infty, 0) \\cup\\{1\\}"));
}

TEST(AnswerEquivalence, ThousandsInsideARelationAgainstOneAnswer) {
  // As for a bare number: against one answer (not a list) a side written as thousands is
  // that number; a comma with a space, or a side that is no thousands, stays a list.
  EXPECT_TRUE(same("x>1,000", "x>1000"));
  EXPECT_TRUE(same("x>1000", "x>1,000"));
  EXPECT_TRUE(same("1,000<x\\le 2,500", "1000<x\\le2500"));
  EXPECT_TRUE(same("x>1,000", "(1000,\\infty)"));
  EXPECT_TRUE(same("n\\ge 10,000", "n\\ge 10^4"));
  EXPECT_FALSE(same("x>1,000", "x>100"));
  EXPECT_FALSE(same("x>1,000", "x>1001"));
  EXPECT_FALSE(same("x>1, 000", "x>1000"));  // a comma and a space: two answers
  EXPECT_FALSE(same("x>1,00", "x>100"));     // no group of three
  EXPECT_FALSE(same("x=1,2", "x=12"));
  EXPECT_TRUE(same("x=1,2", "2,1"));  // a list against a list, as before
}

TEST(AnswerEquivalence, ThousandsRelationsOnBothSidesBothLoseTheirCommas) {
  // Both stayed lists, compared piece by piece: "2x\le2" against "x\le1" (one set once the
  // coefficient is divided out) and "500" against "500": a pass for x <= 1250 vs x <= 1500.
  EXPECT_FALSE(same("2x\\le 2,500", "x\\le 1,500"));
  EXPECT_FALSE(same("5x\\ge 10,250", "x\\ge 2,250"));
  EXPECT_FALSE(same("-2x<2,500", "x>-1,500"));
  EXPECT_FALSE(same("1,000\\le 2x", "1,000\\le x"));
  EXPECT_FALSE(same("1,000\\le 2x\\le 10,000", "1,000\\le x\\le 5,000"));
  EXPECT_FALSE(same("2x\\ne 2,500", "x\\ne 1,500"));
  EXPECT_FALSE(same("2x<2,500 \\text{ or } x>2,000", "x<1,500 \\text{ or } x>2,000"));
  EXPECT_TRUE(same("2x\\le 3,000", "x\\le 1,500"));
  EXPECT_TRUE(same("x\\le 1,500", "1,500\\ge x"));  // a miss before: two lists, pieces in other orders
  EXPECT_TRUE(same("1,000\\le 2x\\le 10,000", "500\\le x\\le 5,000"));
}

TEST(AnswerEquivalence, ThousandsInsideRelationsJoinedByOr) {
  // The thousands rule reached a single relation only: these scored 0.
  EXPECT_TRUE(same("x<1,000 \\text{ or } x>2,000", "(-\\infty,1000)\\cup(2000,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,1000)\\cup(2000,\\infty)", "x<1,000 \\text{ or } x>2,000"));
  EXPECT_TRUE(same("x<-1,000 \\text{ or } x>1,000", "(-\\infty,-1000)\\cup(1000,\\infty)"));
  EXPECT_TRUE(same("x>2,000 \\text{ or } x<1,000", "x<1000 \\text{ or } x>2000"));
  // Every comma in a side written as thousands, as before.
  EXPECT_FALSE(same("x<1,000 \\text{ or } x>2,00", "(-\\infty,1000)\\cup(200,\\infty)"));
  EXPECT_FALSE(same("x<1, 000 \\text{ or } x>2,000", "(-\\infty,1000)\\cup(2000,\\infty)"));
  EXPECT_FALSE(same("x<1,2 \\text{ or } x>3", "(-\\infty,12)\\cup(3,\\infty)"));
  EXPECT_FALSE(same("x<0,125 \\text{ or } x>2,000", "(-\\infty,125)\\cup(2000,\\infty)"));
  EXPECT_FALSE(same("x<1,000 \\text{ or } x>2,001", "(-\\infty,1000)\\cup(2000,\\infty)"));
  EXPECT_FALSE(same("x<1,000 \\text{ or } y>2,000", "(-\\infty,1000)\\cup(2000,\\infty)"));
  EXPECT_FALSE(same("x<1,000 \\text{ and } x>2,000", "(-\\infty,1000)\\cup(2000,\\infty)"));
}

TEST(AnswerEquivalence, NotEqualIsTheRealsWithoutThePoint) {
  // x\ne 3 was no interval at all: each of these scored 0.
  EXPECT_TRUE(same("x\\ne 3", "(-\\infty,3)\\cup(3,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,3)\\cup(3,\\infty)", "x\\ne 3"));
  EXPECT_TRUE(same("x\\neq 3", "(3,+\\infty)\\cup(-\\infty,3)"));
  EXPECT_TRUE(same("3\\ne x", "(-\\infty,3)\\cup(3,\\infty)"));
  EXPECT_TRUE(same("x\\ne 3", "x<3 \\text{ or } x>3"));
  EXPECT_TRUE(same("x\\ne 3", "\\mathbb{R}\\setminus\\{3\\}"));
  EXPECT_TRUE(same("\\mathbb{R}\\setminus\\{3\\}", "x\\ne 3"));
  EXPECT_TRUE(same("x\\ne 3", "\\mathbb{R} - \\{3\\}"));
  EXPECT_TRUE(same("x \\in \\mathbb{R}\\setminus\\{3\\}", "(-\\infty,3)\\cup(3,\\infty)"));
  EXPECT_TRUE(same("x\\ne\\frac{1}{2}", "(-\\infty,0.5)\\cup(0.5,\\infty)"));
  // Open at the point, the same point, nothing more or less, and one variable.
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,3)"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,3]\\cup[3,\\infty)"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,3)\\cup[3,\\infty)"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,2)\\cup(3,\\infty)"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,3)\\cup(3,\\infty)\\cup(5,6)"));
  EXPECT_FALSE(same("(-\\infty,3)\\cup(3,\\infty)", "x\\ne -3"));
  EXPECT_FALSE(same("x\\ne 3", "\\mathbb{R}\\setminus\\{4\\}"));
  EXPECT_FALSE(same("x\\ne 3", "\\mathbb{R}\\setminus\\{3,4\\}"));
  EXPECT_FALSE(same("x\\ne 3", "\\mathbb{Z}\\setminus\\{3\\}"));
  EXPECT_FALSE(same("x\\ne 3", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("x\\ne 3", "y\\ne 3"));
  EXPECT_FALSE(same("x\\ne y", "(-\\infty,y)\\cup(y,\\infty)"));
  EXPECT_FALSE(same("e\\ne 3", "(-\\infty,3)\\cup(3,\\infty)"));
  EXPECT_FALSE(same("x\\ne\\infty", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("1<x\\ne 3", "(1,3)\\cup(3,\\infty)"));  // a chain with \ne: left as it was
}

TEST(AnswerEquivalence, ALinearInequalityWithACoefficientIsItsInterval) {
  // Compared side by side these scored 0: the coefficient is divided out exactly, and a
  // negative one turns the order.
  EXPECT_TRUE(same("2x\\le 6", "x\\le 3"));
  EXPECT_TRUE(same("x\\le 3", "2x\\le 6"));
  EXPECT_TRUE(same("2x\\le 6", "(-\\infty,3]"));
  EXPECT_TRUE(same("6\\ge 2x", "x\\le 3"));
  EXPECT_TRUE(same("-x<3", "x>-3"));
  EXPECT_TRUE(same("x>-3", "-x<3"));
  EXPECT_TRUE(same("-x<3", "(-3,\\infty)"));
  EXPECT_TRUE(same("-2x\\ge 4", "x\\le -2"));
  EXPECT_TRUE(same("\\frac{x}{2}>1", "x>2"));
  EXPECT_TRUE(same("\\dfrac x2 > 1", "x>2"));
  EXPECT_TRUE(same("x/2>1", "x>2"));
  EXPECT_TRUE(same("-\\frac{x}{2}<1", "x>-2"));
  EXPECT_TRUE(same("\\frac{3x}{2}\\le 3", "x\\le 2"));
  EXPECT_TRUE(same("0.5x\\ge 1", "[2,\\infty)"));
  EXPECT_TRUE(same("2\\cdot x\\le 6", "x\\le 3"));
  EXPECT_TRUE(same("3x<2", "x<\\frac{2}{3}"));
  EXPECT_TRUE(same("2x\\le\\pi", "x\\le\\frac{\\pi}{2}"));
  EXPECT_TRUE(same("-6\\le -2x<4", "(-2,3]"));
  EXPECT_TRUE(same("2<2x\\le 6", "1<x\\le 3"));
  EXPECT_TRUE(same("2x<6 \\text{ or } 2x>8", "(-\\infty,3)\\cup(4,\\infty)"));
  // The bound, the bracket, the direction and the variable still count.
  EXPECT_FALSE(same("2x\\le 6", "x\\le 6"));
  EXPECT_FALSE(same("2x\\le 6", "x<3"));
  EXPECT_FALSE(same("2x\\le 6", "(-\\infty,3)"));
  EXPECT_FALSE(same("2x\\le 6", "[3,\\infty)"));
  EXPECT_FALSE(same("-x<3", "x<-3"));
  EXPECT_FALSE(same("-x<3", "x>3"));
  EXPECT_FALSE(same("-x\\le 3", "x>-3"));
  EXPECT_FALSE(same("\\frac{x}{2}>1", "x>\\frac{1}{2}"));
  EXPECT_FALSE(same("2.5x<5", "x<2.5"));
  EXPECT_FALSE(same("-6\\le -2x<4", "[-2,3)"));
  EXPECT_FALSE(same("2x\\le 6", "2y\\le 6"));
  EXPECT_FALSE(same("2x\\le 6", "y\\le 3"));
  EXPECT_FALSE(same("2x_1\\le 6", "x_2\\le 3"));
  // A product or power of the variable compares side by side, as before (a term moved across:
  // ALinearInequalityWithATermMovedIsItsInterval).
  EXPECT_FALSE(same("x^2<4", "-2<x<2"));
  EXPECT_FALSE(same("\\frac{2}{x}>1", "(0,2)"));
  EXPECT_FALSE(same("2^x<8", "x<3"));
  EXPECT_FALSE(same("2xy<6", "xy<3"));
  EXPECT_FALSE(same("2x<6y", "x<3y"));
  EXPECT_FALSE(same("0x<3", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("x/0>1", "x>0"));
  EXPECT_FALSE(same("2e<6", "(-\\infty,3)"));
  EXPECT_FALSE(same("2\\pi<6", "(-\\infty,3)"));
}

TEST(AnswerEquivalence, ALinearInequalityWithATermMovedIsItsInterval) {
  // Linear in one variable with rational coefficients, solved exactly; these scored 0.
  EXPECT_TRUE(same("2x+1\\le 7", "x\\le 3"));
  EXPECT_TRUE(same("x\\le 3", "2x+1\\le 7"));
  EXPECT_TRUE(same("2x+1\\le 7", "(-\\infty,3]"));
  EXPECT_TRUE(same("x-3\\le 0", "x\\le 3"));
  EXPECT_TRUE(same("3-x\\ge 0", "x\\le 3"));
  EXPECT_TRUE(same("1+2x>7", "x>3"));
  EXPECT_TRUE(same("7\\ge 2x+1", "x\\le 3"));
  EXPECT_TRUE(same("\\frac{x}{2}-1>0", "x>2"));
  EXPECT_TRUE(same("2x+1\\le x+3", "x\\le 2"));
  EXPECT_TRUE(same("x\\le 2x-3", "x\\ge 3"));
  EXPECT_TRUE(same("1<2x+1\\le 7", "(0,3]"));
  EXPECT_TRUE(same("5>1-2x\\ge -3", "-2<x\\le 2"));
  EXPECT_TRUE(same("2x+1\\ne 7", "x\\ne 3"));
  EXPECT_TRUE(same("2x+1\\ne 7", "\\mathbb{R}\\setminus\\{3\\}"));
  EXPECT_TRUE(same("x+1<0 \\text{ or } x-2>0", "(-\\infty,-1)\\cup(2,\\infty)"));
  // A bound without an exact value less a moved term: its value is compared within a
  // tolerance of the difference, which a large term makes loose (a review: 0.014 off).
  EXPECT_FALSE(same("x+1000000<\\sqrt{2}", "x<-999998.6"));
  EXPECT_FALSE(same("x+1000<\\pi", "x<-996.858"));
  EXPECT_FALSE(same("x+100<\\sqrt{2}", "x<-98.5858"));
  EXPECT_FALSE(same("2x+1<\\pi", "x<\\frac{\\pi-1}{2}"));  // the price: no interval read
  // Near misses: the bound, the bracket, the direction and the variable still count.
  EXPECT_FALSE(same("2x+1\\le 7", "x<3"));
  EXPECT_FALSE(same("2x+1\\le 7", "x\\le 4"));
  EXPECT_FALSE(same("2x+1\\le 7", "x\\ge 3"));
  EXPECT_FALSE(same("2x+1\\le 7", "(-\\infty,3)"));
  EXPECT_FALSE(same("2x+1\\le 7", "y\\le 3"));
  EXPECT_FALSE(same("2x+1\\le 7", "2y+1\\le 7"));
  EXPECT_FALSE(same("2x-1\\le 7", "x\\le 3"));
  EXPECT_FALSE(same("3-x\\ge 0", "x\\ge 3"));
  EXPECT_FALSE(same("1<2x+1\\le 7", "[0,3]"));
  EXPECT_FALSE(same("2x+1<\\pi", "x<\\frac{\\pi}{2}"));
  // Not linear in one variable with rational coefficients: side by side, as before.
  EXPECT_FALSE(same("x+y<3", "x<3-y"));
  EXPECT_FALSE(same("x^2+1<5", "x<2"));
  EXPECT_FALSE(same("2(x+1)\\le 8", "x\\le 3"));
  EXPECT_FALSE(same("x+\\pi<4", "x<4-\\pi"));
  EXPECT_FALSE(same("x+1<x+2", "(-\\infty,\\infty)"));  // the variable cancels: no interval read
  EXPECT_FALSE(same("x-x<1", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("2x+1=7", "x=3"));  // an equation is no interval
}

TEST(AnswerEquivalence, ADividedDecimalBoundKeepsTheDecimalTolerance) {
  // The bound 0.5000001 divided by 2 was the exact 5000001/20000000, compared exactly against
  // 0.25; a relative tolerance survives a division, so the reference's decimal keeps it.
  EXPECT_TRUE(same("x\\le 0.25", "2x\\le 0.5000001"));
  EXPECT_TRUE(same("x\\le 0.25", "0.5x\\le 0.1250001"));
  EXPECT_TRUE(same("x\\ge -0.25", "-2x\\le 0.5000001"));
  EXPECT_TRUE(same("x\\le 0.2500001", "2x\\le 0.5"));
  EXPECT_FALSE(same("x\\le 0.25", "2x\\le 0.5001"));  // 2e-4 apart
  EXPECT_FALSE(same("x<0.25", "2x\\le 0.5000001"));
  EXPECT_FALSE(same("x\\le 0.25", "-2x\\le 0.5000001"));
  // As everywhere, only a decimal reference: an exact one stays exact.
  EXPECT_FALSE(same("2x\\le 0.5000001", "x\\le\\frac{1}{4}"));
  // A term moved across shifts the bound, which a relative tolerance does not survive (x+1000\le 0.5
  // would accept -999.55, the bound 0.45): the moved bound is exact.
  EXPECT_TRUE(same("x\\le -999.5", "x+1000\\le 0.5"));
  EXPECT_FALSE(same("x\\le -999.55", "x+1000\\le 0.5"));
  EXPECT_FALSE(same("x\\le 0.25", "2x+1\\le 1.5000001"));
}

TEST(AnswerEquivalence, ASurdCoefficientIsDividedOutByValue) {
  // The bound divided by the surd compares as any surd does, within the relative 1e-6.
  EXPECT_TRUE(same("\\sqrt{2}x<2", "x<\\sqrt{2}"));
  EXPECT_TRUE(same("x<\\sqrt{2}", "\\sqrt{2}x<2"));
  EXPECT_TRUE(same("\\sqrt{2}x<2", "(-\\infty,\\sqrt{2})"));
  EXPECT_TRUE(same("-\\sqrt{2}x<2", "x>-\\sqrt{2}"));
  EXPECT_TRUE(same("2\\sqrt{3}x\\ge 6", "x\\ge\\sqrt{3}"));
  EXPECT_FALSE(same("\\sqrt{2}x<2", "x\\le\\sqrt{2}"));
  EXPECT_FALSE(same("\\sqrt{2}x<2", "x>\\sqrt{2}"));
  EXPECT_FALSE(same("-\\sqrt{2}x<2", "x<-\\sqrt{2}"));
  EXPECT_FALSE(same("\\sqrt{2}x<2", "x<1.414"));  // 1.5e-4 apart
  EXPECT_FALSE(same("\\sqrt{2}x<2", "y<\\sqrt{2}"));
  EXPECT_FALSE(same("\\sqrt{2}x<2", "x<\\sqrt{3}"));
  EXPECT_FALSE(same("0\\sqrt{2}x<2", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("\\sqrt{2}x+1<3", "x<\\sqrt{2}"));  // a surd with a term to move: left out
}

TEST(AnswerEquivalence, TheRealsAreTheWholeLine) {
  EXPECT_TRUE(same("\\mathbb{R}", "(-\\infty,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,+\\infty)", "\\mathbb{R}"));
  EXPECT_TRUE(same("\\mathbb{R}", "(-\\infty,+\\infty)"));
  EXPECT_TRUE(same("x\\in\\mathbb{R}", "(-\\infty,\\infty)"));
  EXPECT_TRUE(same("\\mathbb R", "(-\\infty,\\infty)"));
  EXPECT_TRUE(same("\\mathbb{R}", "-\\infty<x<\\infty"));
  EXPECT_FALSE(same("\\mathbb{R}", "(-\\infty,\\infty]"));
  EXPECT_FALSE(same("\\mathbb{R}", "[-\\infty,\\infty]"));
  EXPECT_FALSE(same("\\mathbb{R}", "(0,\\infty)"));
  EXPECT_FALSE(same("(-\\infty,3)", "\\mathbb{R}"));
  EXPECT_FALSE(same("\\mathbb{R}", "x\\ne 3"));
  EXPECT_FALSE(same("\\mathbb{R}", "(-\\infty,\\infty)\\cup(1,2)"));
  EXPECT_FALSE(same("\\mathbb{Z}", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{C}", "(-\\infty,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}^2", "(-\\infty,\\infty)"));
  // An unbounded interval is a set, never a point, but it still names no variable or other set.
  EXPECT_FALSE(same("(-\\infty,3)", "x\\ne 3"));
}

TEST(AnswerEquivalence, TheRealsWithoutSeveralPoints) {
  // Only one point was read: \mathbb{R}\setminus\{1,2\} scored 0 against its intervals.
  EXPECT_TRUE(same("\\mathbb{R}\\setminus\\{1,2\\}", "(-\\infty,1)\\cup(1,2)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("(-\\infty,1)\\cup(1,2)\\cup(2,\\infty)", "\\mathbb{R}\\setminus\\{2,1\\}"));
  EXPECT_TRUE(same("\\mathbb{R}\\setminus\\{1,2\\}", "\\mathbb{R}\\setminus\\{2,1\\}"));
  EXPECT_TRUE(same("\\mathbb{R}-\\{-1,3,\\frac{1}{2}\\}", "(-\\infty,-1)\\cup(-1,0.5)\\cup(0.5,3)\\cup(3,\\infty)"));
  EXPECT_TRUE(same("\\mathbb{R}\\setminus\\{-\\sqrt{2},\\sqrt{2}\\}",
                   "(-\\infty,-\\sqrt{2})\\cup(-\\sqrt{2},\\sqrt{2})\\cup(\\sqrt{2},\\infty)"));
  EXPECT_TRUE(same("x \\in \\mathbb{R}\\setminus\\{0, \\pi\\}", "(-\\infty,0)\\cup(0,\\pi)\\cup(\\pi,\\infty)"));
  EXPECT_TRUE(same("x<1 \\text{ or } 1<x<2 \\text{ or } x>2", "\\mathbb{R}\\setminus\\{1,2\\}"));
  // Near misses: another point, a closed end, a point less or more.
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2\\}", "(-\\infty,1)\\cup(1,3)\\cup(3,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2\\}", "(-\\infty,1)\\cup(1,2]\\cup(2,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2\\}", "(-\\infty,1)\\cup(2,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2\\}", "x\\ne 1"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2\\}", "\\mathbb{R}\\setminus\\{1,3\\}"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,2,3\\}", "\\mathbb{R}\\setminus\\{1,2\\}"));
  EXPECT_FALSE(same("\\mathbb{Z}\\setminus\\{1,2\\}", "(-\\infty,1)\\cup(1,2)\\cup(2,\\infty)"));
  // Not read: a point that is no number, a repeated point, and thousands (1,000 may be 1000).
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,y\\}", "(-\\infty,1)\\cup(1,y)\\cup(y,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,1\\}", "(-\\infty,1)\\cup(1,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,000\\}", "(-\\infty,0)\\cup(0,1)\\cup(1,\\infty)"));
  EXPECT_FALSE(same("\\mathbb{R}\\setminus\\{1,000\\}", "(-\\infty,1000)\\cup(1000,\\infty)"));
}

TEST(AnswerEquivalence, ReversedBracketsAreOpenEnds) {
  // The French and ISO 31-11 spelling: ]a,b[ is (a,b). These were compared as text.
  EXPECT_TRUE(same("]0,1[", "(0,1)"));
  EXPECT_TRUE(same("]0,1]", "(0,1]"));
  EXPECT_TRUE(same("[0,1[", "[0,1)"));
  EXPECT_TRUE(same("\\left]0,\\frac{1}{2}\\right[", "(0,\\frac12)"));
  EXPECT_TRUE(same("]-\\infty,3[", "x<3"));
  EXPECT_TRUE(same("]-\\infty,+\\infty[", "\\mathbb{R}"));
  EXPECT_TRUE(same("[0,1[\\cup]2,3]", "[0,1)\\cup(2,3]"));
  EXPECT_TRUE(same("x\\in]0,1[", "0<x<1"));
  // ]a,b[ is a set, never the point a tuple (a,b) may be: an inequality equals it.
  EXPECT_TRUE(same("0<x<1", "]0,1["));
  EXPECT_FALSE(same("0<x<1", "(0,1)"));
  EXPECT_FALSE(same("[0,1[", "[0,1]"));
  EXPECT_FALSE(same("]0,1[", "[0,1)"));
  EXPECT_FALSE(same("]0,1]", "(0,1)"));
  EXPECT_FALSE(same("]0,1[", "(0,2)"));
  EXPECT_FALSE(same("[0,1[\\cup]2,3]", "[0,1)\\cup[2,3]"));
  EXPECT_FALSE(same("0\\le x<1", "]0,1["));
}

TEST(AnswerEquivalence, OrAfterAVariableLetterJoinsAlternatives) {
  // "1<x \text{ or } x>3" normalises to "1<xorx>3", which was never split at its "or".
  EXPECT_TRUE(same("-1>x \\text{ or } x>3", "(-\\infty,-1)\\cup(3,\\infty)"));
  EXPECT_TRUE(same("3<x \\text{ or } x<-1", "x<-1 \\text{ or } x>3"));
  EXPECT_FALSE(same("-1>x \\text{ or } x>3", "(-\\infty,-1]\\cup(3,\\infty)"));
  EXPECT_FALSE(same("-1>x \\text{ or } y>3", "(-\\infty,-1)\\cup(3,\\infty)"));
  EXPECT_FALSE(same("-1>y \\text{ or } y>3", "-1>x \\text{ or } x>3"));
  // The letters of a command are no "or".
  EXPECT_FALSE(same("x<1 \\lor x>2", "(-\\infty,1)\\cup(2,\\infty)"));
}

TEST(AnswerEquivalence, AChainWithNotEqualIsNoSet) {
  // Read literally, 1<x\ne 2<3 says 1<x, x\ne 2 and 2<3, (1,2)\cup(2,\infty); the writer most likely
  // meant (1,2)\cup(2,3). Neither reading is taken: the chain compares side by side only.
  EXPECT_FALSE(same("1<x\\ne 2<3", "(1,2)\\cup(2,3)"));
  EXPECT_FALSE(same("1<x\\ne 2<3", "(1,2)\\cup(2,\\infty)"));
  EXPECT_TRUE(same("1<x\\ne 2<3", "1<x\\ne 2<3"));
}

TEST(AnswerEquivalence, SetsOfRealsInTwoVariablesDiffer) {
  // Alternatives on both sides lost their variable: these two scored 1.
  EXPECT_FALSE(same("x<1 \\text{ or } x>2", "y<1 \\text{ or } y>2"));
  EXPECT_FALSE(same("x<1 \\cup x>2", "y<1 \\text{ or } y>2"));
  EXPECT_TRUE(same("x<1 \\cup x>2", "x<1 \\text{ or } x>2"));
  // An interval names no variable: against it any one variable will do, as before.
  EXPECT_TRUE(same("t<1 \\text{ or } t>2", "(-\\infty,1)\\cup(2,\\infty)"));
}

TEST(AnswerEquivalence, TheLetterIInAnInequalityIsAVariable) {
  // No order extends to the complex numbers, so an inequality in i can only be about a real
  // variable named i (an index, a rate): read as any other letter.
  EXPECT_TRUE(same("i<3", "(-\\infty,3)"));
  EXPECT_FALSE(same("i<3", "(-\\infty,3]"));
}

TEST(AnswerEquivalence, AnAssignmentBeforeARelationIsPartOfTheAnswer) {
  // "x=y<3" also says x = y: the x= is no variable name to strip (it scored 1 vs y<3).
  EXPECT_FALSE(same("x=y<3", "y<3"));
  EXPECT_FALSE(same("a=1<2", "1<2"));
  EXPECT_TRUE(same("x=y<3", "x=y<3"));
  EXPECT_TRUE(same("x=3", "3"));  // a plain assignment still is one
}

TEST(AnswerEquivalence, TextAfterARelationKeepsTheRelation) {
  EXPECT_TRUE(same("x\\le\\text{max}", "x \\le \\text{max}"));
  EXPECT_FALSE(same("x\\le\\text{max}", "x \\le \\text{min}"));
  EXPECT_TRUE(same("a\\ge\\text{b}", "a \\geq b"));
  EXPECT_FALSE(same("a\\ge\\text{b}", "a \\geq c"));
}

TEST(AnswerEquivalence, MinusOnePowerOfATrigFunctionIsItsInverse) {
  EXPECT_TRUE(same("\\tan^{-1}(1)", "\\frac{\\pi}{4}"));
  EXPECT_TRUE(same("\\sin^{-1}x", "\\arcsin x"));
  EXPECT_TRUE(same("\\cos^{-1}x", "\\arccos x"));
  EXPECT_TRUE(same("\\cot^{-1}x", "\\arccot x"));
  EXPECT_TRUE(same("\\sec^{-1}(2)", "\\frac{\\pi}{3}"));
  EXPECT_TRUE(same("\\csc^{-1}(2)", "\\frac{\\pi}{6}"));
  EXPECT_TRUE(same("\\sin^-1 x", "\\arcsin x"));
  EXPECT_TRUE(same("\\tan^-1(1)", "\\frac{\\pi}{4}"));
  EXPECT_FALSE(same("\\sin^{-1}x", "\\frac{1}{\\sin x}"));
  // Other powers stay powers of the value.
  EXPECT_TRUE(same("\\sin^2 x", "(\\sin x)^2"));
  EXPECT_TRUE(same("\\sin^{-2} x", "\\frac{1}{(\\sin x)^2}"));
  EXPECT_TRUE(same("\\ln^{-1} x", "\\frac{1}{\\ln x}"));
  // The hyperbolic functions too (latex2sympy: asinh, acosh, atanh).
  EXPECT_TRUE(same("\\sinh^{-1}(1)", "0.881373587"));
  EXPECT_FALSE(same("\\sinh^{-1}(1)", "\\frac{1}{\\sinh 1}"));
  EXPECT_TRUE(same("\\cosh^{-1}(2)", "1.316957897"));
  EXPECT_TRUE(same("\\tanh^{-1}(0.5)", "0.549306144"));
  EXPECT_TRUE(same("\\sinh^2 x", "(\\sinh x)^2"));
}

TEST(AnswerEquivalence, ADecimalReferenceAllowsTheRelativeOneInTenThousand) {
  // Qwen2.5-Math's math_equal: math.isclose(rel_tol=1e-4); here only when the reference
  // is written as a decimal or in scientific notation (Minerva's measured values).
  EXPECT_TRUE(same("1.20001e-3", "1.2e-3"));
  EXPECT_TRUE(same("0.350001", "0.35"));
  EXPECT_TRUE(same("7.5003", "7.5"));
  EXPECT_TRUE(same("3.8300 \\times 10^{35}", "3.83 \\times 10^{35}"));
  EXPECT_TRUE(same("3.830001 \\times 10^{35}", "3.83 \\times 10^{35}"));
  EXPECT_TRUE(same("6.63\\times10^{-34}", "6.6300001\\times10^{-34}"));
  EXPECT_FALSE(same("4.467 \\times 10^{14}", "4.4677 \\times 10^{14}"));  // 1.6e-4 apart
  EXPECT_FALSE(same("7.501", "7.5"));  // 1.3e-4 apart
  EXPECT_FALSE(same("3.32 \\times 10^{-5}", "3.3e-5"));  // a 0.6% difference is no rounding of 1e-4
  EXPECT_FALSE(same("-0.35", "0.35"));
  EXPECT_FALSE(same("0", "0.35"));
  // Percent against a decimal reference: its hundredth, within the same tolerance.
  EXPECT_TRUE(same("12.50001\\%", "0.125"));
  // An integer or exact reference stays exact (math.isclose calls 10000 and 10001 equal).
  EXPECT_FALSE(same("10001", "10000"));
  EXPECT_FALSE(same("10000.5", "10000"));
  EXPECT_FALSE(same("0.50001", "\\frac{1}{2}"));
  EXPECT_FALSE(same("1.7320", "\\sqrt{3}"));
  EXPECT_FALSE(same("27.001", "27.0"));  // AMC writes integers as 27.0
  // Scientific notation is a measured or rounded quantity even when its value is an
  // integer: the tolerance applies (README), unlike the integer written out.
  EXPECT_TRUE(same("2000001", "2\\times10^{6}"));
  EXPECT_FALSE(same("2000001", "2000000"));
  // A constant against a decimal reference: by value, within the same tolerance.
  EXPECT_TRUE(same("\\arcsin(10/13)", "0.8776"));  // 0.877636...
  EXPECT_FALSE(same("\\arcsin(10/13)", "0.877"));
}

TEST(AnswerEquivalence, TheDecimalToleranceIsAnOption) {
  EquivalenceOptions exact;
  exact.decimal_relative_tolerance = 0;
  EXPECT_FALSE(answers_equivalent(normalize_answer("0.350001"), normalize_answer("0.35"), exact).equal);
  EXPECT_TRUE(answers_equivalent(normalize_answer("0.350"), normalize_answer("0.35"), exact).equal);
  EquivalenceOptions loose;
  loose.decimal_relative_tolerance = 1e-2;
  EXPECT_TRUE(answers_equivalent(normalize_answer("3.32e-5"), normalize_answer("3.3e-5"), loose).equal);
  EXPECT_FALSE(answers_equivalent(normalize_answer("101"), normalize_answer("100"), loose).equal);
}

TEST(AnswerEquivalence, TuplesAreOrderedAndKeepTheirBrackets) {
  EXPECT_TRUE(same("(1,2)", "\\left(1, 2\\right)"));
  EXPECT_TRUE(same("(\\frac{1}{2},3)", "(0.5, 3.0)"));
  EXPECT_FALSE(same("(1,2)", "(2,1)"));
  EXPECT_FALSE(same("[1,2)", "[1,2]"));  // intervals: a closed end is not an open one
  EXPECT_FALSE(same("(1,2,3)", "(1,2)"));
}

TEST(AnswerEquivalence, MatricesAndVectorsCompareEntryByEntry) {
  // MATH-500 precalculus/1300: entries as \frac13 vs 1/3 were compared as text.
  EXPECT_TRUE(same("\\begin{pmatrix}-\\frac13\\\\\\frac23\\\\\\frac53\\end{pmatrix}",
                   "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}"));
  EXPECT_TRUE(same("\\begin{bmatrix} 0.2 \\\\ -3.6 \\end{bmatrix}", "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}"));
  EXPECT_TRUE(same("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\\\ \\end{pmatrix}",
                   "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}"));
  EXPECT_FALSE(same("\\begin{pmatrix} 2/3 \\\\ -1/3 \\\\ 5/3 \\end{pmatrix}",
                    "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}"));  // ordered
  EXPECT_FALSE(same("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"));  // row vs column
  EXPECT_FALSE(same("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}"));
  EXPECT_FALSE(same("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)"));
  EXPECT_FALSE(same("\\begin{pmatrix} 1 \\\\ 2 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"));
  // A cell with commas is no entry: not an unordered list either (was: 1,2 equal to 2,1).
  EXPECT_FALSE(same("\\begin{pmatrix}1,2\\end{pmatrix}", "\\begin{pmatrix}2,1\\end{pmatrix}"));
}

TEST(AnswerEquivalence, SetsAndListsMatchInAnyOrder) {
  EXPECT_TRUE(same("\\{3,1,2\\}", "\\{1,2,3\\}"));
  EXPECT_TRUE(same("-2, 1", "1,-2"));
  EXPECT_TRUE(same("(1,8,19), (4,5,7), (2,7,13)", "(1,8,19), (2,7,13), (4,5,7)"));
  EXPECT_FALSE(same("1, 1", "1, 2"));  // a multiset: each element used once
  EXPECT_FALSE(same("1, 2", "1, 2, 3"));
  EXPECT_TRUE(same("(-\\infty,1)\\cup(2,\\infty)", "(2,\\infty)\\cup(-\\infty,1)"));
}

TEST(AnswerEquivalence, VariableAssignments) {
  EXPECT_TRUE(same("x=3", "3"));
  EXPECT_TRUE(same("3", "x = 3"));
  EXPECT_TRUE(same("x=1, y=2", "1,2"));
  EXPECT_FALSE(same("x=4", "3"));
  // Labelled on both sides, an element meets its own label (values alone matched before).
  EXPECT_FALSE(same("\\boxed{a=3, b=2}", "a=2, b=3"));
  EXPECT_TRUE(same("b=2, a=3", "a=3, b=2"));
  EXPECT_FALSE(same("x_1=1, x_2=2", "x_{1}=2, x_{2}=1"));
  EXPECT_TRUE(same("x=1, x=2", "x=2, x=1"));
  EXPECT_TRUE(same("x=2, y=1", "1, 2"));  // one side unlabelled: values in any order, as before
}

TEST(AnswerEquivalence, ExpressionsByEvaluationAtPoints) {
  EXPECT_TRUE(same("\\frac{2\\pi}{\\omega}", "2\\pi/\\omega"));
  EXPECT_TRUE(same("2n+2", "2(n+1)"));
  EXPECT_TRUE(same("y=2x+1", "y=1+2x"));
  EXPECT_FALSE(same("2n+1", "2(n+1)"));
  EXPECT_FALSE(same("n^2", "2n"));
}

TEST(AnswerEquivalence, WordsCompareAsText) {
  EXPECT_TRUE(same("\\text{Evelyn}", "Evelyn"));
  EXPECT_FALSE(same("no", "on"));  // not a product of variables n*o
  EXPECT_FALSE(same("\\text{(C)}", "\\text{(D)}"));
}

TEST(AnswerEquivalence, EmptyIsNoAnswer) {
  const auto e = answers_equivalent("", "3");
  EXPECT_FALSE(e.equal);
  EXPECT_EQ(e.how, "no answer");
}

}  // namespace
}  // namespace disa::llm::verify

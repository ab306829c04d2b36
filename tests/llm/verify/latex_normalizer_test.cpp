// LaTeX normalisation: each rewrite on its own.
#include "llm/verify/latex_normalizer.h"

#include <gtest/gtest.h>

namespace disa::llm::verify {
namespace {

TEST(LatexNormalizer, DropsDelimitersSpacingAndLeftRight) {
  EXPECT_EQ(normalize_answer("$\\left( 3, \\frac{\\pi}{2} \\right)$"), "(3,\\frac{\\pi}{2})");
  EXPECT_EQ(normalize_answer("\\( 1\\!\\,000 \\)"), "1000");  // spacing commands go
  EXPECT_EQ(normalize_answer("\\$18.90"), "18.90");
  // The one space kept: before a three-digit group, where it tells a list from thousands.
  EXPECT_EQ(normalize_answer("100, 200"), "100, 200");
  EXPECT_EQ(normalize_answer("100,200"), "100,200");
  EXPECT_EQ(normalize_answer("(1, 2)"), "(1,2)");
  // And between two digits, which it keeps apart ("3\\quad 5" was 35).
  EXPECT_EQ(normalize_answer("3\\quad 5"), "3 5");
  EXPECT_EQ(normalize_answer("1\\ 2"), "1 2");
  EXPECT_EQ(normalize_answer("3~\\;5"), "3 5");
  EXPECT_EQ(normalize_answer("2 x + 3"), "2x+3");
  EXPECT_EQ(normalize_answer("1 1"), "11");  // a plain space shows nothing in math mode
  EXPECT_EQ(normalize_answer("x^2 3"), "x^2 3");  // but it ends an exponent without braces
  EXPECT_EQ(normalize_answer("x^{2} 3"), "x^{2}3");  // its braces stay: x^23 is x^{23}
}

TEST(LatexNormalizer, DropsSizingCommandsByTheirWholeName) {
  // \bigg( read as \big then "g(" left a stray g; \rightarrow lost its \right.
  EXPECT_EQ(normalize_answer("\\bigg(1, 2\\bigg)"), "(1,2)");
  EXPECT_EQ(normalize_answer("\\Bigg[\\frac12,3\\Bigg]"), "[\\frac{1}{2},3]");
  EXPECT_EQ(normalize_answer("\\biggl(1\\biggr) + \\Biggl[2\\Biggr] + \\bigl\\{3\\bigr\\}"), "(1)+[2]+\\{3\\}");
  EXPECT_EQ(normalize_answer("\\left.x\\right|"), "x|");
  EXPECT_EQ(normalize_answer("x \\rightarrow \\infty"), "x\\rightarrow\\infty");
  EXPECT_EQ(normalize_answer("A \\bigcup B"), "A\\bigcup B");
  EXPECT_EQ(normalize_answer("\\leftarrow"), "\\leftarrow");
}

TEST(LatexNormalizer, RewritesFractionSpellings) {
  EXPECT_EQ(normalize_answer("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("\\tfrac12"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("\\frac1{x}"), "\\frac{1}{x}");
  EXPECT_EQ(normalize_answer("2\\sqrt3"), "2\\sqrt{3}");
}

TEST(LatexNormalizer, ASpaceBeforeAnUnbracedArgumentIsNoArgument) {
  // The space kept after a command before a letter was braced as the argument.
  EXPECT_EQ(normalize_answer("\\dfrac x2"), "\\frac{x}{2}");  // was \frac{ }{x}2
  EXPECT_EQ(normalize_answer("\\frac a b"), "\\frac{a}{b}");  // was \frac{ }{a}b
  EXPECT_EQ(normalize_answer("2\\sqrt x"), "2\\sqrt{x}");     // was 2\sqrt{ }x
  EXPECT_EQ(normalize_answer("\\frac 12"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("\\sqrt[3] x"), "\\sqrt[3]{x}");
}

TEST(LatexNormalizer, DropsUnitsAndDegrees) {
  EXPECT_EQ(normalize_answer("5\\text{ cm}"), "5");
  EXPECT_EQ(normalize_answer("864 \\mbox{ inches}^2"), "864");
  EXPECT_EQ(normalize_answer("30^\\circ"), "30");
  EXPECT_EQ(normalize_answer("30^{\\circ}"), "30");
  EXPECT_EQ(normalize_answer("30°"), "30");
  EXPECT_EQ(normalize_answer("0.003^{\\prime\\prime}"), "0.003");
  // Negative powers and quotients of units (Minerva).
  EXPECT_EQ(normalize_answer("3 \\times 10^{19} \\text{ cm}^{-3}"), "3\\times10^{19}");
  EXPECT_EQ(normalize_answer("5 \\mathrm{~m} / \\mathrm{s}"), "5");
  EXPECT_EQ(normalize_answer("7 \\mathrm{~kg} \\cdot \\mathrm{m}^{2}"), "7");
  // Not a unit: the imaginary unit, Euler's e and number words change the value.
  EXPECT_NE(normalize_answer("3\\mathrm{i}"), "3");
  EXPECT_NE(normalize_answer("2\\mathrm{e}"), "2");
  EXPECT_NE(normalize_answer("5\\text{ million}"), "5");
  // \textrm, \rm and a spacing command before the unit; bare units after a number.
  EXPECT_EQ(normalize_answer("5\\textrm{ cm}"), "5");
  EXPECT_EQ(normalize_answer("5\\,\\text{m/s}"), "5");
  EXPECT_EQ(normalize_answer("9.6 {\\rm eV}"), "9.6");
  EXPECT_EQ(normalize_answer("6 \\text{ cm}^2"), "6");
  // Bare units stay (they may be variables: 6 m is 6m); the equivalence compares a
  // number with units against a numeric reference by its number.
  EXPECT_EQ(normalize_answer("30 m/s"), "30m/s");
  EXPECT_EQ(normalize_answer("6 m"), "6m");
  EXPECT_EQ(normalize_answer("6\\,m"), "6m");
  EXPECT_EQ(normalize_answer("2 m g"), "2mg");
  EXPECT_EQ(normalize_answer("3 \\times 10^8 m s^{-1}"), "3\\times10^8ms^{-1}");
  // Not after a number, not a unit, or no space: kept.
  EXPECT_EQ(normalize_answer("5m"), "5m");
  EXPECT_EQ(normalize_answer("x m"), "xm");
  EXPECT_EQ(normalize_answer("5 x"), "5x");
  EXPECT_EQ(normalize_answer("5 million"), "5million");
  EXPECT_EQ(normalize_answer("\\text{Monday}"), "Monday");
}

TEST(LatexNormalizer, RomanSubscriptsAndSuperscriptsAreNoUnits) {
  // After _ or ^, {\rm X} keeps its braces and a \mathrm/\text group is part of the symbol.
  EXPECT_EQ(normalize_answer("T_{\\rm min}"), "T_{min}");
  EXPECT_EQ(normalize_answer("\\frac{3}{2} k T_{\\rm min}"), "\\frac{3}{2}kT_{min}");
  EXPECT_EQ(normalize_answer("x^{\\rm T}"), "x^T");
  EXPECT_EQ(normalize_answer("2v_{\\rm max}"), "2v_{max}");
  EXPECT_EQ(normalize_answer("v_\\mathrm{min}"), "v_{min}");
  EXPECT_EQ(normalize_answer("v_\\text{max}"), "v_{max}");
  // Units in a group of their own still go: {\rm eV} after a number, {\rm C} after a degree.
  EXPECT_EQ(normalize_answer("10^{19} {\\rm cm}^{-3}"), "10^{19}");
  EXPECT_EQ(normalize_answer("1950^\\circ {\\rm C}"), "1950");
  // Elsewhere {\rm X} is \mathrm{X}: no braces are left around its text.
  EXPECT_EQ(normalize_answer("{\\rm e}"), "e");
  EXPECT_EQ(normalize_answer("{\\rm A},{\\rm B}"), "A,B");
  EXPECT_EQ(normalize_answer("{\\rm d}x"), "dx");
  EXPECT_EQ(normalize_answer("5{\\rm~cm}"), "5");
  EXPECT_EQ(normalize_answer("5\\,{\\rm m\\,s^{-1}}"), "5");
}

TEST(LatexNormalizer, KeepsTextAfterAnEqualsSignOrOperator) {
  EXPECT_EQ(normalize_answer("f(x)=\\text{odd}"), "f(x)=odd");
  EXPECT_EQ(normalize_answer("x=\\text{even}"), "x=even");
  EXPECT_EQ(normalize_answer("x\\ge \\text{max}"), "x\\ge max");
  EXPECT_EQ(normalize_answer("x = 5\\text{ cm}"), "x=5");
}

TEST(LatexNormalizer, RelationsHaveOneSpelling) {
  // \le \leq \leqslant \leqq ≤ ⩽ <= are one relation, and so on; the canonical forms
  // are \le, \ge, \ne, < and >.
  for (const char* s : {"x\\le 3", "x \\leq 3", "x\\leqslant 3", "x\\leqq 3", "x ≤ 3", "x ⩽ 3", "x<=3", "x <= 3"}) {
    EXPECT_EQ(normalize_answer(s), "x\\le3") << s;
  }
  for (const char* s : {"x\\ge 3", "x \\geq 3", "x\\geqslant 3", "x\\geqq 3", "x ≥ 3", "x ⩾ 3", "x>=3"}) {
    EXPECT_EQ(normalize_answer(s), "x\\ge3") << s;
  }
  for (const char* s : {"x\\ne 3", "x \\neq 3", "x ≠ 3", "x != 3", "x\\not= 3", "x \\not = 3"}) {
    EXPECT_EQ(normalize_answer(s), "x\\ne3") << s;
  }
  EXPECT_EQ(normalize_answer("x\\lt 3"), "x<3");
  EXPECT_EQ(normalize_answer("x \\gt 3"), "x>3");
  EXPECT_EQ(normalize_answer("$k \\geqslant 2$"), "k\\ge2");  // OlympiadBench
  // A letter after the relation keeps its separator: x\le y, not the command \ley.
  EXPECT_EQ(normalize_answer("x\\leq y"), "x\\le y");
  EXPECT_EQ(normalize_answer("x<=y"), "x\\le y");
  EXPECT_EQ(normalize_answer("x\\geqslant\\alpha"), "x\\ge\\alpha");
}

TEST(LatexNormalizer, ANegatedOrderIsTheOppositeOrder) {
  // Over the reals "not less than" is "at least", and so on.
  for (const char* s : {"x\\not<3", "x \\not < 3", "x\\not\\lt 3", "x\\nless 3"}) {
    EXPECT_EQ(normalize_answer(s), "x\\ge3") << s;
  }
  for (const char* s : {"x\\not>3", "x\\not\\gt 3", "x\\ngtr 3"}) {
    EXPECT_EQ(normalize_answer(s), "x\\le3") << s;
  }
  for (const char* s : {"x\\not\\le 3", "x\\not\\leq 3", "x\\nleq 3", "x\\nleqslant 3", "x\\nleqq 3", "x\\not<=3"}) {
    EXPECT_EQ(normalize_answer(s), "x>3") << s;
  }
  for (const char* s : {"x\\not\\ge 3", "x\\not\\geqslant 3", "x\\ngeq 3", "x\\ngeqslant 3", "x\\ngeqq 3"}) {
    EXPECT_EQ(normalize_answer(s), "x<3") << s;
  }
  EXPECT_EQ(normalize_answer("x ≮ 3"), "x\\ge3");
  EXPECT_EQ(normalize_answer("x ≯ 3"), "x\\le3");
  EXPECT_EQ(normalize_answer("x ≰ 3"), "x>3");
  EXPECT_EQ(normalize_answer("x ≱ 3"), "x<3");
  EXPECT_EQ(normalize_answer("x\\nleq y"), "x>y");
  EXPECT_EQ(normalize_answer("x\\nless y"), "x\\ge y");
  // Negations without an order of the reals stay as written.
  EXPECT_EQ(normalize_answer("x\\lneq 3"), "x\\lneq3");
  EXPECT_EQ(normalize_answer("A\\nsubseteq B"), "A\\nsubseteq B");
  EXPECT_EQ(normalize_answer("x\\not\\equiv 3"), "x\\not\\equiv3");
  EXPECT_EQ(normalize_answer("x\\nlessgtr 3"), "x\\nlessgtr3");
}

TEST(LatexNormalizer, RelationSpellingsAreWholeCommandNames) {
  EXPECT_EQ(normalize_answer("\\neg p"), "\\neg p");
  EXPECT_EQ(normalize_answer("a\\newline b"), "a\\newline b");
  EXPECT_EQ(normalize_answer("x\\lesssim 3"), "x\\lesssim3");
  EXPECT_EQ(normalize_answer("x\\gtrsim 3"), "x\\gtrsim3");
  EXPECT_EQ(normalize_answer("x\\nearrow 3"), "x\\nearrow3");
  EXPECT_EQ(normalize_answer("A\\ltimes B"), "A\\ltimes B");
  EXPECT_EQ(normalize_answer("\\leftarrow"), "\\leftarrow");
  EXPECT_EQ(normalize_answer("\\geqslantx"), "\\geqslantx");  // an unknown command stays as written
  EXPECT_EQ(normalize_answer("p<=>q"), "p<=>q");              // an equivalence arrow, no relation
  // A row break before letters is no command: TeX's \\geq is a break and the text geq.
  EXPECT_EQ(normalize_answer("1 \\\\geq"), "1\\\\geq");
  EXPECT_EQ(normalize_answer("1 \\\\ \\geq 2"), "1\\\\\\ge2");
  // "!=" after a number, letter or bracket is a factorial and an equals sign.
  EXPECT_EQ(normalize_answer("5!=120"), "5!=120");
  EXPECT_EQ(normalize_answer("n! = 120"), "n!=120");
}

TEST(LatexNormalizer, UnwrappedTextKeepsAPrecedingCommandWhole) {
  // \text{max} after \le is the word max, not the tail of a command \lemax.
  EXPECT_EQ(normalize_answer("x\\le\\text{max}"), "x\\le max");
  EXPECT_EQ(normalize_answer("x\\le\\mathrm{max}"), "x\\le max");
  EXPECT_EQ(normalize_answer("a\\ge\\text{b}"), "a\\ge b");
  EXPECT_EQ(normalize_answer("a\\geq\\text{b}"), "a\\ge b");
  EXPECT_EQ(normalize_answer("x\\le\\text{5}"), "x\\le5");  // a digit ends a command anyway
  EXPECT_EQ(normalize_answer("x=\\text{max}"), "x=max");
}

TEST(LatexNormalizer, NamesAnOperatorFunctionAsItsCommand) {
  EXPECT_EQ(normalize_answer("\\operatorname{arccot}(2)"), "\\arccot(2)");
  EXPECT_EQ(normalize_answer("\\operatorname{sec} x"), "\\sec x");
}

TEST(LatexNormalizer, KeepsMatrixRowBreaksWithSpaces) {
  // "\\\\ " is a row break then a space, not a backslash then the "\\ " space command.
  EXPECT_EQ(normalize_answer("\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}"),
            normalize_answer("\\begin{pmatrix}-1/3\\\\2/3\\\\5/3\\end{pmatrix}"));
  EXPECT_NE(normalize_answer("\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}").find("\\\\"), std::string::npos);
}

TEST(LatexNormalizer, KeepsATextOnlyAnswer) {
  EXPECT_EQ(normalize_answer("\\text{(C)}"), "(C)");
  EXPECT_EQ(normalize_answer("\\textbf{Evelyn}"), "Evelyn");
}

TEST(LatexNormalizer, RemovesLatexThousandsSeparatorsOnly) {
  EXPECT_EQ(normalize_answer("1{,}000"), "1000");
  // MATH's ",\!" joins the number ("10,\!080" read as the list "10, 080" before); ",\,"
  // is a plain comma; a thin space alone groups three digits.
  EXPECT_EQ(normalize_answer("10,\\!080"), "10080");
  EXPECT_EQ(normalize_answer("\\$32,\\!348"), "32348");
  EXPECT_EQ(normalize_answer("11,\\! 111,\\! 111,\\! 100"), "11111111100");
  EXPECT_EQ(normalize_answer("1,\\,000"), "1,000");
  EXPECT_EQ(normalize_answer("(3,\\,100)"), "(3,100)");
  EXPECT_EQ(normalize_answer("1\\,000\\,000"), "1000000");
  EXPECT_EQ(normalize_answer("1\\ 000"), "1000");
  EXPECT_EQ(normalize_answer("1,000"), "1,000");  // a number or a list: the equivalence decides
  EXPECT_EQ(normalize_answer("1, 2"), "1,2");
}

TEST(LatexNormalizer, KeepsPercentAndDropsATrailingPeriod) {
  EXPECT_EQ(normalize_answer("50\\%"), "50%");
  EXPECT_EQ(normalize_answer("12."), "12");
}

TEST(LatexNormalizer, UnwrapsABoxedReference) { EXPECT_EQ(normalize_answer("\\boxed{\\dfrac{3}{4}}"), "\\frac{3}{4}"); }

TEST(LatexNormalizer, MapsUnicode) {
  EXPECT_EQ(normalize_answer("3π"), "3\\pi");
  EXPECT_EQ(normalize_answer("−2"), "-2");
}

TEST(LatexNormalizer, KeepsASpaceThatSeparatesACommandFromALetter) {
  EXPECT_EQ(normalize_answer("\\lambda k T"), "\\lambda kT");
}

TEST(LatexNormalizer, StripsAVariablePrefix) {
  EXPECT_EQ(strip_variable_prefix("x=3"), "3");
  EXPECT_EQ(strip_variable_prefix("\\theta=\\frac{\\pi}{2}"), "\\frac{\\pi}{2}");
  EXPECT_EQ(strip_variable_prefix("x\\in[1,2]"), "[1,2]");
  EXPECT_EQ(strip_variable_prefix("x=y=3"), "x=y=3");   // a relation, kept
  EXPECT_EQ(strip_variable_prefix("f(x)=2x"), "f(x)=2x");  // not a bare variable
}

}  // namespace
}  // namespace disa::llm::verify

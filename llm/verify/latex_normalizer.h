// Rewrites an extracted answer into a canonical LaTeX-ish string, so that different
// spellings of one answer become the same text or at least parse as the same number.
//
// What it drops and why, following the public math-evaluation harnesses (Hendrycks'
// strip_string, Qwen2.5-Math's strip_answer_string, lm-eval's Minerva normaliser):
// math delimiters ($, \( \)), \left/\right, spacing commands and all whitespace (but
// a space TeX shows between two digits, "3\quad 5", "1\ 2", stays: two numbers),
// \displaystyle, degree marks (^\circ, °), a trailing period, a trailing unit in
// \text{}/\mbox{}/\mathrm{}/{\rm } after a value ("5\text{ cm}" -> "5"; not after _ or ^:
// "T_{\rm min}" -> "T_{min}"; bare units, "30 m/s", stay for answer_equivalence.h), LaTeX thousands
// separators ("1{,}000", MATH's "10,\!080", SI's "1\,000" and "1\ 000" before a
// group of three digits; plain "1,000" and "1,\,000" could be a list, so
// answer_equivalence.h decides). It rewrites \dfrac/\tfrac to \frac, \frac12 to \frac{1}{2},
// \frac x2 to \frac{x}{2}, \sqrt2 to \sqrt{2}, unwraps the remaining \text{...} (with a space after a control word:
// x\le\text{max} is "x\le max", not the command \lemax), and maps Unicode π, √, −, ×.
// Relations get one spelling each: \le (\leq, \leqslant, \leqq, ≤, ⩽, <=), \ge (\geq,
// \geqslant, \geqq, ≥, ⩾, >=), \ne (\neq, \not=, ≠, != but not the factorial 5!=120),
// < (\lt) and > (\gt); whole control words only (\neg, \lesssim, \leftarrow stay). A negated
// order is the opposite order, as over the reals: \not< and \nless are \ge, \not> and \ngtr
// \le, \not\le and \nleq (\nleqslant, \nleqq, ≰) are >, \not\ge and \ngeq are <; \lneq,
// \nsubseteq, \not\equiv have no such reading and stay.
// "\%" becomes "%" and stays: the equivalence check decides what a percent means.
#pragma once

#include <string>
#include <string_view>

namespace disa::llm::verify {

std::string normalize_answer(std::string_view answer);

// "x=3" -> "3", "x \in [1,2]" -> "[1,2]": a short variable name before one top-level
// "=" or "\in" is dropped. Applied per element of a tuple or list, after normalising.
std::string strip_variable_prefix(std::string_view normalized);

// A Greek letter as a LaTeX command (\alpha ... \Omega, with the \var forms), a PCRE2
// group: what a variable named by a command may be.
inline constexpr std::string_view kGreekLetterPattern =
    R"(\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|)"
    R"(omicron|pi|varpi|rho|varrho|sigma|varsigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|)"
    R"(Lambda|Xi|Pi|Sigma|Upsilon|Phi|Psi|Omega)(?![A-Za-z]))";

}  // namespace disa::llm::verify

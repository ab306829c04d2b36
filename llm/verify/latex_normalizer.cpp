#include "llm/verify/latex_normalizer.h"

#include <array>
#include <utility>

#include "llm/verify/pcre2_regex.h"
#include "llm/verify/trim.h"

namespace disa::llm::verify {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (s.find(from) == std::string::npos) return;
  std::string out;
  std::size_t start = 0;
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, start)) {
    out.append(s, start, at - start).append(to);
    start = at + from.size();
  }
  out.append(s, start);
  s = std::move(out);
}

// From just after a '{', the index of its '}' (npos when unbalanced).
std::size_t closing_brace(const std::string& s, std::size_t from) {
  int depth = 1;
  for (std::size_t i = from; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// A command followed by a letter continues its name (\textbf is not \text + "bf").
bool command_at(const std::string& s, std::size_t at, std::string_view cmd) {
  if (s.compare(at, cmd.size(), cmd) != 0) return false;
  const std::size_t next = at + cmd.size();
  return next >= s.size() || !std::isalpha(static_cast<unsigned char>(s[next]));
}

// The functions the evaluator knows (expression_evaluator.h), as \operatorname may name them.
bool is_function_name(std::string_view name) {
  static constexpr std::array<std::string_view, 18> kFunctions = {
      "sin",    "cos",    "tan",    "cot",    "sec",    "csc",  "arcsin", "arccos", "arctan",
      "arccot", "arcsec", "arccsc", "sinh",   "cosh",   "tanh", "ln",     "log",    "exp"};
  for (const std::string_view f : kFunctions) {
    if (name == f) return true;
  }
  return false;
}

// Whether s[0..end) ends with a control word: a backslash and one letter or more.
bool ends_with_control_word(const std::string& s, std::size_t end) {
  std::size_t k = end;
  while (k > 0 && std::isalpha(static_cast<unsigned char>(s[k - 1]))) --k;
  return k < end && k > 0 && s[k - 1] == '\\';
}

// A negated order reads as the opposite order, as it does for real numbers (which the
// answers compare): \not< and \nless are \ge, \not> and \ngtr \le, \not\le and \nleq (and
// its slanted forms) >, \not\ge and \ngeq <. Runs on the canonical spellings, so \not\leq
// and \not\lt are covered. Negations without a real-ordered reading (\lneq, \nsubseteq,
// \not\equiv, \nlessgtr) stay as written, and the evaluator stops at them.
void negated_orders(std::string& s) {
  static const Pcre2Regex not_less(R"(\\not\s*<|\\nless(?![A-Za-z]))");
  static const Pcre2Regex not_greater(R"(\\not\s*>|\\ngtr(?![A-Za-z]))");
  static const Pcre2Regex not_less_equal(R"(\\not\s*\\le(?![A-Za-z])|\\nleq(?:slant|q)?(?![A-Za-z]))");
  static const Pcre2Regex not_greater_equal(R"(\\not\s*\\ge(?![A-Za-z])|\\ngeq(?:slant|q)?(?![A-Za-z]))");
  s = not_less.replace_all(s, "\\ge ");
  s = not_greater.replace_all(s, "\\le ");
  s = not_less_equal.replace_all(s, ">");
  s = not_greater_equal.replace_all(s, "<");
}

// The spellings of a relation become one: \le (\leq \leqslant \leqq <=), \ge (\geq
// \geqslant \geqq >=), \ne (\neq \not= !=), < (\lt) and > (\gt); Unicode ≤ ≥ ≠ ⩽ ⩾
// are mapped before. Whole control words only: \neg, \newline, \lesssim, \leftarrow,
// \ltimes stay. "<=>" is an arrow, and "!=" right after a digit, letter, closing bracket
// or "!" is a factorial and an equals sign ("5!=120"), after a backslash a negative thin
// space ("x\!=\!5"). "< =" and "> =" read as "<=" and ">=" whatever the spacing, so that
// "\right> = 0" and "\right>=0" (an angle bracket) stay one text. Row breaks are set
// aside by the caller, so every backslash here starts a command.
void canonical_relations(std::string& s) {
  static const Pcre2Regex less_equal(R"(\\(?:leqslant|leqq|leq)(?![A-Za-z]))");
  static const Pcre2Regex greater_equal(R"(\\(?:geqslant|geqq|geq)(?![A-Za-z]))");
  static const Pcre2Regex not_equal(R"(\\neq(?![A-Za-z])|\\not\s*=)");
  static const Pcre2Regex less(R"(\\lt(?![A-Za-z]))");
  static const Pcre2Regex greater(R"(\\gt(?![A-Za-z]))");
  static const Pcre2Regex ascii_less_equal(R"(<\s*=(?!>))");
  static const Pcre2Regex ascii_greater_equal(R"(>\s*=)");
  static const Pcre2Regex ascii_not_equal(R"((?<![A-Za-z0-9)\]}!\\])!=)");
  // The replacement ends in a space where a letter may follow ("x<=y" is x\le y, not
  // x\ley); the compaction in normalize_answer drops it elsewhere.
  s = less_equal.replace_all(s, "\\le");
  s = greater_equal.replace_all(s, "\\ge");
  s = not_equal.replace_all(s, "\\ne ");
  s = less.replace_all(s, "<");
  s = greater.replace_all(s, ">");
  s = ascii_less_equal.replace_all(s, "\\le ");
  s = ascii_greater_equal.replace_all(s, "\\ge ");
  s = ascii_not_equal.replace_all(s, "\\ne ");
  negated_orders(s);
}

// \text{abc} -> abc for each listed command (nested braces kept balanced).
void unwrap_commands(std::string& s) {
  static constexpr std::array<std::string_view, 10> kWrappers = {
      "\\text",   "\\textbf", "\\textit", "\\textrm", "\\mbox",
      "\\mathrm", "\\mathbf", "\\mathit", "\\boldsymbol", "\\operatorname"};
  for (bool changed = true; changed;) {
    changed = false;
    for (const std::string_view cmd : kWrappers) {
      for (std::size_t at = s.find(cmd); at != std::string::npos; at = s.find(cmd, at + 1)) {
        if (!command_at(s, at, cmd)) continue;
        std::size_t open = at + cmd.size();
        while (open < s.size() && s[open] == ' ') ++open;
        if (open >= s.size() || s[open] != '{') continue;
        const std::size_t close = closing_brace(s, open + 1);
        if (close == std::string::npos) continue;
        std::string inside = s.substr(open + 1, close - open - 1);
        // \operatorname{arccot} names the function \arccot (as letters it would be the
        // product a r c c o t); other operator names stay text.
        if (const std::string name = trim(inside); cmd == "\\operatorname" && is_function_name(name)) {
          inside.assign(1, '\\').append(name).push_back(' ');
        }
        // v_\mathrm{min} is v_{min}: the subscript (or exponent) is the whole group.
        if (at > 0 && (s[at - 1] == '_' || s[at - 1] == '^')) inside = "{" + inside + "}";
        // x\le\text{max} is x\le max: text that starts with a letter must not extend a
        // control word right before it into another command (\lemax).
        if (!inside.empty() && std::isalpha(static_cast<unsigned char>(inside.front())) &&
            ends_with_control_word(s, at)) {
          inside.insert(0, 1, ' ');
        }
        s.replace(at, close + 1 - at, inside);
        changed = true;
      }
    }
  }
}

// A trailing unit after a value: "5\text{ cm}", "3\mbox{ m}^2", "9.6\mathrm{eV}",
// "10^{19}\text{ cm}^{-3}", and a quotient of units one at a time, "5\mathrm{~m} / \mathrm{s}".
// Only when something remains in front of it, so "\text{(C)}" keeps its text; and not
// when the group carries value: 3\mathrm{i} is imaginary and 2\mathrm{e} is 2e (lower case
// only: 5\text{ E} is a unit), and 5\text{ million} is not 5 (it stays as written, so it
// matches only itself).
void drop_trailing_unit(std::string& s) {
  // The group may sit in braces of its own ({\rm eV} is {\mathrm{eV}} by now).
  static const Pcre2Regex unit(
      R"(^(.*?[^\s{])\s*(?:/|\\cdot)?\s*(?:\\(?:text|textrm|mbox|mathrm)\s*\{((?:[^{}]|\{[^{}]*\})*)\}|\{\s*\\(?:text|textrm|mbox|mathrm)\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*\})(?:\s*\^\s*(?:\{-?\d+\}|\d))?\s*$)");
  static const Pcre2Regex imaginary_or_euler(R"(^\s*[ie]\s*$)");
  static const Pcre2Regex number_word(R"(^\s*(?:hundreds?|thousands?|millions?|billions?|trillions?)\s*$)",
                                      /*caseless=*/true);
  for (int i = 0; i < 3; ++i) {
    const auto m = unit.find_all(s);
    if (m.empty() || m.front().groups[0].empty()) return;
    // A subscript or superscript is part of the symbol: T_{\rm min}, v_\mathrm{max}, x^{\rm T}.
    const char before = m.front().groups[0].back();
    if (before == '_' || before == '^') return;
    // A unit follows a value: right after "=" or an operator the text is the value
    // itself (f(x)=\text{odd}, x\le\text{max}).
    static const Pcre2Regex after_operator(R"((?:[=+\-*<>,(\[:;|&]|\\(?:leq?|geq?|neq?|approx|times|to|pm|mp|Rightarrow|implies|iff))$)");
    if (!after_operator.find_all(m.front().groups[0]).empty()) return;
    const std::string& inside = m.front().groups[1].empty() ? m.front().groups[2] : m.front().groups[1];
    if (imaginary_or_euler.matches_whole(inside) || number_word.matches_whole(inside)) return;
    s = trim(m.front().groups[0]);
  }
}

// \frac12 -> \frac{1}{2}, \frac1{x} -> \frac{1}{x}, \sqrt2 -> \sqrt{2}: one-character
// arguments written without braces get them. A space before an argument is TeX's, not the
// argument: \frac x2 is \frac{x}{2} and \sqrt x is \sqrt{x} (they were \frac{ }{x}2 and \sqrt{ }x).
void brace_short_arguments(std::string& s) {
  for (const auto& [cmd, arity] : {std::pair<std::string_view, int>{"\\frac", 2}, {"\\sqrt", 1}}) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
      if (!command_at(s, i, cmd)) {
        out += s[i++];
        continue;
      }
      out += cmd;
      i += cmd.size();
      for (int arg = 0; arg < arity && i < s.size(); ++arg) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i == s.size()) break;
        if (s[i] == '{') {
          const std::size_t close = closing_brace(s, i + 1);
          if (close == std::string::npos) break;
          out += s.substr(i, close - i + 1);
          i = close + 1;
        } else if (s[i] == '[' && cmd == "\\sqrt") {  // \sqrt[3]{x}: the index, then the argument
          const std::size_t close = s.find(']', i);
          if (close == std::string::npos) break;
          out += s.substr(i, close - i + 1);
          i = close + 1;
          --arg;
        } else if (s[i] == '\\') {
          break;  // \frac\pi2: rare; leave it unparsed rather than guess
        } else {
          out += '{';
          out += s[i++];
          out += '}';
        }
      }
    }
    s = std::move(out);
  }
}

// Thousands separators as MATH and OlympiadBench typeset them, before the spacing
// commands become spaces. ",\!" (a comma pulled tight to its digits: "10,\!080",
// "11,\! 111,\! 111") only ever groups digits, so the number is written out: it must not
// read as the list "10, 080". ",\," loses its space and keeps its comma: "1,000" is a
// number against a number and a list against a list (answer_equivalence.h), as lists
// put thin spaces after their commas too ("(3,\,100)"). A thin space or "\ " alone
// before a group of three digits groups them, SI style: "1\,000", "1\ 000".
void drop_thousands_spacing(std::string& s) {
  static const Pcre2Regex tight_comma(R"((?<=\d)\s*(?:,|\{,\})(?:\s|\\,)*\\!(?:\s|\\[,!])*(?=\d{3}(?!\d)))");
  static const Pcre2Regex spaced_comma(R"((?<=\d)\s*,\s*\\,(?:\s|\\,)*(?=\d{3}(?!\d)))");
  static const Pcre2Regex grouping_space(R"((?<=\d)\s*(?:\\[,! ]\s*)+(?=\d{3}(?!\d)))");
  s = tight_comma.replace_all(s, "");
  s = spaced_comma.replace_all(s, ",");
  s = grouping_space.replace_all(s, "");
}

}  // namespace

std::string normalize_answer(std::string_view answer) {
  std::string s = trim(answer);
  if (std::string boxed; s.find("\\boxed") != std::string::npos) {
    // A reference written as "\boxed{x}" means x.
    const auto at = s.rfind("\\boxed{");
    if (at != std::string::npos) {
      const std::size_t close = closing_brace(s, at + 7);
      if (close != std::string::npos) s = s.substr(at + 7, close - at - 7);
    }
  }
  // clang-format off
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kUnicode = {{
      {"π", "\\pi "}, {"√", "\\sqrt"}, {"−", "-"}, {"×", "\\times "}, {"·", "\\cdot "},
      {"°", "^\\circ"}, {"∞", "\\infty "}, {"≤", "\\le "}, {"≥", "\\ge "}, {"⩽", "\\le "},
      {"⩾", "\\ge "}, {"≠", "\\ne "}, {"≮", "\\nless "}, {"≯", "\\ngtr "}, {"≰", "\\nleq "},
      {"≱", "\\ngeq "}}};
  // clang-format on
  for (const auto& [from, to] : kUnicode) replace_all(s, from, to);
  for (char& c : s) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\%", "%");
  s = trim(s);
  for (const std::string_view lead : {"\\(", "\\["}) {
    if (s.starts_with(lead)) s = trim(std::string_view(s).substr(2));
  }
  for (const std::string_view tail : {"\\)", "\\]"}) {
    if (s.ends_with(tail)) s = trim(std::string_view(s).substr(0, s.size() - 2));
  }
  // \left. and \right. are invisible delimiters; the rest keep their bracket. Whole
  // command names only: \bigg( is not \big + "g(", and \rightarrow, \bigcup stay.
  static const Pcre2Regex sizing(R"(\\(?:left|right|[Bb]igg?[lrm]?)(?![A-Za-z])\.?)");
  s = sizing.replace_all(s, "");
  replace_all(s, "\\displaystyle", "");
  // The old-style "{\rm eV}" is "\mathrm{eV}" (a unit to drop_trailing_unit below).
  // After _ or ^ its braces stay: in T_{\rm min} they hold the subscript, which is no
  // unit. Elsewhere they go, so that {\rm e} is e and {\rm A},{\rm B} is A,B.
  // The group may hold spacing and one level of braces: {\rm~cm}, {\rm m\,s^{-1}}.
  static const Pcre2Regex scripted_roman(R"(([_^]\s*)\{\s*\\rm(?![A-Za-z])(?:\s|~)*((?:[^{}]|\{[^{}]*\})*)\})");
  s = scripted_roman.replace_all(s, "$1{\\mathrm{$2}}");
  static const Pcre2Regex old_roman(R"(\{\s*\\rm(?![A-Za-z])(?:\s|~)*((?:[^{}]|\{[^{}]*\})*)\})");
  s = old_roman.replace_all(s, "\\mathrm{$1}");
  drop_thousands_spacing(s);
  // A row break "\\\\ " must not lose its second backslash to the "\\ " space below: the
  // breaks are set aside while the spacing commands are replaced.
  constexpr std::string_view kRowBreak = "\x01";
  replace_all(s, "\\\\", kRowBreak);
  canonical_relations(s);
  // Spacing that TeX shows between two digits keeps them apart: "3\quad 5" and "1\ 2"
  // are two numbers, not 35 and 12 (the thousands forms, "1\,000", are gone by now); the
  // space survives the compaction below and the evaluator reads no number across it.
  // Plain spaces, which math mode does not show, still join: OlympiadBench writes 11 as
  // "\mathbf{1 1}".
  constexpr std::string_view kDigitGap = "\x02";
  static const Pcre2Regex digit_gap(R"((\d)\s*(?:(?:\\(?:qquad|quad|[,;: ])|~)\s*)+(?=\d))");
  s = digit_gap.replace_all(s, "$1\x02");
  for (const std::string_view space : {"\\!", "\\,", "\\;", "\\:", "\\ ", "\\quad", "\\qquad", "~"}) {
    replace_all(s, space, " ");
  }
  replace_all(s, kRowBreak, "\\\\");
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  // A temperature's scale goes with its degree mark: "1950^\\circ C" is 1950.
  static const Pcre2Regex degree_scale(R"((?:\^\{?\\circ\}?|\\degree|°)\s*(?:\\mathrm\{[CFK]\}|\{\\mathrm\{[CFK]\}\}|\{[CFK]\}|[CFK])\s*$)");
  s = degree_scale.replace_all(s, "");
  for (const std::string_view degree : {"^{\\circ}", "^\\circ", "{}^\\circ", "\\circ", "\\degree"}) {
    replace_all(s, degree, "");
  }
  replace_all(s, "{,}", "");
  drop_trailing_unit(s);
  unwrap_commands(s);
  s = trim(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();  // a sentence's period
  // Whitespace carries no meaning in these answers once the commands above are gone.
  // A backslash command followed by a space and a letter keeps one separator
  // ("\pi r" must not become the undefined command "\pir").
  std::string compact;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != ' ') {
      compact += s[i];
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && s[j] == ' ') ++j;
    std::size_t k = compact.size();
    while (k > 0 && std::isalpha(static_cast<unsigned char>(compact[k - 1]))) --k;
    const bool after_command = k > 0 && compact[k - 1] == '\\' && k < compact.size();
    if (after_command && j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) compact += ' ';
    // "100, 200" is two answers: without its space it would read as the thousands
    // separator of 100200 (answer_equivalence.h). Only this shape keeps the space.
    const auto digit = [&](std::size_t at) { return at < s.size() && std::isdigit(static_cast<unsigned char>(s[at])); };
    const bool list_not_thousands = compact.size() >= 2 && compact.back() == ',' &&
                                    std::isdigit(static_cast<unsigned char>(compact[compact.size() - 2])) &&
                                    digit(j) && digit(j + 1) && digit(j + 2) && !digit(j + 3);
    if (list_not_thousands) compact += ' ';
    // "x^2 3", "\sin^2 3x": an exponent without braces ends at its space (the evaluator
    // reads every digit after ^, so x^23 is x^{23}).
    std::size_t run = compact.size();
    while (run > 0 && std::isdigit(static_cast<unsigned char>(compact[run - 1]))) --run;
    if (run > 0 && run < compact.size() && compact[run - 1] == '^' && digit(j)) compact += ' ';
    i = j - 1;
  }
  s = std::move(compact);
  replace_all(s, kDigitGap, " ");
  brace_short_arguments(s);
  // "x^{2}" and "x^2", "a_{n}" and "a_n": braces around one character say nothing;
  // except an exponent's before a digit, as x^{2}3 without them would read as x^{23}.
  static const Pcre2Regex single_brace_subscript(R"(_\{([A-Za-z0-9])\})");
  static const Pcre2Regex single_brace_exponent(R"(\^\{([A-Za-z0-9])\}(?![0-9]))");
  s = single_brace_subscript.replace_all(s, "_$1");
  s = single_brace_exponent.replace_all(s, "^$1");
  // x^{\prime} and x' are one derivative (after the spaces are gone).
  for (const std::string_view prime : {"^{\\prime\\prime}", "^{\\prime}", "^\\prime"}) {
    replace_all(s, prime, prime.find("\\prime\\prime") != std::string_view::npos ? "''" : "'");
  }
  // Arc minutes and seconds after a number: 0.003^{\prime\prime} is 0.003 (a unit).
  static const Pcre2Regex primes(R"((\d)'+$)");
  s = primes.replace_all(s, "$1");
  if (s.starts_with("+")) s.erase(0, 1);
  return s;
}

std::string strip_variable_prefix(std::string_view normalized) {
  // A variable: one letter or a Greek-letter command, optionally subscripted; or a
  // tuple of letters naming a tuple answer, "(x,y)=(1,2)".
  // Other commands are no variable: "\not\in(1,3)" or "\to\in(1,3)" would be (1,3).
  static const Pcre2Regex prefix("^(?:[A-Za-z]|" + std::string(kGreekLetterPattern) +
                                 R"(|\([A-Za-z](?:,[A-Za-z])+\))(?:_\{?[A-Za-z0-9]+\}?)?(?:=|\\in)(?!=)(.+)$)");
  const auto m = prefix.find_all(normalized);
  if (m.empty()) return std::string(normalized);
  const std::string rest = m.front().groups[0];
  // "x=y=3" or "y=2x+1=0" are relations, not an assignment of a value; nor is "x=y<3"
  // (it says x = y as well as y < 3).
  static const Pcre2Regex inequality(R"([<>]|\\(?:le|ge|ne)(?![A-Za-z]))");
  if (rest.find('=') != std::string::npos || !inequality.find_all(rest).empty()) return std::string(normalized);
  return rest;
}

}  // namespace disa::llm::verify

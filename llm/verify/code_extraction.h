// The text-level steps of the code reward: finding the program in a model's response
// and comparing a program's standard output with the expected one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm::verify {

// The program in a response: the last non-blank ```python (or ```py / ```python3) fenced
// block; else the last non-blank fenced block without a language; else, when the response has no fence
// at all, the whole response. As in CommonMark, a fence is 3 or more backticks or 3 or
// more tildes (~~~python), the language is the first word of the info string
// (```python title="a.py" is python), and only a fence of the same character, at least
// the opening's length and with nothing after it closes a block (so a ```` block may
// hold ``` lines, and a ``` block ~~~ lines). A block that no such fence closes gets,
// rather than running to the end, the first later line that starts with a fence of its
// character and at least its length, whatever follows ("``` end", "```<|im_end|>", a
// next "```python"), as its close: models and decoders write such lines where they
// mean the end of the block; such a line that opens a python block opens the next block
// too (so the last python block wins). A line inside a triple-quoted string that an
// earlier line of the block opened is no such close. One with no such line either (a
// response cut at the length limit) runs to the end. nullopt when that text is blank (reason "no code
// found").
std::optional<std::string> extract_program(std::string_view response);

// The float tolerance when a task states none (absolute or relative).
inline constexpr double kDefaultOutputTolerance = 1e-6;

// How a task's output is judged against the stored one; read from the problem statement
// (code_benchmarks.h: comparison_from_statement) or a record's "compare" field.
struct OutputComparison {
  // Words match whatever their ASCII letter case: the statement says "You can output the
  // answer in any case", so "yEs" is a right "YES".
  bool case_insensitive = false;
  // With case_insensitive: the only words whose case is free, when the statement's "in any
  // case" sentence quotes them ("You can output "YES" and "NO" in any case": a token
  // equal to YES or NO ignoring case may be "yEs", any other word, such as the string
  // printed after it, must match exactly). Empty: every word (the sentence quotes none:
  // "the answer", "each letter").
  std::vector<std::string> case_insensitive_words;
  // Absolute or relative bound for an expected float (the statement's "10^{-9}").
  double tolerance = kDefaultOutputTolerance;
  // The statement accepts other outputs than the stored one ("if there are multiple
  // answers, print any"). The datasets hold no checker, so the output is still compared
  // with the stored answer; the verdict says so (a right answer may get 0).
  bool several_answers = false;
  // An interactive problem ("This is an interactive problem", or Codeforces' tag
  // 'interactive'): its test is one stored transcript of queries and replies, and the
  // datasets hold no interactor, so only a program asking exactly the stored queries
  // passes. Implies several_answers (counted with them); the verdict names the cause.
  bool interactive = false;
  // several_answers for its own sake (the statement's sentence, or a record's
  // "several_answers"), not only as interactive's: what is left when a record's
  // "interactive": false clears the flag.
  bool several_answers_stated = false;
};

// Standard output against the expected output, token by token (runs of whitespace,
// line breaks included, are one separator; leading/trailing whitespace is ignored).
// Two tokens match when equal (ignoring letter case with `how.case_insensitive`, for the
// tokens equal to one of `how.case_insensitive_words` ignoring case when it lists any), or
// when both are decimal numbers and either the expected one is written with a '.' or an
// exponent and the output is within `how.tolerance` absolute or relative of it
// (LiveCodeBench's float answers), or the expected one is an integer and the output,
// written as a float, has exactly its value ("3.0" for 3; "1e18" is not
// 1000000000000000001, as in Python's int == float). `how.several_answers` changes
// nothing here. Returns nullopt on a match, else a short description of the first
// difference: "expected '3' got '4' (token 2)" or "expected 3 tokens, got 2".
std::optional<std::string> compare_outputs(std::string_view expected, std::string_view got,
                                           const OutputComparison& how = {});

// `text` shortened to at most `max_chars` with "..." and its line breaks shown as \n,
// for reasons printed on one line.
std::string one_line_excerpt(std::string_view text, std::size_t max_chars = 80);

}  // namespace disa::llm::verify

#include "llm/verify/code_extraction.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace disa::llm::verify {
namespace {

struct Fence {
  std::string language;  // the info string's first word, lower-cased ("" when none)
  std::string body;
  std::size_t indent = 0;  // of the opening fence
  std::vector<std::string_view> lines;  // the body as written, until the fence closes
};

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::size_t leading_blanks(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i;
}

// A fence indented N columns (inside a list item) usually indents its body too
// (CommonMark), and kept, that indentation is an IndentationError. But models also
// write the body at column 0 under an indented fence. So the columns removed are the
// fence's N or fewer: as many as every non-blank body line has (textwrap.dedent capped
// at N), which never cuts into the program's own indentation.
void finish_body(Fence& fence) {
  std::size_t cut = fence.indent;
  for (const std::string_view line : fence.lines) {
    if (!is_blank(line)) cut = std::min(cut, leading_blanks(line));
  }
  for (const std::string_view line : fence.lines) {
    fence.body.append(line.substr(std::min(cut, leading_blanks(line))));
    fence.body += '\n';
  }
  fence.lines.clear();
}

// A fence line as CommonMark reads it: a run of 3 or more backticks or 3 or more tildes,
// then the info string, which after backticks may not hold a backtick (so "```x```"
// inline is no fence); after tildes it may hold anything.
struct FenceLine {
  char mark = '`';         // '`' or '~'
  std::size_t length = 0;  // of the run
  std::string_view info;   // trimmed
};

std::optional<FenceLine> fence_line(std::string_view stripped) {
  FenceLine f;
  if (stripped.empty() || (stripped[0] != '`' && stripped[0] != '~')) return std::nullopt;
  f.mark = stripped[0];
  while (f.length < stripped.size() && stripped[f.length] == f.mark) ++f.length;
  if (f.length < 3) return std::nullopt;
  std::string_view info = stripped.substr(f.length);
  if (f.mark == '`' && info.find('`') != std::string_view::npos) return std::nullopt;
  while (!info.empty() && std::isspace(static_cast<unsigned char>(info.back()))) info.remove_suffix(1);
  while (!info.empty() && std::isspace(static_cast<unsigned char>(info.front()))) info.remove_prefix(1);
  f.info = info;
  return f;
}

// A line that starts (after its indentation) with `length` or more of `mark`, whatever
// follows: "``` end", "```<|im_end|>", "```python", "```x```". The fallback close of a
// block that no proper closing fence ends.
bool starts_with_fence(std::string_view stripped, char mark, std::size_t length) {
  std::size_t n = 0;
  while (n < stripped.size() && stripped[n] == mark) ++n;
  return n >= length;
}

// The language of an info string: its first word, lower-cased ("python" for
// `python title="a.py"` or `python {linenos}`), as CommonMark takes it.
std::string fence_language(std::string_view info) {
  std::string language;
  for (const char c : info) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '{') break;
    language += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return language;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

bool is_python_tag(const std::string& language) {
  return language == "python" || language == "py" || language == "python3";
}

// Python's string literals, as far as a line's end goes: whether a ''' or """ string is
// still open after `line`, given `open_quote` ('\'' or '"' when one was open before it,
// 0 when none). One-line strings ("'''", '\'') and comments ("# don't") open none.
char triple_quote_after(std::string_view line, char open_quote) {
  std::size_t k = 0;
  while (k < line.size()) {
    const char c = line[k];
    if (open_quote != 0) {
      if (c == '\\') {
        k += 2;
      } else if (line.substr(k, 3) == std::string(3, open_quote)) {
        open_quote = 0;
        k += 3;
      } else {
        ++k;
      }
      continue;
    }
    if (c == '#') break;
    if (c != '\'' && c != '"') {
      ++k;
      continue;
    }
    if (line.substr(k, 3) == std::string(3, c)) {
      open_quote = c;
      k += 3;
      continue;
    }
    // A one-line string: to its closing quote, or the line's end.
    for (++k; k < line.size() && line[k] != c; ++k) {
      if (line[k] == '\\') ++k;
    }
    ++k;
  }
  return open_quote;
}

// Fenced blocks: a fence line opens one, and the next fence line of the same character,
// at least the opening's length and with no info string closes it (CommonMark: a ````
// block may show ``` lines, a ~~~ block ``` lines, and "```python" inside a block is
// content, not its end). When no such line follows, the first later line starting with
// the opening's character at least as many times closes it, whatever follows on that
// line (extract_program's comment says why), unless the line lies inside a ''' or """
// string opened on an earlier line of the block (a program showing a fence); when that
// line opens a python block ("```python", "```py title=..."), it opens the next block
// too. When no line closes it, the block runs to the end of the text.
std::vector<Fence> fenced_blocks(std::string_view text, bool& any_fence) {
  std::vector<Fence> blocks;
  any_fence = false;
  const std::vector<std::string_view> lines = split_lines(text);
  std::size_t i = 0;
  while (i < lines.size()) {
    const std::size_t indent = leading_blanks(lines[i]);
    const std::optional<FenceLine> open = fence_line(lines[i].substr(indent));
    if (!open) {
      ++i;
      continue;
    }
    any_fence = true;
    Fence current;
    current.indent = indent;
    current.language = fence_language(open->info);
    std::size_t close = lines.size();  // none: to the end
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      const std::string_view stripped = lines[j].substr(leading_blanks(lines[j]));
      const std::optional<FenceLine> f = fence_line(stripped);
      if (f && f->mark == open->mark && f->length >= open->length && f->info.empty()) {
        close = j;
        break;
      }
    }
    std::size_t next = close + 1;
    if (close == lines.size()) {
      char open_quote = 0;
      for (std::size_t j = i + 1; j < lines.size(); ++j) {
        const std::string_view stripped = lines[j].substr(leading_blanks(lines[j]));
        if (open_quote == 0 && starts_with_fence(stripped, open->mark, open->length)) {
          close = j;
          const std::optional<FenceLine> f = fence_line(stripped);
          next = f && is_python_tag(fence_language(f->info)) ? j : j + 1;
          break;
        }
        open_quote = triple_quote_after(lines[j], open_quote);
      }
    }
    for (std::size_t j = i + 1; j < close; ++j) current.lines.push_back(lines[j]);
    finish_body(current);
    blocks.push_back(std::move(current));
    i = next;
  }
  return blocks;
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// A whole token as a decimal number (no hex, inf or nan).
std::optional<double> parse_number(std::string_view token) {
  if (token.empty() || token.size() > 64) return std::nullopt;
  for (char c : token) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  const std::string copy(token);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool written_as_float(std::string_view token) { return token.find_first_of(".eE") != std::string_view::npos; }

// A decimal token's exact value as digits x 10^exponent, without leading or trailing
// zeros in the digits (zero is {false, "", 0}), so that equal values compare equal as
// structs: "3", "3.0", "0.3e1" and "+3." are one value; "1e18" is not 1000000000000000001.
struct ExactDecimal {
  bool negative = false;
  std::string digits;
  long long exponent = 0;
  bool operator==(const ExactDecimal&) const = default;
};

std::optional<ExactDecimal> exact_decimal(std::string_view token) {
  if (!parse_number(token)) return std::nullopt;  // the same grammar as the tolerant comparison
  ExactDecimal d;
  std::size_t i = 0;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) d.negative = token[i++] == '-';
  long long fraction_digits = 0;
  bool after_point = false;
  for (; i < token.size() && token[i] != 'e' && token[i] != 'E'; ++i) {
    if (token[i] == '.') {
      after_point = true;
      continue;
    }
    d.digits.push_back(token[i]);
    if (after_point) ++fraction_digits;
  }
  const std::size_t first = d.digits.find_first_not_of('0');
  if (first == std::string::npos) return ExactDecimal{};  // zero, whatever its exponent
  long long exponent = 0;
  if (i < token.size()) {
    // strtod accepted the token and it is at most 64 characters, so the exponent has at
    // most 62 digits; one beyond 10^15 cannot name a finite nonzero double anyway.
    std::string_view e = token.substr(i + 1);
    const bool e_negative = !e.empty() && e[0] == '-';
    if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.remove_prefix(1);
    while (!e.empty() && e[0] == '0') e.remove_prefix(1);
    if (e.size() > 15) return std::nullopt;
    for (char c : e) exponent = exponent * 10 + (c - '0');
    if (e_negative) exponent = -exponent;
  }
  const std::size_t last = d.digits.find_last_not_of('0');
  d.exponent = exponent - fraction_digits + static_cast<long long>(d.digits.size() - 1 - last);
  d.digits = d.digits.substr(first, last + 1 - first);
  return d;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// An expected integer is matched exactly (a float token must denote that very integer:
// "3.0" for 3, never "2.9999999" or "1e18" for 1000000000000000001), as Python's
// int == float and LiveCodeBench's Decimal comparison do. An expected float is matched
// within the task's tolerance, absolute or relative.
// With `how.case_insensitive_words`, only the tokens that are one of those words
// (ignoring case) are matched ignoring case: "yEs" for a stated "YES", never "FORCODESEC"
// for the string "forcodesec" printed after it.
bool case_free(std::string_view expected, const OutputComparison& how) {
  if (!how.case_insensitive) return false;
  if (how.case_insensitive_words.empty()) return true;
  return std::any_of(how.case_insensitive_words.begin(), how.case_insensitive_words.end(),
                     [&](const std::string& w) { return equal_ignoring_case(w, expected); });
}

bool tokens_match(std::string_view expected, std::string_view got, const OutputComparison& how) {
  if (expected == got) return true;
  if (equal_ignoring_case(expected, got) && case_free(expected, how)) return true;
  if (!written_as_float(expected) && !written_as_float(got)) return false;
  if (!written_as_float(expected)) {
    const auto e = exact_decimal(expected);
    return e && e == exact_decimal(got);
  }
  const auto e = parse_number(expected);
  const auto g = parse_number(got);
  if (!e || !g) return false;
  const double diff = std::fabs(*e - *g);
  return diff <= how.tolerance || diff <= how.tolerance * std::fabs(*e);
}

}  // namespace

std::optional<std::string> extract_program(std::string_view response) {
  bool any_fence = false;
  const std::vector<Fence> blocks = fenced_blocks(response, any_fence);
  const Fence* python = nullptr;
  const Fence* untagged = nullptr;
  for (const Fence& b : blocks) {
    if (is_blank(b.body)) continue;  // "```python" left at the end: no candidate
    if (is_python_tag(b.language)) python = &b;
    if (b.language.empty()) untagged = &b;
  }
  std::string program;
  if (python) {
    program = python->body;
  } else if (untagged) {
    program = untagged->body;
  } else if (!any_fence) {
    program = std::string(response);
  }
  if (is_blank(program)) return std::nullopt;
  return program;
}

std::optional<std::string> compare_outputs(std::string_view expected, std::string_view got,
                                           const OutputComparison& how) {
  const auto want = tokens(expected);
  const auto have = tokens(got);
  const std::size_t common = std::min(want.size(), have.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (!tokens_match(want[i], have[i], how)) {
      return fmt::format("expected '{}' got '{}' (token {})", one_line_excerpt(want[i], 40),
                         one_line_excerpt(have[i], 40), i + 1);
    }
  }
  if (want.size() != have.size()) {
    return fmt::format("expected {} tokens, got {} (output '{}')", want.size(), have.size(), one_line_excerpt(got));
  }
  return std::nullopt;
}

std::string one_line_excerpt(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace disa::llm::verify

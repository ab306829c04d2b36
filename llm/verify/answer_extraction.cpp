#include "llm/verify/answer_extraction.h"

#include "llm/verify/pcre2_regex.h"
#include "llm/verify/trim.h"

namespace disa::llm::verify {

std::string_view rule_name(ExtractionRule rule) {
  switch (rule) {
    case ExtractionRule::kBoxed: return "boxed";
    case ExtractionRule::kHashes: return "####";
    case ExtractionRule::kAnswerIs: return "answer is";
    case ExtractionRule::kLastNumber: return "last number";
    case ExtractionRule::kNone: return "none";
  }
  return "none";
}

namespace {

constexpr std::size_t kMaxAnswerIsLength = 80;

// From `open` (just after a '{'), the index of the matching '}', or npos.
std::size_t matching_brace(std::string_view text, std::size_t open) {
  int depth = 1;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {  // \{ and \} are literal braces
      ++i;
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

// Markdown emphasis around the answer: "**18**." -> "18." (what follows the closing
// marker is prose); "**The answer is 18**" leaves a closing marker only.
std::string without_emphasis(std::string s) {
  for (const std::string_view marker : {"**", "__"}) {
    if (s.starts_with(marker)) {
      s = trim(std::string_view(s).substr(marker.size()));
      if (const auto close = s.find(marker); close != std::string::npos) s = trim(std::string_view(s).substr(0, close));
      return s;
    }
    std::string_view body(s);
    while (!body.empty() && (body.back() == '.' || body.back() == ' ')) body.remove_suffix(1);
    if (body.ends_with(marker)) return trim(body.substr(0, body.size() - marker.size()));
  }
  return s;
}

// Two words in a row outside braces (letters only, two or more each, the first not a
// LaTeX command): "because she", not "\text{ for every }" or "\sin x". A single "$" is
// also a currency sign, and "$18, because she bought ... paid $18" is prose between two
// of them, not closed math.
bool looks_like_prose(std::string_view s) {
  std::size_t previous_end = std::string_view::npos;  // end of the last qualifying word
  int depth = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (!std::isalpha(static_cast<unsigned char>(s[i])) || depth > 0) {
      depth += s[i] == '{' ? 1 : s[i] == '}' && depth > 0 ? -1 : 0;
      if (s[i] == '{' || s[i] == '}') previous_end = std::string_view::npos;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    const bool word = j - i >= 2 && (i == 0 || s[i - 1] != '\\');
    if (word && previous_end != std::string_view::npos && i == previous_end + 1 && s[previous_end] == ' ') return true;
    previous_end = word ? j : std::string_view::npos;
    i = j;
  }
  return false;
}

// "The answer is $x$." -> "x": up to the end of the line, without a closing period.
// `delimited`: the answer was math closed by its delimiter ($..$, \(..\), \[..\]).
std::string answer_sentence_tail(std::string_view rest, bool& delimited) {
  delimited = false;
  // Display math over several lines ("the answer is:\n$$\n\frac{14}{3}\n$$"; the match
  // of "the answer is" took the blank up to "$$"): the block, its lines joined by spaces.
  // Its first line alone, "$$", would be an empty answer.
  for (const auto& [open, close] : {std::pair<std::string_view, std::string_view>{"$$", "$$"}, {"\\[", "\\]"}}) {
    if (!rest.starts_with(open)) continue;
    const std::size_t end = rest.find(close, open.size()), line_end = rest.find('\n');
    if (end != std::string_view::npos && line_end != std::string_view::npos && end > line_end) {
      std::string body(rest.substr(open.size(), end - open.size()));
      for (char& c : body) c = (c == '\n' || c == '\r') ? ' ' : c;
      body = trim(body);
      while (!body.empty() && body.back() == '.') body.pop_back();
      if (body.empty()) break;
      delimited = true;
      return body;
    }
  }
  std::string s = trim(rest.substr(0, rest.find('\n')));
  // The sentence ends at a period followed by a space ("is 5. Then ..."), not at a
  // decimal point.
  if (const auto stop = s.find(". "); stop != std::string::npos) s.resize(stop);
  s = without_emphasis(std::move(s));
  // "$$" before "$": "$$x$$" read as "$" would close at once, on an empty answer.
  for (const std::string_view lead : {":", "\\(", "\\[", "$$", "$"}) {
    if (!s.starts_with(lead)) continue;
    s = trim(std::string_view(s).substr(lead.size()));
    // "$12$ apples": the answer is the math; what follows its closing delimiter is prose.
    const std::string_view close = lead == "\\(" ? "\\)" : lead == "\\[" ? "\\]" : lead == ":" ? "" : lead;
    if (!close.empty()) {
      // The first closing delimiter not escaped: "$\$12$" closes after the 12.
      std::size_t at = s.find(close);
      while (at != std::string::npos && at > 0 && s[at - 1] == '\\') at = s.find(close, at + 1);
      if (at != std::string::npos) {
        s = trim(std::string_view(s).substr(0, at));
        delimited = lead != "$" || !looks_like_prose(s);
      }
    }
  }
  // "12 apples", "18 km/h": a number followed by plain words (two letters or more, so
  // "2 x + 3" stays an expression) is that number; as a product of variables,
  // "12apples" would never match 12. Not when the words carry value or a second
  // answer: "4 or 5", "10 choose 3", "5 squared", "12 million", "3, since 3 works".
  static const Pcre2Regex number_then_words(
      R"(^(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?)(?:\s+|,\s*)(\p{L}{2,}.*)$)");
  static const Pcre2Regex carries_value(
      R"(\d|\$|\\|\b(?:or|and|choose|squared|cubed|over|power|times|plus|minus|divided|percent|hundreds?|)"
      R"(thousands?|millions?|billions?|trillions?|dozens?)\b)",
      /*caseless=*/true);
  if (const auto found = number_then_words.find_all(s);
      !found.empty() && carries_value.find_all(found.front().groups.at(1)).empty()) {
    s = found.front().groups.at(0);
  }
  // A sentence-ending period (not a decimal point: "is 3.5" keeps its ".5").
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  for (const std::string_view tail : {"\\)", "\\]", "$"}) {
    if (s.ends_with(tail)) s = trim(std::string_view(s).substr(0, s.size() - tail.size()));
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Whether a line starts with a number or math: "42", " -3.5", "**18**", "$\$1,200$",
// "\frac{1}{2}" (not "Final Answer", "Step 2" or "\textbf{Answer}"). Reads only the
// start of the line.
bool number_or_math_follows(std::string_view rest) {
  std::size_t i = 0;
  const auto skip_blanks = [&] {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  };
  skip_blanks();
  if (rest.substr(i).starts_with("**") || rest.substr(i).starts_with("__")) i += 2;
  skip_blanks();
  if (i < rest.size() && (rest[i] == '-' || rest[i] == '+' || rest[i] == '.')) ++i;
  if (i >= rest.size()) return false;
  const char c = rest[i];
  return std::isdigit(static_cast<unsigned char>(c)) || c == '$' || (c == '\\' && !rest.substr(i).starts_with("\\text"));
}

}  // namespace

bool last_boxed_content(std::string_view text, std::string& content, bool* cut_off) {
  if (cut_off != nullptr) *cut_off = false;
  std::size_t best = std::string_view::npos;
  std::size_t best_len = 0;
  for (const std::string_view cmd : {"\\boxed", "\\fbox"}) {
    const auto at = text.rfind(cmd);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      best_len = cmd.size();
    }
  }
  if (best == std::string_view::npos) return false;
  std::size_t i = best + best_len;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '{') {
    const std::size_t close = matching_brace(text, i + 1);
    if (close == std::string_view::npos) {  // unbalanced: no answer, not a guess
      if (cut_off != nullptr) *cut_off = true;
      return false;
    }
    content = trim(text.substr(i + 1, close - i - 1));
    return true;
  }
  // "\boxed 5": one token, up to a space or the end of the math.
  const std::size_t end = text.find_first_of(" $\n", i);
  content = trim(text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
  return !content.empty() && i > best + best_len;  // "\boxedfoo" is not a box
}

ExtractedAnswer extract_final_answer(std::string_view response) {
  bool cut_off = false;
  if (std::string boxed; last_boxed_content(response, boxed, &cut_off)) return {boxed, ExtractionRule::kBoxed};
  if (cut_off) return {};

  // The last "####" followed by an answer on its line (GSM8K's "#### 42"); a Markdown
  // heading ("#### Final Answer" over the answer's line, "#### Verification") is
  // skipped, as lm-eval's GSM8K pattern skips it. Only that one "####" is read.
  for (auto at = response.rfind("####"); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : response.rfind("####", at - 1)) {
    if (!number_or_math_follows(response.substr(at + 4))) continue;
    bool delimited = false;
    const std::string s = answer_sentence_tail(response.substr(at + 4), delimited);
    if (!s.empty()) return {s, ExtractionRule::kHashes};
    break;
  }

  static const Pcre2Regex answer_is(R"((?:the|final) answer is\s*:?\s*)", /*caseless=*/true);
  if (const auto found = answer_is.find_all(response); !found.empty()) {
    bool delimited = false;
    const std::string s = answer_sentence_tail(response.substr(found.back().end), delimited);
    // A long tail is prose ("the answer is obtained in the same way as ..."), not an
    // answer; long math closed by its delimiter (a tuple, an expression) is one.
    if (!s.empty() && (delimited || s.size() <= kMaxAnswerIsLength)) return {s, ExtractionRule::kAnswerIs};
  }

  // Thousands separators stay inside the number ("1,000"); "3/4" is one number.
  static const Pcre2Regex number(R"(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+)");
  if (const auto found = number.find_all(response); !found.empty()) {
    const auto& m = found.back();
    return {std::string(response.substr(m.begin, m.end - m.begin)), ExtractionRule::kLastNumber};
  }
  return {};
}

}  // namespace disa::llm::verify

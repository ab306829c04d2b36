// The regex of a Split pre-tokenizer (tokenizer.json "pre_tokenizer"), run with PCRE2.
//
// tokenizer.json patterns are written for Oniguruma (what the Rust tokenizers crate
// uses). PCRE2 with PCRE2_UTF|PCRE2_UCP reads them the same way except where
// to_pcre2_pattern() rewrites them:
//   \s, \S   -> \p{White_Space}, \P{White_Space}  (PCRE2's \s lacks U+0085)
//   (?i:...) -> each letter written as the class of its simple case folds ([xX];
//               [sS\x{17F}] and [kK\x{212A}]), as Oniguruma 6.9 folds: Qwen's
//               (?i:'s|'t|...) cuts "'ſ" off as it cuts "'s" (checked against libonig
//               6.9.8, the version Hugging Face's onig crate bundles; the JavaScript port
//               does not fold "ſ" and differs there).
// Constructs it cannot carry over (a character class inside a (?i:) group) are
// rejected rather than approximated.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm {

// Throws InputError naming `field` for a pattern it cannot translate.
std::string to_pcre2_pattern(std::string_view oniguruma, std::string_view field);

class SplitRegex {
 public:
  // How matches become pieces (Hugging Face's SplitDelimiterBehavior, the two used by
  // byte-level BPE tokenizers).
  enum class Behavior { kIsolated, kRemoved };

  // `field` names the pattern's place in tokenizer.json for error messages.
  SplitRegex(std::string_view oniguruma_pattern, Behavior behavior, bool invert, std::string_view field);
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // Appends the pieces of valid UTF-8 text to out: matches and the text between them
  // (kIsolated), or only the text between them (kRemoved); invert swaps the two roles.
  // Throws InputError naming `field` and the pattern when the text is too hard for the
  // pattern (PCRE2's match, depth or heap limit: catastrophic backtracking).
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
  Behavior behavior_;
  bool invert_;
  std::string pattern_;  // as written in tokenizer.json, and
  std::string field_;    // where, for errors
};

}  // namespace disa::llm

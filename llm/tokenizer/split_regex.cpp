#include "llm/tokenizer/split_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "llm/safetensors/message_quote.h"
#include "src/input_error.h"

namespace disa::llm {

std::string to_pcre2_pattern(std::string_view in, std::string_view field) {
  std::string out;
  std::vector<bool> caseless_groups = {false};  // innermost last; [0] is the whole pattern
  bool in_class = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\\' && i + 1 < in.size()) {
      const char e = in[++i];
      if (e == 's') {
        out += "\\p{White_Space}";
      } else if (e == 'S') {
        out += "\\P{White_Space}";
      } else {
        out += c;
        out += e;
        // An escape's argument (\p{L}, \pL, \x{41}) is copied whole: its letters are
        // names, not text to case-fold.
        if (i + 1 < in.size() && in[i + 1] == '{' && std::string_view("pPxo").find(e) != std::string_view::npos) {
          const std::size_t close = in.find('}', i + 1);
          if (close == std::string_view::npos) throw InputError(fmt::format("{}: unclosed '{{' in '{}'", field, in));
          out += in.substr(i + 1, close - i);
          i = close;
        } else if ((e == 'p' || e == 'P') && i + 1 < in.size()) {
          out += in[++i];
        }
      }
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < in.size() && in[i + 1] != ':') {
        throw InputError(fmt::format("{}: nested character classes are not supported: '{}'", field, in));
      }
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      if (caseless_groups.back()) {
        throw InputError(fmt::format("{}: a character class inside (?i:...) is not supported: '{}'", field, in));
      }
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < in.size() && in[i + 1] == '^') out += in[++i];
      if (i + 1 < in.size() && in[i + 1] == ']') out += in[++i];
      continue;
    }
    if (c == '(') {
      if (in.substr(i).starts_with("(?i:")) {
        caseless_groups.push_back(true);
        out += "(?:";
        i += 3;
      } else if (in.substr(i).starts_with("(?i)")) {
        caseless_groups.back() = true;
        i += 3;
      } else {
        caseless_groups.push_back(caseless_groups.back());
        out += c;
      }
      continue;
    }
    if (c == ')') {
      if (caseless_groups.size() == 1) throw InputError(fmt::format("{}: unbalanced ')': '{}'", field, in));
      caseless_groups.pop_back();
      out += c;
      continue;
    }
    if (caseless_groups.back() && std::isalpha(static_cast<unsigned char>(c))) {
      // Unicode simple case folding, as Oniguruma applies it: besides its other case, an
      // ASCII letter has a non-ASCII partner only for s (U+017F long s) and k (U+212A
      // Kelvin sign).
      const char lower = static_cast<char>(std::tolower(c));
      const char* partner = lower == 's' ? "\\x{17F}" : lower == 'k' ? "\\x{212A}" : "";
      out += fmt::format("[{}{}{}]", lower, static_cast<char>(std::toupper(c)), partner);
      continue;
    }
    out += c;
  }
  return out;
}

struct SplitRegex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

SplitRegex::SplitRegex(std::string_view oniguruma_pattern, Behavior behavior, bool invert, std::string_view field)
    : compiled_(std::make_unique<Compiled>()),
      behavior_(behavior),
      invert_(invert),
      pattern_(oniguruma_pattern),
      field_(field) {
  const std::string pattern = to_pcre2_pattern(oniguruma_pattern, field);
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                  &error, &offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw InputError(fmt::format("{}: '{}' does not compile (as '{}'): {} at offset {}", field, oniguruma_pattern,
                                 pattern, reinterpret_cast<const char*>(message), offset));
  }
  // JIT is an optimisation only: without it (an unsupported CPU) matching is the same.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

SplitRegex::~SplitRegex() = default;

void SplitRegex::split(std::string_view text, std::vector<std::string_view>& out) const {
  // One match block per thread: split() is called concurrently and in hot loops.
  thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
      pcre2_match_data_create(1, nullptr), &pcre2_match_data_free);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  auto emit = [&](std::size_t from, std::size_t to, bool is_match) {
    if (from == to) return;
    if (behavior_ == Behavior::kRemoved && is_match != invert_) return;
    out.push_back(text.substr(from, to - from));
  };
  std::size_t pos = 0;      // where the next search starts
  std::size_t emitted = 0;  // end of the text already emitted
  while (pos <= text.size()) {
    const int rc =
        pcre2_match(compiled_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      const auto* why = reinterpret_cast<const char*>(message);
      // A pattern that backtracks catastrophically ("(a|aa)+$" on 60 a's and a b) runs into
      // PCRE2's match, depth or heap limit: the text is too hard for the file's pattern.
      if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
          rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_NOMEMORY) {
        std::size_t shown = std::min<std::size_t>(text.size(), 40);  // a whole number of characters
        while (shown > 0 && shown < text.size() && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
        throw InputError(
            fmt::format("{}: the input text is too hard for the pre-tokenizer pattern {} (PCRE2: {}, "
                        "searching from byte {} of a {}-byte piece starting {}{}); the pattern backtracks too much",
                        field_, quote_for_message(pattern_), why, pos, text.size(),
                        quote_for_message(text.substr(0, shown)), shown < text.size() ? "..." : ""));
      }
      throw std::runtime_error(
          fmt::format("{}: pre-tokenizer pattern {} failed: {}", field_, quote_for_message(pattern_), why));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    const std::size_t start = ovector[0], end = ovector[1];
    if (start == end) {  // an empty match: nothing to cut here, step over one character
      if (end >= text.size()) break;
      pos = end + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    emit(emitted, start, false);
    emit(start, end, true);
    emitted = pos = end;
  }
  emit(emitted, text.size(), false);
}

}  // namespace disa::llm

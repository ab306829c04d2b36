#define PCRE2_CODE_UNIT_WIDTH 8
#include "llm/verify/pcre2_regex.h"

#include <fmt/format.h>
#include <pcre2.h>

#include <stdexcept>

namespace disa::llm::verify {

struct Pcre2Regex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

std::string error_text(int code) {
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(code, message, sizeof message);
  return reinterpret_cast<const char*>(message);
}

using MatchData = std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)>;

}  // namespace

Pcre2Regex::Pcre2Regex(std::string_view pattern, bool caseless) : compiled_(new Compiled), pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (caseless ? PCRE2_CASELESS : 0u);
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                                  &offset, nullptr);
  if (compiled_->code == nullptr) {
    throw std::logic_error(fmt::format("regex '{}' at {}: {}", pattern, offset, error_text(error)));
  }
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);  // optional speed-up; failure is harmless
}

Pcre2Regex::~Pcre2Regex() = default;

std::vector<RegexMatch> Pcre2Regex::find_all(std::string_view text) const {
  MatchData data(pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  std::vector<RegexMatch> matches;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t pos = 0;
  // The first call checks that the whole subject is valid UTF-8; checked again at every
  // match, a 400 KB response took 56 s (quadratic). Later starts are at the end of a
  // match or one whole character on, so they stay on character boundaries.
  uint32_t options = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), pos, options, data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    // Invalid UTF-8 in a model's response is not an error: it simply has no match.
    if (rc < 0) break;
    options = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    RegexMatch m{ov[0], ov[1], {}};
    const uint32_t groups = pcre2_get_ovector_count(data.get());
    for (uint32_t g = 1; g < groups; ++g) {
      const bool took_part = g < static_cast<uint32_t>(rc) && ov[2 * g] != PCRE2_UNSET;
      m.groups.emplace_back(took_part ? text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]) : std::string_view{});
    }
    matches.push_back(std::move(m));
    if (ov[1] == ov[0]) {
      // An empty match: step over one UTF-8 character so the loop advances.
      pos = ov[1] + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    } else {
      pos = ov[1];
    }
  }
  return matches;
}

bool Pcre2Regex::matches_whole(std::string_view text) const {
  MatchData data(pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  const int rc = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED, data.get(), nullptr);
  return rc >= 0;
}

std::string Pcre2Regex::replace_all(std::string_view text, std::string_view replacement) const {
  std::string out(text.size() + 64, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    PCRE2_SIZE length = out.size();
    const int rc = pcre2_substitute(
        compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
        PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, nullptr, nullptr,
        reinterpret_cast<PCRE2_SPTR>(replacement.data()), replacement.size(),
        reinterpret_cast<PCRE2_UCHAR*>(out.data()), &length);
    if (rc == PCRE2_ERROR_NOMEMORY) {  // `length` now holds the size needed
      out.assign(length, '\0');
      continue;
    }
    if (rc < 0) return std::string(text);  // e.g. invalid UTF-8: leave the text as it is
    out.resize(length);
    return out;
  }
  return std::string(text);
}

}  // namespace disa::llm::verify

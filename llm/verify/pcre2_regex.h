// A compiled PCRE2 pattern (UTF-8, Unicode properties) with the two operations the
// verifier needs: every match with its capture groups, and global substitution.
// Patterns are compiled once (JIT when available); a bad pattern is a programming
// error, so it throws std::logic_error rather than InputError.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace disa::llm::verify {

struct RegexMatch {
  std::size_t begin = 0, end = 0;  // byte offsets of the whole match
  std::vector<std::string> groups;  // captures 1..n ("" when a group did not take part)
};

class Pcre2Regex {
 public:
  // `caseless`: match letters regardless of case.
  explicit Pcre2Regex(std::string_view pattern, bool caseless = false);
  ~Pcre2Regex();
  Pcre2Regex(const Pcre2Regex&) = delete;
  Pcre2Regex& operator=(const Pcre2Regex&) = delete;

  std::vector<RegexMatch> find_all(std::string_view text) const;
  bool matches_whole(std::string_view text) const;
  // Replaces every match; `replacement` may use $1.. for groups.
  std::string replace_all(std::string_view text, std::string_view replacement) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
  std::string pattern_;
};

}  // namespace disa::llm::verify

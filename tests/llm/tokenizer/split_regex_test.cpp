// Tests the pre-tokenizer regex (llm/tokenizer/split_regex.h): the Oniguruma -> PCRE2
// rewrites and the pieces Qwen's pattern cuts text into (hand-derived from the pattern).
#include "llm/tokenizer/split_regex.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/input_error.h"
#include "tests/llm/tokenizer/mini_tokenizer.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using disa::test::contains_all;
using disa::test::input_error_message;

std::vector<std::string> pieces(const SplitRegex& r, std::string_view text) {
  std::vector<std::string_view> views;
  r.split(text, views);
  return {views.begin(), views.end()};
}

using Pieces = std::vector<std::string>;

TEST(SplitRegex, RewritesWhiteSpaceAndAsciiCaseInsensitiveGroups) {
  EXPECT_EQ(to_pcre2_pattern(R"(\s+(?!\S)|[^\s\p{L}])", "f"),
            R"(\p{White_Space}+(?!\P{White_Space})|[^\p{White_Space}\p{L}])");
  EXPECT_EQ(to_pcre2_pattern("(?i:'s|'ll)|x", "f"), R"((?:'[sS\x{17F}]|'[lL][lL])|x)");
  EXPECT_EQ(to_pcre2_pattern("(?i:k)", "f"), R"((?:[kK\x{212A}]))");
  // Escapes and their arguments are not case-expanded.
  EXPECT_EQ(to_pcre2_pattern(R"((?i:\p{Lu}\pL\x{4A}a))", "f"), R"((?:\p{Lu}\pL\x{4A}[aA]))");
  EXPECT_EQ(to_pcre2_pattern(R"([\]s](a))", "f"), R"([\]s](a))");
  EXPECT_TRUE(
      contains_all(input_error_message([] { to_pcre2_pattern("(?i:[a-f])", "model.x"); }), {"model.x", "(?i:"}));
  EXPECT_TRUE(contains_all(input_error_message([] { to_pcre2_pattern("a)", "model.x"); }), {"model.x", "unbalanced"}));
}

TEST(SplitRegex, CutsTextAsQwensPattern) {
  const SplitRegex r(test::kQwenPattern, SplitRegex::Behavior::kIsolated, false, "p");
  EXPECT_EQ(pieces(r, "Hello, world!"), (Pieces{"Hello", ",", " world", "!"}));
  EXPECT_EQ(pieces(r, "I'LL 123 ab\n\n  cd"), (Pieces{"I", "'LL", " ", "1", "2", "3", " ab", "\n\n", " ", " cd"}));
  // "ſ" (long s) folds to "s" as in Oniguruma (libonig 6.9.8 cuts "x'ſx" as x | 'ſ | x).
  EXPECT_EQ(pieces(r, "x'ſx"), (Pieces{"x", "'ſ", "x"}));
  EXPECT_EQ(pieces(r, "x'Sx"), (Pieces{"x", "'S", "x"}));
  // U+0085 (NEL) is White_Space, as in Oniguruma; PCRE2's own \s would miss it.
  EXPECT_EQ(pieces(r, "a\u0085\u0085b"), (Pieces{"a", "\u0085", "\u0085b"}));
  EXPECT_EQ(pieces(r, ""), Pieces{});
}

TEST(SplitRegex, RemovedAndInvertedBehaviours) {
  const SplitRegex removed(R"(\s+)", SplitRegex::Behavior::kRemoved, false, "p");
  EXPECT_EQ(pieces(removed, " a  bc "), (Pieces{"a", "bc"}));
  const SplitRegex isolated(R"(\s+)", SplitRegex::Behavior::kIsolated, false, "p");
  EXPECT_EQ(pieces(isolated, " a  bc "), (Pieces{" ", "a", "  ", "bc", " "}));
  const SplitRegex kept_matches(R"(\p{L}+)", SplitRegex::Behavior::kRemoved, true, "p");
  EXPECT_EQ(pieces(kept_matches, "ab, cd"), (Pieces{"ab", "cd"}));
}

// A pattern that backtracks catastrophically ran into PCRE2's match limit and failed with
// "pre-tokenizer regex failed: match limit exceeded" (a crash, exit 1), naming nothing.
TEST(SplitRegex, TextTooHardForThePatternIsAnInputErrorNamingThePattern) {
  const SplitRegex hard("(a|aa)+$", SplitRegex::Behavior::kIsolated, false, "t/tokenizer.json: pre_tokenizer.pattern");
  const std::string text = std::string(60, 'a') + "b";
  EXPECT_TRUE(contains_all(input_error_message([&] { pieces(hard, text); }),
                           {"t/tokenizer.json: pre_tokenizer.pattern", "too hard for the pre-tokenizer pattern",
                            "'(a|aa)+$'", "match limit", "61-byte piece starting 'aaaa", "...)"}));
  // The pattern is quoted with its control bytes escaped, and a cut never splits a character.
  const SplitRegex hostile("(a|aa)+$|\x1b", SplitRegex::Behavior::kIsolated, false, "f");
  const std::string wide = std::string(39, 'a') + "\xC3\xA9" + std::string(60, 'a') + "b";
  const std::string message = input_error_message([&] { pieces(hostile, wide); });
  EXPECT_TRUE(contains_all(message, {"'(a|aa)+$|\\x1B'", "searching from byte 0", std::string(39, 'a') + "'...)"}))
      << message;
  // An easy text still splits.
  EXPECT_EQ(pieces(hard, "aab"), (Pieces{"aab"}));
}

}  // namespace
}  // namespace disa::llm

// Tests the UTF-8 helpers (llm/tokenizer/utf8.h): validation, NFC through utf8proc,
// and lossy decoding with one U+FFFD per maximal ill-formed subsequence (the examples
// of the Unicode standard, section 3.9, table 3-8).
#include "llm/tokenizer/utf8.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "src/input_error.h"
#include "tests/util/errors.h"

namespace disa::llm::utf8 {
namespace {

using disa::test::contains_all;
using disa::test::input_error_message;

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, RejectsIllFormedTextNamingTheByte) {
  EXPECT_NO_THROW(require_valid("a\xC3\xA9\xF0\x9F\x98\x80", "t"));
  EXPECT_TRUE(contains_all(input_error_message([] { require_valid("ab\xC3", "field"); }), {"field", "byte 2"}));
  EXPECT_TRUE(
      contains_all(input_error_message([] { require_valid("\xED\xA0\x80", "f"); }), {"byte 0"}));      // a surrogate
  EXPECT_TRUE(contains_all(input_error_message([] { require_valid("\xC0\xAF", "f"); }), {"byte 0"}));  // overlong
}

TEST(Utf8, NormalisesToNfcAndNfd) {
  EXPECT_EQ(normalize("e\xCC\x81", NormalForm::kNFC), "\xC3\xA9");
  EXPECT_EQ(normalize("\xC3\xA9", NormalForm::kNFD), "e\xCC\x81");
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalForm::kNFKC), "fi");  // the "ﬁ" ligature
  EXPECT_EQ(normalize(std::string("a\0b", 3), NormalForm::kNFC), std::string("a\0b", 3));
  EXPECT_EQ(normalize(std::string("\xC3\xA9\0x", 4), NormalForm::kNFC), std::string("\xC3\xA9\0x", 4));
}

TEST(Utf8, DecodesLossilyByMaximalSubparts) {
  // Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d
  EXPECT_EQ(decode_lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  EXPECT_EQ(decode_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate bytes: each alone
  EXPECT_EQ(decode_lossy("\xF0\x9F\x98"), kFffd);                  // a cut 4-byte character
  EXPECT_EQ(decode_lossy("ok\xC3\xA9"), "ok\xC3\xA9");
}

RC_GTEST_PROP(Utf8, DecodeLossyKeepsValidTextAndAlwaysGivesValidText, (const std::string& bytes)) {
  const std::string out = decode_lossy(bytes);
  RC_ASSERT(input_error_message([&] { require_valid(out, "out"); }) == "<no exception thrown>");
  if (input_error_message([&] { require_valid(bytes, "in"); }) == "<no exception thrown>") RC_ASSERT(out == bytes);
}

TEST(Utf8, CharacterClasses) {
  EXPECT_TRUE(is_white_space(U'\u0085'));
  EXPECT_TRUE(is_white_space(U'\u3000'));
  EXPECT_FALSE(is_white_space(U'\uFEFF'));
  EXPECT_TRUE(is_word_char(U'é'));
  EXPECT_TRUE(is_word_char(U'_'));
  EXPECT_FALSE(is_word_char(U'-'));
}

}  // namespace
}  // namespace disa::llm::utf8

// The UTF-8 checker (llm/safetensors/utf8.h) against RFC 3629's edge cases: it gates
// every header, so a false "valid" would let non-UTF-8 headers through.
#include "llm/safetensors/utf8.h"

#include <string>

#include <gtest/gtest.h>

namespace disa::llm {
namespace {

TEST(safetensors_utf8, AcceptsWellFormedText) {
  EXPECT_FALSE(first_invalid_utf8("").has_value());
  EXPECT_FALSE(first_invalid_utf8("model.layers.0.weight").has_value());
  EXPECT_FALSE(first_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
  EXPECT_FALSE(first_invalid_utf8("\xED\x9F\xBF").has_value());      // U+D7FF, just below surrogates
  EXPECT_FALSE(first_invalid_utf8("\xF4\x8F\xBF\xBF").has_value());  // U+10FFFF, the last code point
  EXPECT_FALSE(first_invalid_utf8(std::string("a\0b", 3)).has_value());
}

TEST(safetensors_utf8, ReportsTheFirstBadByte) {
  EXPECT_EQ(first_invalid_utf8("ab\xFF"), 2u);
  EXPECT_EQ(first_invalid_utf8("\x80"), 0u);               // stray continuation byte
  EXPECT_EQ(first_invalid_utf8("x\xC0\xAF"), 1u);          // overlong '/'
  EXPECT_EQ(first_invalid_utf8("\xE0\x80\xAF"), 0u);       // overlong, 3 bytes
  EXPECT_EQ(first_invalid_utf8("\xED\xA0\x80"), 0u);       // U+D800 surrogate
  EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("ok\xE2\x82"), 2u);         // truncated sequence
  EXPECT_EQ(first_invalid_utf8("\xC3\x28"), 0u);           // bad continuation
}

}  // namespace
}  // namespace disa::llm

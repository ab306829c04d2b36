// Final-answer extraction: which rule fires, and what it returns.
#include "llm/verify/answer_extraction.h"

#include <gtest/gtest.h>

namespace disa::llm::verify {
namespace {

TEST(AnswerExtraction, TakesTheLastBoxWithNestedBraces) {
  const auto a = extract_final_answer("First \\boxed{1}, then $\\boxed{\\frac{1}{\\sqrt{2}}}$.");
  EXPECT_EQ(a.rule, ExtractionRule::kBoxed);
  EXPECT_EQ(a.text, "\\frac{1}{\\sqrt{2}}");
}

TEST(AnswerExtraction, ReadsFboxAndBoxedWithoutBraces) {
  EXPECT_EQ(extract_final_answer("so \\fbox{7} wins").text, "7");
  EXPECT_EQ(extract_final_answer("$\\boxed 5$").text, "5");
}

TEST(AnswerExtraction, ACutOffBoxIsNoAnswer) {
  // The last box is not closed (the response was truncated while writing it): no
  // answer, not a guess from the numbers before it.
  const auto a = extract_final_answer("the total is 2, so \\boxed{\\frac{3}{2");
  EXPECT_EQ(a.rule, ExtractionRule::kNone);
  EXPECT_EQ(a.text, "");
  // An earlier closed box does not count either: the model was replacing it.
  EXPECT_EQ(extract_final_answer("\\boxed{2}, no: \\boxed{\\frac{1}{2} and 3").rule, ExtractionRule::kNone);
}

TEST(AnswerExtraction, AnAnswerSentenceEndsAtItsNumberOrItsMath) {
  EXPECT_EQ(extract_final_answer("The answer is 12 apples.").text, "12");
  EXPECT_EQ(extract_final_answer("The answer is 18 dollars.").text, "18");
  EXPECT_EQ(extract_final_answer("The final answer is 18 km/h").text, "18");
  EXPECT_EQ(extract_final_answer("The answer is 1,000 people.").text, "1,000");
  EXPECT_EQ(extract_final_answer("The answer is $12$ apples.").text, "12");
  EXPECT_EQ(extract_final_answer("The answer is \\(\\frac{3}{4}\\) of the cake.").text, "\\frac{3}{4}");
  // Expressions and lists keep their shape.
  EXPECT_EQ(extract_final_answer("The answer is 2 x + 3.").text, "2 x + 3");
  EXPECT_EQ(extract_final_answer("The answer is 1, 2.").text, "1, 2");
  EXPECT_EQ(extract_final_answer("The answer is 3 \\sqrt{2}.").text, "3 \\sqrt{2}");
  // Words that carry value or a second answer keep the whole text (graded as written).
  for (const char* tail : {"4 or 5", "10 choose 3", "5 squared", "12 million", "3, since 3 works"}) {
    EXPECT_EQ(extract_final_answer(std::string("The answer is ") + tail + ".").text, tail);
  }
  // An escaped dollar inside the math is not its end.
  EXPECT_EQ(extract_final_answer("The answer is $\\$12$.").text, "\\$12");
  EXPECT_EQ(extract_final_answer("#### $\\$1,200$").text, "\\$1,200");
}

TEST(AnswerExtraction, DisplayMathAndBoldAroundTheAnswer) {
  // "$$" read as "$" closed at once on an empty answer, which fell back to the last number.
  const auto display = extract_final_answer("The answer is $$\\frac{14}{3}$$");
  EXPECT_EQ(display.rule, ExtractionRule::kAnswerIs);
  EXPECT_EQ(display.text, "\\frac{14}{3}");
  EXPECT_EQ(extract_final_answer("The answer is $$ 5 $$ apples.").text, "5");
  EXPECT_EQ(extract_final_answer("The answer is **18**.").text, "18");
  EXPECT_EQ(extract_final_answer("The answer is **18** dollars, since 3 times 6 is 18.").text, "18");
  EXPECT_EQ(extract_final_answer("The answer is __$\\frac{1}{2}$__.").text, "\\frac{1}{2}");
  EXPECT_EQ(extract_final_answer("**The final answer is 42**").text, "42");
  EXPECT_EQ(extract_final_answer("**The final answer is $x^2$.**").text, "x^2");
}

TEST(AnswerExtraction, DisplayMathOnTheLinesAfterTheAnswerIs) {
  // The line after "is:" is empty; the block below it is the answer (was: the last number, 3).
  EXPECT_EQ(extract_final_answer("So the final answer is:\n$$\n\\frac{14}{3}\n$$").text, "\\frac{14}{3}");
  EXPECT_EQ(extract_final_answer("The answer is\n\n\\[\n x = 2 \\text{ or } x = 5.\n\\]\nDone.").text,
            "x = 2 \\text{ or } x = 5");
  // On one line, as before.
  EXPECT_EQ(extract_final_answer("The answer is $$\\frac{14}{3}$$ indeed.").text, "\\frac{14}{3}");
}

TEST(AnswerExtraction, LongMathClosedByItsDelimiterIsStillTheAnswer) {
  // The 80-character limit is for prose; it sent long tuples to the last number.
  const std::string tuple = "(\\frac{1}{2}, \\frac{\\sqrt{3}}{2}, \\frac{1}{3}, \\frac{\\sqrt{5}}{7}, \\frac{11}{13}, \\frac{17}{19})";
  ASSERT_GT(tuple.size(), 80u);
  for (const std::string& wrapped : {"$" + tuple + "$.", "\\(" + tuple + "\\)", "$$" + tuple + "$$"}) {
    const auto a = extract_final_answer("So the answer is " + wrapped);
    EXPECT_EQ(a.rule, ExtractionRule::kAnswerIs) << wrapped;
    EXPECT_EQ(a.text, tuple) << wrapped;
  }
  // Unclosed, the same text is still too long to be told from prose.
  EXPECT_EQ(extract_final_answer("So the answer is $" + tuple).rule, ExtractionRule::kLastNumber);
  // Two currency signs around prose are no math delimiters: the limit holds, and the
  // last number is the answer (as before the delimiter rule).
  const auto paid = extract_final_answer(
      "The answer is $18, because she bought three shirts at six dollars each and nothing else that day, so "
      "she paid $18 in all.");
  EXPECT_EQ(paid.rule, ExtractionRule::kLastNumber);
  EXPECT_EQ(paid.text, "18");
  // Words inside math are commands or \text: still delimited math.
  const std::string worded =
      "x = \\frac{1}{2} \\text{ or } x = \\sin \\theta + \\frac{\\sqrt{3}}{2} \\text{ for every } \\theta > 0";
  ASSERT_GT(worded.size(), 80u);
  EXPECT_EQ(extract_final_answer("The answer is $" + worded + "$").text, worded);
}

TEST(AnswerExtraction, ReadsGsm8kHashes) {
  const auto a = extract_final_answer("She has 3 + 4 = <<3+4=7>>7 apples.\n#### 1,007");
  EXPECT_EQ(a.rule, ExtractionRule::kHashes);
  EXPECT_EQ(a.text, "1,007");
}

TEST(AnswerExtraction, AHashesHeadingIsNoAnswer) {
  // A Markdown heading took over: "#### Final Answer\n42" gave "Final Answer".
  const auto heading = extract_final_answer("#### Final Answer\n42");
  EXPECT_EQ(heading.rule, ExtractionRule::kLastNumber);
  EXPECT_EQ(heading.text, "42");
  const auto verification = extract_final_answer("The answer is 42.\n\n#### Verification\n6*7=42.");
  EXPECT_EQ(verification.rule, ExtractionRule::kAnswerIs);
  EXPECT_EQ(verification.text, "42");
  EXPECT_EQ(extract_final_answer("#### Step 2: Conclude\nSo the answer is 42.").text, "42");
  EXPECT_EQ(extract_final_answer("#### \\textbf{Answer}\n7").text, "7");
  // An earlier "####" with a number still counts; so do math and bold after it.
  const auto earlier = extract_final_answer("#### 18\n\n#### Check\n3 * 6 = 18, and 2 more.");
  EXPECT_EQ(earlier.rule, ExtractionRule::kHashes);
  EXPECT_EQ(earlier.text, "18");
  EXPECT_EQ(extract_final_answer("so\n#### -3.5").text, "-3.5");
  EXPECT_EQ(extract_final_answer("#### **18**").text, "18");
  EXPECT_EQ(extract_final_answer("#### $\\frac{1}{2}$").text, "\\frac{1}{2}");
  EXPECT_EQ(extract_final_answer("####").rule, ExtractionRule::kNone);
}

TEST(AnswerExtraction, ReadsTheAnswerIsSentence) {
  const auto a = extract_final_answer("Thus the answer is $\\frac{3}{4}$. Then we stop at 9.");
  EXPECT_EQ(a.rule, ExtractionRule::kAnswerIs);
  EXPECT_EQ(a.text, "\\frac{3}{4}");
  EXPECT_EQ(extract_final_answer("The final answer is: 3.5.").text, "3.5");
}

TEST(AnswerExtraction, ProseAfterTheAnswerIsFallsThrough) {
  const auto a = extract_final_answer(
      "the answer is obtained in the same way as above, with the roles of the two players exchanged throughout, "
      "giving 12");
  EXPECT_EQ(a.rule, ExtractionRule::kLastNumber);
  EXPECT_EQ(a.text, "12");
}

TEST(AnswerExtraction, FallsBackToTheLastNumber) {
  EXPECT_EQ(extract_final_answer("We get 12 and then -3.25 at the end").text, "-3.25");
  EXPECT_EQ(extract_final_answer("It costs 1,234,567 dollars").text, "1,234,567");
  EXPECT_EQ(extract_final_answer("ratio 3/4").text, "3/4");
}

TEST(AnswerExtraction, NothingToExtract) {
  const auto a = extract_final_answer("no digits here");
  EXPECT_EQ(a.rule, ExtractionRule::kNone);
  EXPECT_EQ(a.text, "");
}

}  // namespace
}  // namespace disa::llm::verify

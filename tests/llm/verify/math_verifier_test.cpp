// verify_math end to end: reward, reason and the fields it reports.
#include "llm/verify/math_verifier.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace disa::llm::verify {
namespace {

TEST(MathVerifier, RewardsABoxedEquivalentAnswer) {
  const auto r = verify_math("So $x = \\boxed{\\dfrac{1}{2}}$.", "0.5");
  EXPECT_EQ(r.reward, 1);
  EXPECT_EQ(r.rule, ExtractionRule::kBoxed);
  EXPECT_EQ(r.extracted, "\\dfrac{1}{2}");
  EXPECT_EQ(r.normalised_response, "\\frac{1}{2}");
  EXPECT_EQ(r.normalised_reference, "0.5");
  EXPECT_NE(r.reason.find("same value 1/2"), std::string::npos) << r.reason;
}

TEST(MathVerifier, GivesZeroWithTheReason) {
  const auto r = verify_math("The answer is 26.", "025");
  EXPECT_EQ(r.reward, 0);
  EXPECT_EQ(r.rule, ExtractionRule::kAnswerIs);
  EXPECT_NE(r.reason.find("values differ: 26 vs 25"), std::string::npos) << r.reason;
}

TEST(MathVerifier, ADecimalReferenceHasATolerance) {
  // Minerva: the reference is a rounded value; within the relative 1e-4 by default.
  const auto r = verify_math("The energy is $\\boxed{9.6003 \\text{ eV}}$.", "9.6");
  EXPECT_EQ(r.reward, 1) << r.reason;
  EXPECT_NE(r.reason.find("within the relative 0.0001"), std::string::npos) << r.reason;
  EquivalenceOptions exact;
  exact.decimal_relative_tolerance = 0;
  EXPECT_EQ(verify_math("$\\boxed{9.6003}$", "9.6", exact).reward, 0);
  EXPECT_EQ(verify_math_multi("$\\boxed{9.6003}$", {"9.6", "9.60"}, false, exact).reward, 0);
  EXPECT_EQ(verify_math_multi("$\\boxed{9.6003}$", {"9.6", "9.60"}, false).reward, 1);
  EXPECT_EQ(verify_math("$\\boxed{10001}$", "10000").reward, 0);  // integers stay exact
}

TEST(MathVerifier, RelationsEndToEnd) {
  EXPECT_EQ(verify_math("So $\\boxed{x\\le 3}$.", "x \\leq 3").reward, 1);
  EXPECT_EQ(verify_math("So $\\boxed{3 \\ge x}$.", "x \\le 3").reward, 1);
  EXPECT_EQ(verify_math("So $\\boxed{x\\le\\text{max}}$.", "x \\le \\text{max}").reward, 1);
  // A negative thin space before "=" is no "!=" (it was read as a row break and "ne").
  EXPECT_EQ(verify_math("So $\\boxed{x\\!=\\!5}$.", "5").reward, 1);
  EXPECT_EQ(verify_math("$\\boxed{y \\!=\\! 2x+1}$", "y=2x+1").reward, 1);
  // An angle bracket before "=", spaced or not, is one text (">=" was \ge only unspaced).
  EXPECT_EQ(verify_math("$\\boxed{\\left< u,v \\right> = 0}$", "\\left< u,v \\right>=0").reward, 1);
  EXPECT_EQ(verify_math("$\\boxed{x < = 3}$", "x\\le 3").reward, 1);
  // Other relations are not products of variables: reversed, they differ.
  EXPECT_EQ(verify_math("$\\boxed{A\\subset B}$", "B\\subset A").reward, 0);
  EXPECT_EQ(verify_math("$\\boxed{a\\mid b}$", "b\\mid a").reward, 0);
  EXPECT_EQ(verify_math("$\\boxed{A\\subset B}$", "A\\subset B").reward, 1);
  // Solution sets: x\ne 3 is the reals without 3, 2x\le 6 is x\le 3, thousands inside "or".
  EXPECT_EQ(verify_math("So $\\boxed{x \\neq 3}$.", "(-\\infty,3) \\cup (3,\\infty)").reward, 1);
  EXPECT_EQ(verify_math("So $\\boxed{x \\neq 3}$.", "(-\\infty,3]\\cup[3,\\infty)").reward, 0);
  EXPECT_EQ(verify_math("So $\\boxed{2x \\leq 6}$.", "x\\le 3").reward, 1);
  EXPECT_EQ(verify_math("So $\\boxed{-x < 3}$.", "x>-3").reward, 1);
  EXPECT_EQ(verify_math("So $\\boxed{-x < 3}$.", "x<-3").reward, 0);
  EXPECT_EQ(verify_math("$\\boxed{x<1,000 \\text{ or } x>2,000}$", "(-\\infty,1000)\\cup(2000,\\infty)").reward, 1);
  const auto r = verify_math("So $\\boxed{x\\le 4}$.", "x \\le 3");
  EXPECT_EQ(r.reward, 0);
  EXPECT_NE(r.reason.find("relation"), std::string::npos) << r.reason;
}

TEST(MathVerifier, NoAnswerFound) {
  const auto r = verify_math("I do not know.", "3");
  EXPECT_EQ(r.reward, 0);
  EXPECT_EQ(r.rule, ExtractionRule::kNone);
  EXPECT_NE(r.reason.find("no final answer"), std::string::npos);
}

TEST(MathVerifier, Gsm8kRationale) {
  EXPECT_EQ(verify_math("5 * 2 = <<5*2=10>>10\n#### 10", "10").reward, 1);
  EXPECT_EQ(verify_math("5 * 2 = <<5*2=10>>10\n#### 11", "10").reward, 0);
}

TEST(MathVerifier, MultipleAnswersNeedAllInAnyOrder) {
  EXPECT_EQ(verify_math_multi("\\boxed{84, 69}", {"$69$", "$84$"}, true).reward, 1);
  EXPECT_EQ(verify_math_multi("\\boxed{69}", {"$69$", "$84$"}, true).reward, 0);
  EXPECT_EQ(verify_math_multi("\\boxed{69, 84, 85}", {"$69$", "$84$"}, true).reward, 0);
}

TEST(MathVerifier, AlternativeSpellingsNeedAnyOne) {
  const auto r = verify_math_multi("\\boxed{41.8}", {"41.8^\\circ\n", "41.8^{\\circ}"}, false);
  EXPECT_EQ(r.reward, 1);
  EXPECT_NE(r.reason.find("alternative 1 of 2"), std::string::npos) << r.reason;
  EXPECT_EQ(verify_math_multi("\\boxed{41.9}", {"41.8^\\circ", "41.8^{\\circ}"}, false).reward, 0);
}

TEST(MathVerifier, AnOverlongAnswerHitsTheLimit) {
  std::string huge = "\\boxed{";
  for (int i = 0; i < 1000; ++i) huge += "\\text{a}";
  huge += "}";
  const auto r = verify_math(huge, "1");
  EXPECT_EQ(r.reward, 0);
  EXPECT_NE(r.reason.find("over the limit of 2000"), std::string::npos) << r.reason;
  EXPECT_EQ(r.rule, ExtractionRule::kBoxed);
}

TEST(MathVerifier, IsDeterministic) {
  const auto a = verify_math("\\boxed{\\frac{x}{2}+1}", "0.5x+1");
  const auto b = verify_math("\\boxed{\\frac{x}{2}+1}", "0.5x+1");
  EXPECT_EQ(a.reward, 1);
  EXPECT_EQ(a.reason, b.reason);
}

// Any text at all (model output is arbitrary): no exception, reward 0 or 1, and the
// same result twice.
RC_GTEST_PROP(MathVerifierProperty, ArbitraryTextNeverThrows, (const std::string& response, const std::string& ref)) {
  const auto a = verify_math(response, ref);
  RC_ASSERT(a.reward == 0 || a.reward == 1);
  RC_ASSERT(verify_math(response, ref).reason == a.reason);
}

RC_GTEST_PROP(MathVerifierProperty, LatexLikeTextNeverThrows, ()) {
  const auto piece = rc::gen::element<std::string>("\\frac", "\\sqrt", "{", "}", "(", ")", "[", "]", "^", "_", "1", "0",
                                                   "-", "+", "/", ",", "x", "\\pi", "\\boxed{", "\\{", "\\}", ".",
                                                   "=", "%", "e", "\\sin", " ", "$", "\\text{", "\\left(");
  const auto pieces = *rc::gen::container<std::vector<std::string>>(piece);
  std::string text;
  for (const auto& p : pieces) text += p;
  const auto r = verify_math("\\boxed{" + text + "}", text);
  RC_ASSERT(r.reward == 0 || r.reward == 1);
}

RC_GTEST_PROP(MathVerifierProperty, IntegersAndFractionsEqualThemselvesOnly, (int p, int q)) {
  RC_PRE(q != 0);
  const std::string frac = "\\frac{" + std::to_string(p) + "}{" + std::to_string(q) + "}";
  RC_ASSERT(verify_math("\\boxed{" + frac + "}", frac).reward == 1);
  RC_ASSERT(verify_math("\\boxed{" + std::to_string(p) + "}", std::to_string(p)).reward == 1);
  RC_ASSERT(verify_math("\\boxed{" + std::to_string(static_cast<long long>(p) + 1) + "}", std::to_string(p)).reward == 0);
  // A fraction one step away is another answer.
  const std::string next = "\\frac{" + std::to_string(static_cast<long long>(p) + 1) + "}{" + std::to_string(q) + "}";
  RC_ASSERT(verify_math("\\boxed{" + next + "}", frac).reward == 0);
}

}  // namespace
}  // namespace disa::llm::verify

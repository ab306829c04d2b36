// The perturbation used to build deliberately wrong answers.
#include "llm/verify/wrong_answer.h"

#include <gtest/gtest.h>

namespace disa::llm::verify {
namespace {

TEST(WrongAnswer, IncrementsTheLastDigitRun) {
  EXPECT_EQ(perturbed_answer("025"), "026");
  EXPECT_EQ(perturbed_answer("\\frac{1}{2}"), "\\frac{1}{3}");
  EXPECT_EQ(perturbed_answer("(1,2)"), "(1,3)");
  EXPECT_EQ(perturbed_answer("199"), "200");
  EXPECT_EQ(perturbed_answer("99"), "100");
  EXPECT_EQ(perturbed_answer("-1"), "-2");
  EXPECT_EQ(perturbed_answer("27.0"), "27.1");
}

TEST(WrongAnswer, AppendsWhenThereIsNoDigit) { EXPECT_EQ(perturbed_answer("\\pi"), "\\pi+1"); }

TEST(WrongAnswer, EachRunOnceInOrder) {
  EXPECT_EQ(perturbed_answers_each_run("(1,29)"), (std::vector<std::string>{"(2,29)", "(1,30)"}));
  EXPECT_EQ(perturbed_answers_each_run("4.4677\\times10^{14}"),
            (std::vector<std::string>{"5.4677\\times10^{14}", "4.4678\\times10^{14}", "4.4677\\times11^{14}",
                                      "4.4677\\times10^{15}"}));
  EXPECT_TRUE(perturbed_answers_each_run("\\pi").empty());
}

}  // namespace
}  // namespace disa::llm::verify

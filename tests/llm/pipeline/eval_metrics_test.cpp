// pass@k against exact binomial coefficients, and the diversity counts on hand-made
// sample sets whose answers are known.
#include "llm/pipeline/eval_metrics.h"

#include <cmath>

#include <gtest/gtest.h>

#include "src/input_error.h"

namespace disa::llm::pipeline {
namespace {

long double choose(int n, int k) {
  if (k < 0 || k > n) return 0;
  long double r = 1;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

TEST(PassAtK, EqualsOneMinusTheBinomialRatioForEveryNcK) {
  for (int n = 1; n <= 40; ++n) {
    for (int c = 0; c <= n; ++c) {
      for (int k = 1; k <= n; ++k) {
        const long double exact = 1.0L - choose(n - c, k) / choose(n, k);
        ASSERT_NEAR(pass_at_k(n, c, k), static_cast<double>(exact), 1e-12) << "n " << n << " c " << c << " k " << k;
      }
    }
  }
}

TEST(PassAtK, StaysFiniteWhereBinomialsOverflowDoubles) {
  // C(2000, 1000) ~ 1e600 overflows a double; the product form does not.
  const double v = pass_at_k(2000, 3, 1000);
  EXPECT_TRUE(std::isfinite(v));
  // 1 - (1000*999*998)/(2000*1999*1998): the chance that all 3 correct fall outside 1000 draws.
  EXPECT_NEAR(v, 1.0 - (1000.0 / 2000) * (999.0 / 1999) * (998.0 / 1998), 1e-12);
}

TEST(PassAtK, RejectsImpossibleCounts) {
  EXPECT_THROW(pass_at_k(4, 5, 1), InputError);
  EXPECT_THROW(pass_at_k(4, 1, 5), InputError);
  EXPECT_THROW(pass_at_k(0, 0, 1), InputError);
}

TEST(PromptMetrics, AKeyTheTaskLacksIsNotAMeasuredZero) {
  // Math verdicts carry no signature or strategy (every correct answer is the reference's
  // value), code none of the latter: their counts are NaN, as is their average.
  const std::vector<SampleOutcome> s = {{1, "", "", "so x = 6"}, {1, "", "", "hence 6"}, {0, "", "", "7"}};
  const PromptMetrics math = prompt_metrics(s, diversity_keys("math500"));
  EXPECT_TRUE(std::isnan(math.distinct_correct));
  EXPECT_TRUE(std::isnan(math.distinct_strategies));
  EXPECT_DOUBLE_EQ(math.mean_reward, 2.0 / 3.0);
  EXPECT_FALSE(std::isnan(math.ngram_dispersion));  // the diversity measure that needs no key
  const MetricsSummary summary = summarise({math, math});
  EXPECT_TRUE(std::isnan(summary.distinct_correct));
  EXPECT_TRUE(std::isnan(summary.distinct_strategies));
  EXPECT_TRUE(std::isnan(summary.share_two_or_more_distinct));
  EXPECT_DOUBLE_EQ(summary.mean_at_k, 2.0 / 3.0);
  const PromptMetrics code = prompt_metrics({{1, "def f(): return 1", "", "def f(): return 1"}}, diversity_keys("humaneval:rl"));
  EXPECT_EQ(code.distinct_correct, 1.0);
  EXPECT_TRUE(std::isnan(code.distinct_strategies));
}

TEST(DiversityKeys, FollowTheTaskSpec) {
  EXPECT_TRUE(diversity_keys("countdown").signature && diversity_keys("countdown").strategy);
  EXPECT_TRUE(diversity_keys("countdown:rl").strategy);
  for (const char* math : {"math500", "gsm8k", "aime24", "olympiadbench:rl"}) {
    EXPECT_FALSE(diversity_keys(math).signature || diversity_keys(math).strategy) << math;
  }
  EXPECT_TRUE(diversity_keys("codeforces").signature);
  EXPECT_FALSE(diversity_keys("codeforces").strategy);
  EXPECT_THROW(diversity_keys("chess"), InputError);
}

TEST(PromptMetrics, CountsDistinctSolutionsAndStrategiesAmongCorrectOnly) {
  const std::vector<SampleOutcome> s = {
      {1, "a", "x", "1+2*3"}, {1, "a", "x", "2*3+1"}, {1, "b", "y", "(1+2)*3"},
      {0, "", "", "1-2"},     {0, "", "", "9"},       {1, "c", "x", "3*2+1"},
  };
  const PromptMetrics m = prompt_metrics(s);
  EXPECT_EQ(m.samples, 6);
  EXPECT_EQ(m.correct, 4);
  EXPECT_DOUBLE_EQ(m.mean_reward, 4.0 / 6.0);
  EXPECT_EQ(m.distinct_correct, 3);     // a, b, c
  EXPECT_EQ(m.distinct_strategies, 2);  // x, y
  EXPECT_EQ(m.pass_at.size(), 4u);      // 1, 2, 4 and k = 6 itself
  EXPECT_DOUBLE_EQ(m.pass_at.at(1), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.pass_at.at(6), 1.0);
}

TEST(NgramDispersion, ZeroForIdenticalTextsOneForDisjointOnes) {
  const std::string a = "we add the two numbers and then divide by three";
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(a), ngram_keys(a)), 0.0);
  const std::string b = "completely different words appear in this other sentence here";
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(a), ngram_keys(b)), 1.0);
  // One shared 4-gram of 3 + 3: Jaccard 1/5.
  EXPECT_NEAR(jaccard_distance(ngram_keys("p q r s t u"), ngram_keys("x p q r s y")), 1.0 - 1.0 / 5.0, 1e-12);
  const PromptMetrics same = prompt_metrics({{1, "s", "", a}, {1, "s", "", a}, {0, "", "", b}});
  EXPECT_DOUBLE_EQ(same.ngram_dispersion, 0.0);
  const PromptMetrics one = prompt_metrics({{1, "s", "", a}, {0, "", "", b}});
  EXPECT_TRUE(std::isnan(one.ngram_dispersion));  // fewer than 2 correct samples
}

TEST(NgramDispersion, WordBoundariesMatter) {
  // "ab c" and "a bc" have the same characters but different words.
  EXPECT_GT(jaccard_distance(ngram_keys("ab c d e"), ngram_keys("a bc d e")), 0.0);
}

TEST(Summarise, AveragesOverPromptsAndDispersionOverDefinedOnes) {
  const PromptMetrics p1 = prompt_metrics({{1, "a", "", "x y"}, {1, "b", "", "x y"}});
  const PromptMetrics p2 = prompt_metrics({{0, "", "", "z"}, {0, "", "", "w"}});
  const MetricsSummary s = summarise({p1, p2});
  EXPECT_EQ(s.prompts, 2);
  EXPECT_DOUBLE_EQ(s.mean_at_k, 0.5);
  EXPECT_DOUBLE_EQ(s.distinct_correct, 1.0);
  EXPECT_DOUBLE_EQ(s.share_two_or_more_distinct, 0.5);
  EXPECT_DOUBLE_EQ(s.ngram_dispersion, 0.0);  // only p1 defines it
  EXPECT_DOUBLE_EQ(s.pass_at.at(2), 0.5);
}

}  // namespace
}  // namespace disa::llm::pipeline

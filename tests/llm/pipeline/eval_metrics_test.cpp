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
  const std::vector<SampleOutcome> s = {{1, "", "", {40, 87, 284, 21}}, {1, "", "", {16085, 220, 21}}, {0, "", "", {22}}};
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
  const PromptMetrics code = prompt_metrics({{1, "def f(): return 1", "", {750, 282, 4555, 470, 220, 16}}},
                                            diversity_keys("humaneval:rl"));
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
      {1, "a", "x", {1, 10, 2, 12, 3}}, {1, "a", "x", {2, 12, 3, 10, 1}}, {1, "b", "y", {14, 1, 10, 2, 15, 12, 3}},
      {0, "", "", {1, 11, 2}},         {0, "", "", {9}},                {1, "c", "x", {3, 12, 2, 10, 1}},
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

using Ids = std::vector<std::int32_t>;

TEST(NgramDispersion, ZeroForIdenticalTextsOneForDisjointOnes) {
  const Ids a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(a), ngram_keys(a)), 0.0);
  const Ids b = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(a), ngram_keys(b)), 1.0);
  // One shared 4-gram of 3 + 3: Jaccard 1/5.
  EXPECT_NEAR(jaccard_distance(ngram_keys(Ids{1, 2, 3, 4, 5, 6}), ngram_keys(Ids{9, 1, 2, 3, 4, 7})), 1.0 - 1.0 / 5.0,
              1e-12);
  const PromptMetrics same = prompt_metrics({{1, "s", "", a}, {1, "s", "", a}, {0, "", "", b}});
  EXPECT_DOUBLE_EQ(same.ngram_dispersion, 0.0);
  const PromptMetrics one = prompt_metrics({{1, "s", "", a}, {0, "", "", b}});
  EXPECT_TRUE(std::isnan(one.ngram_dispersion));  // fewer than 2 correct samples
}

TEST(NgramDispersion, OneUnitForEveryResponse) {
  // The unit is the token id, whatever the text looks like: a Countdown expression (no
  // spaces) and a sentence are cut the same way, so two responses sharing a 4-token
  // stretch share a gram. (Before, a text without spaces was cut into characters and one
  // with spaces into words, so "answer is 6" and "the answer is 6" shared nothing.)
  EXPECT_NEAR(jaccard_distance(ngram_keys(Ids{1820, 4226, 374, 220, 21}), ngram_keys(Ids{4226, 374, 220, 21})),
              1.0 - 1.0 / 2.0, 1e-12);
  // Ids are units, not byte strings: 256 then 0 is not 0 then 1.
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(Ids{256, 0}), ngram_keys(Ids{0, 1})), 1.0);
  // Shorter than 4: one gram of what it has, equal only to the same response.
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(Ids{5, 6}), ngram_keys(Ids{5, 6})), 0.0);
  EXPECT_DOUBLE_EQ(jaccard_distance(ngram_keys(Ids{5, 6, 7}), ngram_keys(Ids{5, 6, 7, 8})), 1.0);
  EXPECT_TRUE(ngram_keys(Ids{}).empty());
  EXPECT_THROW(ngram_keys(Ids{1, 2}, 0), InputError);
}

TEST(Summarise, AveragesOverPromptsAndDispersionOverDefinedOnes) {
  const PromptMetrics p1 = prompt_metrics({{1, "a", "", {7, 8}}, {1, "b", "", {7, 8}}});
  const PromptMetrics p2 = prompt_metrics({{0, "", "", {9}}, {0, "", "", {3}}});
  const MetricsSummary s = summarise({p1, p2});
  EXPECT_EQ(s.prompts, 2);
  EXPECT_DOUBLE_EQ(s.mean_at_k, 0.5);
  EXPECT_DOUBLE_EQ(s.distinct_correct, 1.0);
  EXPECT_DOUBLE_EQ(s.share_two_or_more_distinct, 0.5);
  EXPECT_DOUBLE_EQ(s.ngram_dispersion, 0.0);  // only p1 defines it
  EXPECT_DOUBLE_EQ(s.pass_at.at(2), 0.5);
}

TEST(Summarise, NoPromptsIsNotAMeasuredZero) {
  const MetricsSummary s = summarise({});
  EXPECT_EQ(s.prompts, 0);
  EXPECT_TRUE(s.pass_at.empty());
  for (const double v : {s.mean_at_k, s.distinct_correct, s.distinct_strategies, s.ngram_dispersion,
                         s.share_two_or_more_distinct}) {
    EXPECT_TRUE(std::isnan(v));
  }
}

TEST(Summarise, RefusesPromptsWithDifferentSampleCounts) {
  // pass@3 of 1-of-3 and 2-of-4 correct would be averaged as if both had k samples.
  const PromptMetrics three = prompt_metrics({{1, "a", "", {1}}, {0, "", "", {2}}, {0, "", "", {3}}});
  const PromptMetrics four = prompt_metrics({{1, "a", "", {1}}, {1, "b", "", {2}}, {0, "", "", {3}}, {0, "", "", {4}}});
  try {
    summarise({three, four});
    ADD_FAILURE() << "accepted 3 and 4 samples";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("prompt 1 has 4 samples, prompt 0 has 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace disa::llm::pipeline

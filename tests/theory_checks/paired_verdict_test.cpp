// Tests check_12's verdict logic (theory_checks/training_checks.h): the one-sided sign test,
// Holm's step-down adjustment and the BETTER verdict, which reads the adjusted p. With 9
// comparisons each called BETTER at raw p <= 0.05, the chance of at least one false BETTER
// with no real difference was ~0.28; the family-wise rate is now <= 0.05.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "theory_checks/training_checks.h"

namespace disa::theory {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(SignTest, ExactBinomialTail) {
  EXPECT_NEAR(sign_test_p(8, 0), 1.0 / 256, 1e-15);
  EXPECT_NEAR(sign_test_p(7, 1), 9.0 / 256, 1e-15);
  EXPECT_NEAR(sign_test_p(5, 3), 93.0 / 256, 1e-14);
  EXPECT_NEAR(sign_test_p(4, 4), 163.0 / 256, 1e-14);
  EXPECT_DOUBLE_EQ(sign_test_p(0, 8), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_p(0, 0), 1.0);  // no paired seed decided: no evidence
}

// A textbook case, with the step-down max: sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005 = 0.02,
// 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(1 x 0.04, 0.06) = 0.06; capped at 1.
TEST(HolmAdjust, KnownValues) {
  const std::vector<double> adjusted = holm_adjust({0.01, 0.04, 0.03, 0.005});
  const std::vector<double> expected = {0.03, 0.06, 0.06, 0.02};
  ASSERT_EQ(adjusted.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(adjusted[i], expected[i], 1e-15) << i;
  EXPECT_DOUBLE_EQ(holm_adjust({0.5, 0.4})[0], 0.8);
  EXPECT_DOUBLE_EQ(holm_adjust({0.5, 0.4})[1], 0.8);  // 2 x 0.4, then max(0.5, 0.8)
  EXPECT_DOUBLE_EQ(holm_adjust({0.9, 0.6})[0], 1.0);
  EXPECT_TRUE(holm_adjust({}).empty());
  EXPECT_DOUBLE_EQ(holm_adjust({0.03})[0], 0.03);  // a family of one: unadjusted
}

// check_12's family in a full run (8 seeds; sign tests in the order of its arms): disa-online
// Adam paced tau 0.5 (8-0) and 0.3 (0-8), disa-online SGD tau 0.5 (8-0) and 0.3 (0-8), grpo
// tau 0.5 (4-4) and 0.3 (8-0), replay on paced (5-3), uniform-priority replay on paced (5-3),
// replay on uniform selection (7-1). Holm: the three 8-0 arms 9/256 = 0.035; the 7-1 arm
// max(6 x 9/256, 9/256) = 54/256 = 0.21, no longer BETTER (raw 9/256 = 0.035 was); the rest 1.
TEST(BetterVerdict, ReadsTheHolmAdjustedP) {
  const std::vector<std::pair<int, int>> tests = {{8, 0}, {0, 8}, {8, 0}, {0, 8}, {4, 4},
                                                  {8, 0}, {5, 3}, {5, 3}, {7, 1}};
  const std::vector<double> ratio = {0.743, 1.52, 0.873, 1.56, 0.986, 0.779, 0.983, 0.987, 0.93};
  std::vector<double> raw;
  for (const auto& [w, l] : tests) raw.push_back(sign_test_p(w, l));
  const std::vector<double> adjusted = holm_adjust(raw);
  const std::vector<double> expected = {9.0 / 256, 1, 9.0 / 256, 1, 1, 9.0 / 256, 1, 1, 54.0 / 256};
  const std::vector<std::string> verdict = {"BETTER",
                                            "NOT better",
                                            "BETTER",
                                            "NOT better",
                                            "NOT DISTINGUISHABLE",
                                            "BETTER",
                                            "NOT DISTINGUISHABLE",
                                            "NOT DISTINGUISHABLE",
                                            "NOT DISTINGUISHABLE"};
  for (std::size_t i = 0; i < tests.size(); ++i) {
    EXPECT_NEAR(adjusted[i], expected[i], 1e-14) << i;
    const std::string v =
        better_verdict(ratio[i], tests[i].first, tests[i].second, raw[i], adjusted[i], tests.size(), 0.05);
    EXPECT_TRUE(starts_with(v, verdict[i] + " (")) << i << ": " << v;
  }
  // The raw p alone would have called the 7-1 arm BETTER.
  EXPECT_LE(raw[8], 0.05);
  // The verdict text carries both p-values.
  const std::string v = better_verdict(ratio[8], 7, 1, raw[8], adjusted[8], tests.size(), 0.05);
  EXPECT_NE(v.find("one-sided p = 0.0352"), std::string::npos) << v;
  EXPECT_NE(v.find("Holm-adjusted over 9 comparisons 0.211"), std::string::npos) << v;
  // A ratio of means >= 1 (or NaN: an arm that never reached the target) is never BETTER.
  EXPECT_TRUE(starts_with(better_verdict(1.0, 8, 0, 1.0 / 256, 0.001, 1, 0.05), "NOT better"));
  EXPECT_TRUE(starts_with(better_verdict(std::nan(""), 0, 8, 1, 1, 9, 0.05), "NOT better"));
}

}  // namespace
}  // namespace disa::theory

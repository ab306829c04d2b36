// Tests src/log_sum_exp.h: log_sum_exp, log_add_exp and LogSumExpAccumulator.
//
// Against: the naive formula log(sum exp(x)) where it cannot overflow or
// underflow (RapidCheck inputs in [-50, 50]); hand-derived values where it does
// (lse(1000, 1000) = 1000 + log 2, ...); and the documented edge cases (empty or
// all -inf -> -inf, any +inf -> +inf, any NaN -> NaN).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/log_sum_exp.h"

namespace disa {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double naive_log_sum_exp(const std::vector<double>& x) {
  double s = 0.0;
  for (double v : x) s += std::exp(v);
  return std::log(s);
}

double accumulate(const std::vector<double>& x) {
  LogSumExpAccumulator acc;
  for (double v : x) acc.add(v);
  return acc.value();
}

// Both the naive and the stable formula round each exp (relative eps), the sum
// (n eps relative), and the log and the shift (a few eps of |result|); with
// |x| <= 50 nothing overflows, so they agree within (n + 4) eps (1 + |result|).
double agreement_tolerance(std::size_t n, double result) {
  return (static_cast<double>(n) + 4.0) * kEps * (1.0 + std::fabs(result));
}

rc::Gen<std::vector<double>> gen_safe_values() {
  return rc::gen::mapcat(rc::gen::inRange(1, 21), [](int n) {
    return rc::gen::container<std::vector<double>>(
        static_cast<std::size_t>(n),
        rc::gen::map(rc::gen::inRange(-50000, 50001), [](int k) { return k * 1e-3; }));
  });
}

RC_GTEST_PROP(LogSumExp, MatchesNaiveFormulaWhereSafe, ()) {
  const std::vector<double> x = *gen_safe_values();
  const double naive = naive_log_sum_exp(x);
  RC_ASSERT(std::fabs(log_sum_exp(x) - naive) <= agreement_tolerance(x.size(), naive));
  RC_ASSERT(std::fabs(accumulate(x) - naive) <= agreement_tolerance(x.size(), naive));
}

RC_GTEST_PROP(LogSumExp, LogAddExpMatchesNaiveFormulaWhereSafe, ()) {
  const double a = *rc::gen::inRange(-50000, 50001) * 1e-3;
  const double b = *rc::gen::inRange(-50000, 50001) * 1e-3;
  const double naive = std::log(std::exp(a) + std::exp(b));
  RC_ASSERT(std::fabs(log_add_exp(a, b) - naive) <= agreement_tolerance(2, naive));
  RC_ASSERT(log_add_exp(a, b) == log_add_exp(b, a));  // symmetric by construction
}

// The accumulator's result must not depend on the order of its inputs (beyond
// round-off): it rescales whenever a new maximum arrives.
RC_GTEST_PROP(LogSumExp, AccumulatorIsOrderIndependent, ()) {
  std::vector<double> x = *gen_safe_values();
  const double forward = accumulate(x);
  std::sort(x.begin(), x.end());  // increasing: rescales at every step
  const double increasing = accumulate(x);
  std::reverse(x.begin(), x.end());  // decreasing: never rescales
  const double decreasing = accumulate(x);
  RC_ASSERT(std::fabs(forward - increasing) <= agreement_tolerance(x.size(), forward));
  RC_ASSERT(std::fabs(forward - decreasing) <= agreement_tolerance(x.size(), forward));
}

// Hand values where the naive formula overflows (e^710 > DBL_MAX) or underflows
// (e^-1000 = 0). Tolerance: 4 ulps of the result (the shift m, one log1p/log and
// one exp of a number in (0, 1], each rounded once).
TEST(LogSumExp, HandValuesWhereNaiveFormulaFails) {
  const auto ulps4 = [](double v) { return 4.0 * kEps * std::fabs(v); };
  struct Case {
    std::vector<double> x;
    double expected;
  };
  const std::vector<Case> cases = {
      {{1000.0, 0.0}, 1000.0 + std::log1p(std::exp(-1000.0))},  // = 1000: e^-1000 underflows to 0
      {{1000.0, 1000.0}, 1000.0 + std::log(2.0)},
      {{1000.0, 999.0}, 1000.0 + std::log1p(std::exp(-1.0))},
      {{710.0, 710.0, 710.0}, 710.0 + std::log(3.0)},
      {{-1000.0, -1000.0}, -1000.0 + std::log(2.0)},
      {{-1000.0, -1001.0}, -1000.0 + std::log1p(std::exp(-1.0))},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(std::isinf(naive_log_sum_exp(c.x)));  // the naive formula fails here
    EXPECT_NEAR(log_sum_exp(c.x), c.expected, ulps4(c.expected)) << c.x[0] << ", " << c.x[1];
    EXPECT_NEAR(accumulate(c.x), c.expected, ulps4(c.expected)) << c.x[0] << ", " << c.x[1];
    if (c.x.size() == 2) {
      EXPECT_NEAR(log_add_exp(c.x[0], c.x[1]), c.expected, ulps4(c.expected));
    }
  }
  EXPECT_EQ(log_sum_exp(std::vector<double>{1000.0, 0.0}), 1000.0);
}

TEST(LogSumExp, EdgeCases) {
  const std::vector<double> empty;
  EXPECT_EQ(log_sum_exp(empty), kNegInf);
  EXPECT_EQ(accumulate(empty), kNegInf);
  const std::vector<double> all_neg_inf = {kNegInf, kNegInf};
  EXPECT_EQ(log_sum_exp(all_neg_inf), kNegInf);
  EXPECT_EQ(accumulate(all_neg_inf), kNegInf);
  // -inf terms add nothing: the result is the other term, exactly.
  EXPECT_EQ(log_sum_exp(std::vector<double>{kNegInf, 3.0, kNegInf}), 3.0);
  EXPECT_EQ(accumulate({kNegInf, 3.0, kNegInf}), 3.0);
  for (const std::vector<double>& x : std::vector<std::vector<double>>{
           {kPosInf, 0.0}, {0.0, kPosInf}, {kNegInf, kPosInf}, {kPosInf, kPosInf}}) {
    EXPECT_EQ(log_sum_exp(x), kPosInf);
    EXPECT_EQ(accumulate(x), kPosInf);
  }
  for (const std::vector<double>& x : std::vector<std::vector<double>>{
           {kNaN}, {kNaN, 1.0}, {1.0, kNaN}, {kPosInf, kNaN}, {kNaN, kPosInf}, {kNegInf, kNaN}}) {
    EXPECT_TRUE(std::isnan(log_sum_exp(x)));
    EXPECT_TRUE(std::isnan(accumulate(x)));
  }
  EXPECT_EQ(log_add_exp(kNegInf, kNegInf), kNegInf);
  EXPECT_EQ(log_add_exp(kNegInf, -2.5), -2.5);
  EXPECT_EQ(log_add_exp(7.0, kNegInf), 7.0);
  EXPECT_EQ(log_add_exp(kPosInf, kNegInf), kPosInf);
  EXPECT_EQ(log_add_exp(kPosInf, kPosInf), kPosInf);
  EXPECT_EQ(log_add_exp(1.0, kPosInf), kPosInf);
  EXPECT_TRUE(std::isnan(log_add_exp(kNaN, 0.0)));
  EXPECT_TRUE(std::isnan(log_add_exp(kPosInf, kNaN)));
  EXPECT_TRUE(std::isnan(log_add_exp(kNegInf, kNaN)));
}

// One million equal terms: log(10^6 e^x) = x + log(10^6). The accumulator adds
// 1.0 a million times (exact in double up to 2^53), so only the final log and
// shift round: 4 ulps.
TEST(LogSumExp, ManyEqualTerms) {
  const std::vector<double> x(1000000, -3.0);
  const double expected = -3.0 + std::log(1e6);
  EXPECT_NEAR(log_sum_exp(x), expected, 4.0 * kEps * std::fabs(expected));
  EXPECT_NEAR(accumulate(x), expected, 4.0 * kEps * std::fabs(expected));
}

}  // namespace
}  // namespace disa

// The exact laws of log Zhat_N (theory_checks/replicates.h) that check_03, check_04 and
// check_07 judge sampled rows against, and whose moments give those rows' standard
// errors: for q = pi_ref on binary rewards the binomial law over K correct draws must
// equal the enumeration over all leaves (N = 1) and all pairs of leaves (N = 2), every
// moment. Two independent derivations of the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "theory_checks/replicates.h"

namespace disa::theory {
namespace {

void expect_same_law(const ExactLaw& binomial, const ExactLaw& enumerated, const char* what) {
  SCOPED_TRACE(what);
  const auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-12 + 1e-9 * std::fabs(b); };
  EXPECT_PRED2(near, binomial.bias, enumerated.bias);
  EXPECT_PRED2(near, binomial.var_log, enumerated.var_log);
  EXPECT_PRED2(near, binomial.ess_fraction, enumerated.ess_fraction);
  EXPECT_PRED2(near, binomial.mu4_log, enumerated.mu4_log);
  EXPECT_PRED2(near, binomial.var_controlled, enumerated.var_controlled);
  EXPECT_PRED2(near, binomial.var_ess_fraction, enumerated.var_ess_fraction);
}

TEST(ExactLaw, BinomialLawEqualsLeafEnumerationAtNOneAndTwo) {
  for (const double beta : {1.0, 4.0, 8.0}) {
    const Case binary = make_case(standard_tree("strategies"), beta, "reference");
    ASSERT_TRUE(binary.binary_reference);
    Case enumerated = binary;
    enumerated.binary_reference = false;  // exact_law then enumerates leaves / pairs
    for (const std::int64_t n : {1, 2}) {
      const std::optional<ExactLaw> a = exact_law(binary, n), b = exact_law(enumerated, n);
      ASSERT_TRUE(a && b);
      expect_same_law(*a, *b, n == 1 ? "N = 1" : "N = 2");
      // A distribution's fourth central moment is at least its variance squared.
      EXPECT_GE(a->mu4_log, a->var_log * a->var_log * (1 - 1e-12));
      // N = 1: E[log Zhat] - log Z = -KL(q || p*).
      if (n == 1) EXPECT_NEAR(a->bias, -binary.kl_q_target, 1e-12);
    }
  }
}

TEST(ExactLaw, HeavyTailedCaseHasTheKurtosisThatMotivatesExactErrors) {
  // strategies at beta 8, q = pi_ref (accuracy 0.1): few correct draws dominate log Zhat.
  // Its law's kurtosis is far above a normal's 3, so a sample fourth moment from M draws
  // usually misses the tail: the reason log_space_rows uses these moments.
  const Case c = make_case(standard_tree("strategies"), 8.0, "reference");
  const std::optional<ExactLaw> law = exact_law(c, 64);
  ASSERT_TRUE(law);
  EXPECT_GT(law->mu4_log / (law->var_log * law->var_log), 10.0);
  // The control variate shrinks the spread of the bias statistic.
  EXPECT_LT(law->var_controlled, law->var_log);
}

}  // namespace
}  // namespace disa::theory

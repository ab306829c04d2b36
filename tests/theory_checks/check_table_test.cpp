// The verdict rule for sample variances (theory_checks/check_table.h): on Wilson-Hilferty's
// cube-root scale, |z| > 4 must have the normal tail's probability under a chi-square law,
// which the raw scale (s^2 - exact) / se misses by a wide margin at the replicate counts
// the checks use. Quantiles from Boost.Math's chi-square distribution.
#include <gtest/gtest.h>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <limits>

#include "theory_checks/check_table.h"

namespace disa::theory {
namespace {

TEST(CheckTable, WilsonHilfertyZHasTheNormalTailOfAChiSquareVariance) {
  const boost::math::normal standard;
  const double tail = boost::math::cdf(boost::math::complement(standard, 4.0));  // 3.17e-5
  for (const double nu : {10.0, 63.0, 511.0, 4095.0}) {
    SCOPED_TRACE(nu);
    const boost::math::chi_squared chi2(nu);
    const double exact = 0.37;  // any scale
    const double se = exact * std::sqrt(2.0 / nu);
    EXPECT_NEAR(satterthwaite_dof(exact, se), nu, 1e-9 * nu);
    const double high = exact * boost::math::quantile(boost::math::complement(chi2, tail)) / nu;
    const double low = exact * boost::math::quantile(chi2, tail) / nu;
    // At the chi-square's own 3.17e-5 quantiles the cube-root z is +-4 (at nu = 10 the
    // lower one is -3.80: conservative, the lower tail beyond z = -4 holds less than 3.2e-5) ...
    EXPECT_NEAR(wilson_hilferty_z(high, exact, nu), 4.0, 0.1);
    const double z_low = wilson_hilferty_z(low, exact, nu);
    EXPECT_NEAR(z_low, -4.0, nu >= 63 ? 0.1 : 0.25);
    EXPECT_GE(z_low, -4.1);  // never anti-conservative beyond the tolerance
    // ... where the raw scale says more than 4 above and less than 4 below (the skew).
    EXPECT_GT((high - exact) / se, 4.0);
    EXPECT_GT((low - exact) / se, -4.0);
  }
}

TEST(CheckTable, JudgeUsesTheCubeRootScaleForVarianceRows) {
  Row r;
  r.kind = RowKind::kExact;
  r.exact = 1.0;
  r.se = std::sqrt(2.0 / 63.0);  // nu = 63 (M = 64 normal replicates)
  r.measured = 1.0 + 4.1 * r.se;  // raw z 4.1: a FAIL on the raw scale
  judge(r);
  EXPECT_FALSE(r.pass);
  r.variance_dof = satterthwaite_dof(r.exact, r.se);
  judge(r);
  EXPECT_TRUE(r.pass) << r.z;  // below chi2_63's 3.2e-5 upper quantile
  EXPECT_LT(r.z, 4.0);
  r.measured = 1.0 - 3.9 * r.se;  // raw z -3.9 passes there, but is beyond the lower quantile
  judge(r);
  EXPECT_FALSE(r.pass) << r.z;
}

TEST(CheckTable, JudgeUsesTheLawsSaddlepointZForAMeanRow) {
  // check_03's beta-8 bias row at seed 123 (--quick): a normal z of -4.64, a FAIL, from a
  // law whose lower tail is long; under that law the same mean is at z = -3.49.
  Row r;
  r.kind = RowKind::kExact;
  r.exact = 0.0;
  r.se = 1.0;
  r.measured = -4.64;
  judge(r);
  EXPECT_FALSE(r.pass);
  r.law_z = -3.49;
  judge(r);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.z, -3.49);
  r.law_z = -std::numeric_limits<double>::infinity();  // a mean the law cannot produce
  judge(r);
  EXPECT_FALSE(r.pass);
}

// A first-order variance row tested under the null (se from the prediction, nu = R - 1):
// the verdict is two-sided on the cube-root scale. An se from the measured variance (what
// check_14 did) never flags an overestimate: the second half shows why.
TEST(CheckTable, PredictionVarianceRowUnderTheNullFlagsBothWays) {
  const double nu = 15.0;  // R = 16 replicates
  Row r;
  r.kind = RowKind::kPrediction;
  r.predicted = 0.1;
  r.se = r.predicted * std::sqrt(2.0 / nu);
  r.variance_dof = nu;
  for (const double ratio : {0.1, 4.0}) {
    r.measured = ratio * r.predicted;
    judge(r);
    EXPECT_TRUE(r.finding) << ratio << ": " << r.verdict;
    EXPECT_FALSE(r.counted);
  }
  for (const double ratio : {0.3, 0.5, 2.0}) {  // inside [0.124, 3.19]: too little data to tell
    r.measured = ratio * r.predicted;
    judge(r);
    EXPECT_FALSE(r.finding) << ratio << ": " << r.verdict;
    EXPECT_NEAR(r.z, wilson_hilferty_z(r.measured, r.predicted, nu), 1e-12);
  }
  Row old;
  old.kind = RowKind::kPrediction;
  old.predicted = 0.1;
  old.measured = 1000.0 * old.predicted;
  old.se = old.measured * std::sqrt(2.0 / nu);
  judge(old);
  EXPECT_FALSE(old.finding) << old.verdict;  // the measured-variance se hides a 1000x overestimate
}

// Sanity rows: judged, not counted in the PASS tally, but a failure still fails the check.
TEST(CheckTable, SanityRowsAreNotCountedButFailTheRun) {
  CheckResult result;
  Row exact;
  exact.kind = RowKind::kIdentity;
  exact.exact = 1.0;
  exact.measured = 1.0;
  Row sanity = exact;
  sanity.sanity = true;
  for (Row* r : {&exact, &sanity}) judge(*r);
  EXPECT_TRUE(exact.counted);
  EXPECT_FALSE(sanity.counted);
  EXPECT_TRUE(sanity.pass);
  result.rows = {exact, sanity};
  EXPECT_EQ(result.exact_rows(), 1);
  EXPECT_EQ(result.sanity_rows(), 1);
  EXPECT_TRUE(result.ok());
  EXPECT_NE(result.overall_line().find("1/1 PASS (+1 sanity rows, not counted: all hold)"), std::string::npos)
      << result.overall_line();
  result.rows[1].measured = 2.0;
  judge(result.rows[1]);
  EXPECT_FALSE(result.rows[1].pass);
  EXPECT_EQ(result.passed(), result.exact_rows());
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.overall_line().find("1 SANITY FAIL (a bug: row 2)"), std::string::npos) << result.overall_line();
}

}  // namespace
}  // namespace disa::theory

// CPU checks of kernel 3's shared math (kernels/log_z_hat_math.h) and reference
// (kernels/log_z_hat_ref.cpp): the online state, added one by one and merged from
// strided parts as the block merges them, against disa::estimate_log_partition and
// against long-double brute force; the edge-case statuses and their InputErrors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/log_z_hat.h"
#include "src/input_error.h"
#include "src/is_estimator.h"

namespace {

using disa::kernels::LogZState;
constexpr double kInf = std::numeric_limits<double>::infinity();

LogZState strided(const std::vector<double>& x, std::size_t parts) {
  std::vector<LogZState> st(parts);
  for (std::size_t i = 0; i < x.size(); ++i) st[i % parts].add(x[i]);
  LogZState r;
  for (const auto& s : st) r.merge(s);
  return r;
}

TEST(LogZStateMath, MatchesEstimatorAndLongDouble) {
  std::mt19937_64 rng(11);
  disa::IsOptions options;
  options.psis = false;
  for (std::size_t n : {1, 2, 3, 31, 256, 257, 5000}) {
    for (double scale : {0.1, 5.0, 200.0}) {
      std::normal_distribution<double> normal(-50.0, scale);
      std::vector<double> x(n);
      for (double& v : x) v = normal(rng);
      if (n > 3) x[1] = -kInf;  // a zero weight
      const disa::IsEstimate e = disa::estimate_log_partition(x, options);
      long double m = -INFINITY, s1 = 0, s2 = 0;
      for (double v : x) m = std::max<long double>(m, v);
      for (double v : x) {
        const long double w = std::exp(static_cast<long double>(v) - m);
        s1 += w;
        s2 += w * w;
      }
      const double log_z = double(m + std::log(s1) - std::log(static_cast<long double>(n)));
      const double ess = double(s1 * s1 / s2);
      for (std::size_t parts : {1, 7, 256}) {
        const LogZState st = strided(x, parts);
        ASSERT_EQ(st.status(), disa::kernels::kLogZOk);
        EXPECT_NEAR(st.log_z_hat(), e.log_z_hat, 1e-12 * (1 + std::fabs(e.log_z_hat))) << n << " " << parts;
        EXPECT_NEAR(st.log_z_hat(), log_z, 1e-12 * (1 + std::fabs(log_z)));
        EXPECT_NEAR(st.ess(), e.ess, 1e-12 * e.ess);
        EXPECT_NEAR(st.ess(), ess, 1e-12 * ess);
        EXPECT_NEAR(st.max_weight(), e.max_weight, 1e-12 * e.max_weight);
      }
    }
  }
}

TEST(LogZStateMath, EdgeCases) {
  EXPECT_EQ(LogZState{}.status(), disa::kernels::kLogZEmpty);
  const LogZState zero = strided({-kInf, -kInf}, 2);
  EXPECT_EQ(zero.status(), disa::kernels::kLogZOk);
  EXPECT_EQ(zero.log_z_hat(), -kInf);
  EXPECT_TRUE(std::isnan(zero.ess()));
  EXPECT_EQ(strided({1.0, std::nan(""), kInf}, 2).status(), disa::kernels::kLogZNan);
  EXPECT_EQ(strided({1.0, kInf}, 2).status(), disa::kernels::kLogZPosInf);
  // An empty part merged in changes nothing.
  const LogZState a = strided({0.5, 1.5}, 1);
  LogZState b = a;
  b.merge(LogZState{});
  EXPECT_EQ(b.log_z_hat(), a.log_z_hat());
  EXPECT_EQ(b.ess(), a.ess());
}

TEST(LogZHatReference, StatusesAndValuesMatchTheEstimator) {
  const std::vector<double> x = {0.0, 1.0, 2.0, /*empty*/ -kInf, -kInf, /*nan*/ 1.0, std::nan(""),
                                 /*+inf*/ kInf, 3.0};
  const std::vector<std::int64_t> offset = {0, 3, 3, 5, 7, 9};
  const std::int64_t S = 5;
  std::vector<double> lz(S), ess(S), mw(S);
  std::vector<int> st(S);
  disa::kernels::log_z_hat_ref(x.data(), offset.data(), S, lz.data(), ess.data(), mw.data(), st.data());
  EXPECT_EQ(st, (std::vector<int>{disa::kernels::kLogZOk, disa::kernels::kLogZEmpty, disa::kernels::kLogZOk,
                                  disa::kernels::kLogZNan, disa::kernels::kLogZPosInf}));
  EXPECT_NEAR(lz[0], std::log((1 + std::exp(1.0) + std::exp(2.0)) / 3), 1e-15);
  EXPECT_EQ(lz[2], -kInf);
  EXPECT_TRUE(std::isnan(ess[2]));
  try {
    disa::kernels::throw_on_bad_status(st.data(), S);
    FAIL() << "no InputError";
  } catch (const disa::InputError& e) {
    EXPECT_STREQ(e.what(), "log_w segment 1: no samples (N = 0)");
  }
  const std::vector<int> ok = {0, 0};
  EXPECT_NO_THROW(disa::kernels::throw_on_bad_status(ok.data(), 2));
}

}  // namespace

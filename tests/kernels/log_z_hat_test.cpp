// Checker of kernel 3 (kernels/log_z_hat.h) on a GPU: log Zhat, ESS and max weight per
// segment against the CPU reference (disa::estimate_log_partition per segment), on
// seeded log-weights with awkward segments: empty, one sample, lengths around the block
// (255, 256, 257), 10^5 samples, all -inf, a NaN, a +inf, a huge dynamic range.
// Tolerance abs 1e-12 + rel 1e-12 (double). Without a GPU every case is SKIPPED.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/log_z_hat.h"
#include "tests/kernels/gpu_skip.h"
#include "tests/kernels/loss_check.h"

namespace {

using disa::kernels_test::compare_values;
using disa::kernels_test::Tolerance;

TEST(LogZHatGpu, MatchesEstimatorOnAwkwardSegments) {
  DISA_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(20261205);
  std::normal_distribution<double> normal(-30.0, 40.0);
  std::vector<double> x;
  std::vector<std::int64_t> offset = {0};
  for (std::int64_t len : {0, 1, 2, 31, 32, 33, 255, 256, 257, 1000, 4097, 100000}) {
    for (std::int64_t i = 0; i < len; ++i) x.push_back(normal(rng));
    offset.push_back(std::int64_t(x.size()));
  }
  for (const std::vector<double>& seg : std::vector<std::vector<double>>{
           {-INFINITY, -INFINITY}, {1.0, NAN, 2.0}, {1.0, INFINITY}, {-INFINITY, 3.0, 700.0, -700.0}}) {
    x.insert(x.end(), seg.begin(), seg.end());
    offset.push_back(std::int64_t(x.size()));
  }
  const std::int64_t S = std::int64_t(offset.size()) - 1;
  std::vector<double> lz(S), ess(S), mw(S);
  std::vector<int> status(S);
  disa::kernels::log_z_hat_ref(x.data(), offset.data(), S, lz.data(), ess.data(), mw.data(), status.data());

  DeviceArray<double> d_x(x), d_lz(S), d_ess(S), d_mw(S);
  DeviceArray<std::int64_t> d_offset(offset);
  DeviceArray<int> d_status(S);
  ASSERT_EQ(disa::kernels::log_z_hat_cuda(d_x.get(), d_offset.get(), S, d_lz.get(), d_ess.get(), d_mw.get(),
                                          d_status.get()),
            cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(d_status.host(), status);
  const Tolerance tol{1e-12, 1e-12};
  EXPECT_EQ(compare_values("log_z_hat", d_lz.host(), lz, tol), 0);
  EXPECT_EQ(compare_values("ess", d_ess.host(), ess, tol), 0);
  EXPECT_EQ(compare_values("max_weight", d_mw.host(), mw, tol), 0);
}

}  // namespace

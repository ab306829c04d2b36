// Checker of kernel 3 (kernels/log_z_hat.h) on a GPU and on the CPU device (the kernel's
// own source; tests/kernels/devices.h): log Zhat, ESS and max weight per
// segment against the CPU reference (disa::estimate_log_partition per segment), on
// seeded log-weights with awkward segments: empty, one sample, lengths around the block
// (255, 256, 257), 10^5 samples, all -inf, a NaN, a +inf, a huge dynamic range.
// Tolerance abs 1e-12 + rel 1e-12 (double). Without a GPU the GPU case is SKIPPED; the
// CPU-device case always runs, in three thread orders.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/log_z_hat.h"
#include "tests/kernels/devices.h"
#include "tests/kernels/loss_check.h"

namespace {

using disa::kernels_test::compare_values;
using disa::kernels_test::CpuDeviceRun;
using disa::kernels_test::GpuDevice;
using disa::kernels_test::Tolerance;

void launch(const GpuDevice&, const double* log_w, const std::int64_t* offset, std::int64_t S, double* lz,
            double* ess, double* mw, int* status) {
  ASSERT_EQ(disa::kernels::log_z_hat_cuda(log_w, offset, S, lz, ess, mw, status), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}
void launch(const CpuDeviceRun& d, const double* log_w, const std::int64_t* offset, std::int64_t S, double* lz,
            double* ess, double* mw, int* status) {
  disa::kernels::log_z_hat_cpu_device(log_w, offset, S, lz, ess, mw, status, d.options);
}

template <class Device>
void check_awkward_segments(const Device& device) {
  SCOPED_TRACE(device.name());
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

  typename Device::template Array<double> d_x(x), d_lz(S), d_ess(S), d_mw(S);
  typename Device::template Array<std::int64_t> d_offset(offset);
  typename Device::template Array<int> d_status(S);
  launch(device, d_x.get(), d_offset.get(), S, d_lz.get(), d_ess.get(), d_mw.get(), d_status.get());
  EXPECT_EQ(d_status.host(), status);
  const Tolerance tol{1e-12, 1e-12};
  EXPECT_EQ(compare_values("log_z_hat", d_lz.host(), lz, tol), 0);
  EXPECT_EQ(compare_values("ess", d_ess.host(), ess, tol), 0);
  EXPECT_EQ(compare_values("max_weight", d_mw.host(), mw, tol), 0);
}

TEST(LogZHatGpu, MatchesEstimatorOnAwkwardSegments) {
  DISA_SKIP_WITHOUT_GPU();
  check_awkward_segments(GpuDevice{});
}

TEST(LogZHatCpuDevice, MatchesEstimatorOnAwkwardSegments) {
  for (const CpuDeviceRun& device : disa::kernels_test::cpu_device_orders()) check_awkward_segments(device);
}

TEST(LogZHatCpuDevice, RejectsMoreSegmentsThanAGrid) {
  EXPECT_THROW(disa::kernels::log_z_hat_cpu_device(nullptr, nullptr, -1, nullptr, nullptr, nullptr, nullptr),
               std::invalid_argument);
  EXPECT_THROW(disa::kernels::log_z_hat_cpu_device(nullptr, nullptr, std::int64_t{1} << 31, nullptr, nullptr, nullptr,
                                                   nullptr),
               std::invalid_argument);
}

}  // namespace

// Checker: the GPU segmented log-sum-exp against its CPU reference
// (src/log_sum_exp.h), on seeded random inputs with awkward shapes: empty
// segments, a single element, lengths not a multiple of the block (256), rows of
// -inf, +inf and NaN entries, and a large dynamic range.
// Without a GPU (cudaGetDeviceCount fails, e.g. error 35 with no driver) every
// case is reported as SKIPPED, never passed.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/segmented_log_sum_exp.h"
#include "src/counter_rng.h"

namespace {

void skip_without_gpu() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    GTEST_SKIP() << "no usable GPU: cudaGetDeviceCount returned " << static_cast<int>(err) << " ("
                 << cudaGetErrorString(err) << "), " << count << " device(s)";
  }
}

TEST(SegmentedLogSumExp, MatchesCpuReferenceOnAwkwardShapes) {
  skip_without_gpu();
  if (::testing::Test::IsSkipped()) return;
  const std::vector<std::int64_t> lengths = {0, 1, 2, 31, 32, 33, 255, 256, 257, 1000, 4097, 100000};
  const disa::CounterRng rng(20261123, 0);
  std::vector<double> x;
  std::vector<std::int64_t> offset = {0};
  std::uint64_t draw = 0;
  for (std::int64_t len : lengths) {
    for (std::int64_t i = 0; i < len; ++i) x.push_back(60.0 * rng.normal(draw++));  // wide range of weights
    offset.push_back(static_cast<std::int64_t>(x.size()));
  }
  // Special segments: all -inf, one +inf among finite values, one NaN, -inf mixed in.
  for (const std::vector<double>& seg : std::vector<std::vector<double>>{
           {-INFINITY, -INFINITY, -INFINITY}, {1.0, INFINITY, 2.0}, {1.0, NAN, 2.0}, {-INFINITY, 3.0, -INFINITY, 700.0}}) {
    x.insert(x.end(), seg.begin(), seg.end());
    offset.push_back(static_cast<std::int64_t>(x.size()));
  }
  const std::int64_t S = static_cast<std::int64_t>(offset.size()) - 1;
  std::vector<double> ref(S), got(S);
  disa::kernels::segmented_log_sum_exp_ref(x.data(), offset.data(), S, ref.data());

  double *d_x = nullptr, *d_out = nullptr;
  std::int64_t* d_offset = nullptr;
  ASSERT_EQ(cudaMalloc(&d_x, x.size() * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_offset, offset.size() * sizeof(std::int64_t)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_out, S * sizeof(double)), cudaSuccess);
  cudaMemcpy(d_x, x.data(), x.size() * sizeof(double), cudaMemcpyHostToDevice);
  cudaMemcpy(d_offset, offset.data(), offset.size() * sizeof(std::int64_t), cudaMemcpyHostToDevice);
  ASSERT_EQ(disa::kernels::segmented_log_sum_exp_cuda(d_x, d_offset, S, d_out), 0);
  ASSERT_EQ(cudaMemcpy(got.data(), d_out, S * sizeof(double), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(d_x);
  cudaFree(d_offset);
  cudaFree(d_out);

  int mismatches = 0;
  for (std::int64_t s = 0; s < S; ++s) {
    if (std::isnan(ref[s]) || std::isinf(ref[s])) {
      // Non-finite results must match exactly in kind.
      EXPECT_EQ(std::isnan(got[s]), std::isnan(ref[s])) << "segment " << s;
      if (std::isinf(ref[s])) {
        EXPECT_EQ(got[s], ref[s]) << "segment " << s;
      }
      continue;
    }
    // Double precision, different summation order: a few ulps per term of the
    // sum relative to the result's magnitude, so abs 1e-12 + rel 1e-13.
    const double tol = 1e-12 + 1e-13 * std::fabs(ref[s]);
    if (std::fabs(got[s] - ref[s]) > tol && mismatches++ < 10) {
      ADD_FAILURE() << "segment " << s << ": gpu " << got[s] << " vs cpu " << ref[s];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace

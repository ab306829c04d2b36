// Checker of kernel 1 (kernels/token_logprobs.h) on a GPU and on the CPU device (the
// kernels' own source; tests/kernels/devices.h): forward (logp, lse, entropy)
// and backward (in place, out of place aligned like the logits, out of place misaligned)
// against the CPU reference, fp32 and bf16, on seeded logits with awkward shapes: N = 1,
// V = 1, V not a multiple of the 8-wide vector (so row starts are unaligned), a logits
// buffer that starts off 16-byte alignment, V = 151936 (Qwen), a row of -inf, a row with
// +inf, a row with NaN, a target out of range, rows masked at the float minimum. Tolerance abs + rel * |ref| in fp32
// (forward: the GPU sums ~V/256 terms per thread in fp32) and one bf16 ulp for bf16
// gradients. Without a GPU the GPU cases are SKIPPED; the CPU-device cases always run,
// in three thread orders.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/token_logprobs.h"
#include "tests/kernels/devices.h"
#include "tests/kernels/loss_check.h"

namespace {

using disa::kernels::bf16;
using disa::kernels_test::compare_values;
using disa::kernels_test::CpuDeviceRun;
using disa::kernels_test::GpuDevice;
using disa::kernels_test::Tolerance;

// The launchers, per device (a GPU launch is checked and synchronised here).
template <class Elem>
void forward(const GpuDevice&, const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
             float* logp, float* lse, float* entropy) {
  ASSERT_EQ(disa::kernels::token_logprobs_cuda(logits, target, N, V, logp, lse, entropy), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}
template <class Elem>
void forward(const CpuDeviceRun& d, const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V,
             float* logp, float* lse, float* entropy) {
  disa::kernels::token_logprobs_cpu_device(logits, target, N, V, logp, lse, entropy, d.options);
}
template <class Elem>
void backward(const GpuDevice&, const Elem* logits, const std::int64_t* target, const float* lse, const float* logp,
              const float* g, std::int64_t N, std::int64_t V, Elem* dlogits) {
  ASSERT_EQ(disa::kernels::token_logprobs_backward_cuda(logits, target, lse, logp, g, N, V, dlogits), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}
template <class Elem>
void backward(const CpuDeviceRun& d, const Elem* logits, const std::int64_t* target, const float* lse,
              const float* logp, const float* g, std::int64_t N, std::int64_t V, Elem* dlogits) {
  disa::kernels::token_logprobs_backward_cpu_device(logits, target, lse, logp, g, N, V, dlogits, d.options);
}

template <class Elem>
std::vector<float> as_float(const std::vector<Elem>& x) {
  std::vector<float> f(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) f[i] = disa::kernels::to_float(x[i]);
  return f;
}

struct Shape {
  std::int64_t N, V;
  std::size_t pad;  // elements before the logits: an unaligned buffer start
};

template <class Elem, class Device>
void check_shape(const Device& device, const Shape& s, std::uint64_t seed) {
  const std::int64_t N = s.N, V = s.V;
  SCOPED_TRACE(device.name() + ": N=" + std::to_string(N) + " V=" + std::to_string(V) +
               " pad=" + std::to_string(s.pad));

  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::uniform_int_distribution<std::int64_t> pick(0, V - 1);
  std::vector<Elem> logits(N * V);
  for (auto& x : logits) x = disa::kernels::from_float<Elem>(normal(rng));
  std::vector<std::int64_t> target(N);
  for (auto& t : target) t = pick(rng);
  target[N - 1] = V - 1;  // the last column (the scalar tail when V % 8 != 0)
  // Special rows when there are enough: -inf row, +inf entry, NaN entry, bad target.
  if (N >= 6) {
    for (std::int64_t v = 0; v < V; ++v) logits[1 * V + v] = disa::kernels::from_float<Elem>(-INFINITY);
    logits[2 * V + V / 2] = disa::kernels::from_float<Elem>(INFINITY);
    logits[3 * V + V / 3] = disa::kernels::from_float<Elem>(NAN);
    target[4] = V;
    for (std::int64_t v = 0; v < V; v += 2) logits[5 * V + v] = disa::kernels::from_float<Elem>(-INFINITY);
  }
  // Masking at the dtype's most negative finite value (torch.finfo.min) instead of -inf:
  // all but the last 64 columns of row 6, the first half of row 7.
  if (N >= 8) {
    Elem lowest;
    if constexpr (std::is_same_v<Elem, bf16>) {
      lowest = bf16{std::uint16_t(0xff7f)};  // -3.39e38: float's minimum would round to -inf
    } else {
      lowest = std::numeric_limits<float>::lowest();
    }
    for (std::int64_t v = 0; v + 64 < V; ++v) logits[6 * V + v] = lowest;
    for (std::int64_t v = 0; v < V / 2; ++v) logits[7 * V + v] = lowest;
  }
  std::vector<float> g(N);
  for (auto& x : g) x = normal(rng);

  std::vector<float> ref_logp(N), ref_lse(N), ref_ent(N);
  disa::kernels::token_logprobs_ref(logits.data(), target.data(), N, V, ref_logp.data(), ref_lse.data(),
                                    ref_ent.data());

  using Logits = typename Device::template Array<Elem>;
  using Floats = typename Device::template Array<float>;
  Logits d_logits(logits, s.pad);
  typename Device::template Array<std::int64_t> d_target(target);
  Floats d_logp(N), d_lse(N), d_ent(N), d_g(g);
  ASSERT_TRUE(d_logits.ok() && d_target.ok() && d_logp.ok() && d_lse.ok() && d_ent.ok() && d_g.ok());
  forward(device, d_logits.get(), d_target.get(), N, V, d_logp.get(), d_lse.get(), d_ent.get());
  const std::vector<float> lse = d_lse.host(), logp = d_logp.host();
  EXPECT_EQ(compare_values("logp", logp, ref_logp, Tolerance{1e-4, 1e-5}), 0);
  EXPECT_EQ(compare_values("lse", lse, ref_lse, Tolerance{1e-4, 1e-5}), 0);
  EXPECT_EQ(compare_values("entropy", d_ent.host(), ref_ent, Tolerance{2e-3, 1e-4}), 0);

  // Backward against the reference fed the device's own lse and logp (so only the per-element math differs).
  std::vector<Elem> ref_grad(N * V);
  disa::kernels::token_logprobs_backward_ref(logits.data(), target.data(), lse.data(), logp.data(), g.data(), N, V,
                                             ref_grad.data());
  const Tolerance grad_tol = std::is_same_v<Elem, bf16> ? Tolerance{1e-6, 0x1p-7} : Tolerance{1e-6, 1e-5};
  {  // out of place, same alignment offset as the logits (vector stores)
    Logits d_out(N * V, s.pad);
    backward(device, d_logits.get(), d_target.get(), d_lse.get(), d_logp.get(), d_g.get(), N, V, d_out.get());
    EXPECT_EQ(compare_values("dlogits (out of place)", as_float(d_out.host()), as_float(ref_grad), grad_tol), 0);
  }
  {  // out of place, misaligned relative to the logits (scalar stores)
    Logits d_out(N * V, s.pad + 1);
    backward(device, d_logits.get(), d_target.get(), d_lse.get(), d_logp.get(), d_g.get(), N, V, d_out.get());
    EXPECT_EQ(compare_values("dlogits (misaligned)", as_float(d_out.host()), as_float(ref_grad), grad_tol), 0);
  }
  // In place (last: it overwrites the logits).
  backward(device, d_logits.get(), d_target.get(), d_lse.get(), d_logp.get(), d_g.get(), N, V, d_logits.get());
  EXPECT_EQ(compare_values("dlogits (in place)", as_float(d_logits.host()), as_float(ref_grad), grad_tol), 0);
}

// Confident tokens at large logits: the target sits 20 above a row of N(0, 2) logits, so
// log p = -log(1 + sum e^{x_v - x_t}) is about -5e-4 at V = 32000, and every row is shifted
// by c. log-softmax is shift invariant, so the error may not grow with c: computed as
// x_t - lse it carries lse's rounding, ulp(c)/2 (3e-5 at c = 1000, 1.9e-6 at 40); as
// (x_t - m) - log s, a few ulp of log s (< 1e-7 here) plus s's summation (~1e-7 each of
// a few hundred partial sums near 1): within 1e-6, whatever c. The backward's target
// element g (p_t - 1) = g expm1(log p) inherits that 1e-6 (expm1's slope is p_t <= 1);
// from lse it would carry lse's rounding (up to 3e-5 at c = 1000, 6% of 1 - p_t). The
// other elements, g e^{x_v - lse}, carry lse's rounding as a relative error (<= 3e-5)
// plus ex2's few ulp: 1e-4 relative.
template <class Device>
void check_confident_rows(const Device& device) {
  SCOPED_TRACE(device.name());
  const std::vector<float> offsets = {0.0f, 40.0f, 200.0f, 1000.0f, -1000.0f};
  const std::int64_t V = 32000, N = static_cast<std::int64_t>(offsets.size());
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> base(V);
  for (float& x : base) x = normal(rng);
  base[123] = 20.0f;
  std::vector<float> logits(N * V);
  for (std::int64_t r = 0; r < N; ++r) {
    for (std::int64_t v = 0; v < V; ++v) logits[r * V + v] = base[v] + offsets[r];
  }
  const std::vector<std::int64_t> target(N, 123);
  std::vector<float> ref_logp(N), ref_lse(N), ref_ent(N);
  disa::kernels::token_logprobs_ref(logits.data(), target.data(), N, V, ref_logp.data(), ref_lse.data(),
                                    ref_ent.data());
  for (const float lp : ref_logp) ASSERT_TRUE(lp < -1e-4f && lp > -1e-3f) << lp;  // the regime described above
  using Floats = typename Device::template Array<float>;
  typename Device::template Array<float> d_logits(logits, 0);
  typename Device::template Array<std::int64_t> d_target(target);
  Floats d_logp(N), d_lse(N), d_ent(N);
  ASSERT_TRUE(d_logits.ok() && d_target.ok() && d_logp.ok() && d_lse.ok() && d_ent.ok());
  forward(device, d_logits.get(), d_target.get(), N, V, d_logp.get(), d_lse.get(), d_ent.get());
  EXPECT_EQ(compare_values("logp (confident, shifted rows)", d_logp.host(), ref_logp, Tolerance{1e-6, 1e-4}), 0);

  // Backward with g = 1 against the exact gradient in double (not the reference fed the
  // device's lse: that would share its rounding).
  std::vector<float> g(N, 1.0f);
  Floats d_g(g), d_grad(N * V);
  ASSERT_TRUE(d_g.ok() && d_grad.ok());
  backward(device, d_logits.get(), d_target.get(), d_lse.get(), d_logp.get(), d_g.get(), N, V, d_grad.get());
  const std::vector<float> grad = d_grad.host();
  // softmax is shift invariant: exact values from the unshifted row, relative to its max 20
  double s = 0;
  for (const float x : base) s += std::exp(double(x) - 20.0);
  std::vector<float> got_target(N), want_target(N, float(std::expm1(-std::log(s)))), got_rest, want_rest;
  for (std::int64_t r = 0; r < N; ++r) {
    got_target[r] = grad[r * V + 123];
    for (std::int64_t v = 0; v < V; v += 97) {  // a sample of the other columns
      if (v == 123) continue;
      got_rest.push_back(grad[r * V + v]);
      want_rest.push_back(float(std::exp(double(base[v]) - 20.0) / s));
    }
  }
  EXPECT_EQ(
      compare_values("dlogits at the target (confident, shifted rows)", got_target, want_target, Tolerance{1e-6, 0.0}),
      0);
  EXPECT_EQ(
      compare_values("dlogits off the target (confident, shifted rows)", got_rest, want_rest, Tolerance{0.0, 1e-4}), 0);
}

const std::vector<Shape> kShapes = {
    {1, 1, 0}, {1, 7, 0}, {3, 8, 0}, {7, 9, 0}, {6, 1000, 1}, {8, 4099, 3}, {6, 32000, 0}, {2, 151936, 0},
    {2, 151937, 5},
};

TEST(TokenLogprobsGpu, Float32MatchesReference) {
  DISA_SKIP_WITHOUT_GPU();
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes) check_shape<float>(GpuDevice{}, s, seed++);
}

TEST(TokenLogprobsGpu, ConfidentLogprobsStayExactAtLargeLogits) {
  DISA_SKIP_WITHOUT_GPU();
  check_confident_rows(GpuDevice{});
}

TEST(TokenLogprobsGpu, Bf16MatchesReference) {
  DISA_SKIP_WITHOUT_GPU();
  std::uint64_t seed = 100;
  for (const Shape& s : kShapes) check_shape<bf16>(GpuDevice{}, s, seed++);
}

TEST(TokenLogprobsCpuDevice, Float32MatchesReference) {
  for (const CpuDeviceRun& device : disa::kernels_test::cpu_device_orders()) {
    std::uint64_t seed = 1;
    for (const Shape& s : kShapes) check_shape<float>(device, s, seed++);
  }
}

TEST(TokenLogprobsCpuDevice, Bf16MatchesReference) {
  for (const CpuDeviceRun& device : disa::kernels_test::cpu_device_orders()) {
    std::uint64_t seed = 100;
    for (const Shape& s : kShapes) check_shape<bf16>(device, s, seed++);
  }
}

TEST(TokenLogprobsCpuDevice, ConfidentLogprobsStayExactAtLargeLogits) {
  for (const CpuDeviceRun& device : disa::kernels_test::cpu_device_orders()) check_confident_rows(device);
}

TEST(TokenLogprobsCpuDevice, RejectsBadShapesWithoutLaunching) {
  float* none = nullptr;
  EXPECT_THROW(disa::kernels::token_logprobs_cpu_device<float>(none, nullptr, 1, 0, none, none, none),
               std::invalid_argument);
  EXPECT_THROW(disa::kernels::token_logprobs_cpu_device<float>(none, nullptr, -1, 5, none, none, none),
               std::invalid_argument);
  disa::kernels::token_logprobs_cpu_device<float>(none, nullptr, 0, 5, none, none, none);  // nothing to do
}

TEST(TokenLogprobsGpu, RejectsBadShapesWithoutLaunching) {
  DISA_SKIP_WITHOUT_GPU();
  float* none = nullptr;
  EXPECT_EQ(disa::kernels::token_logprobs_cuda<float>(none, nullptr, 1, 0, none, none, none), cudaErrorInvalidValue);
  EXPECT_EQ(disa::kernels::token_logprobs_cuda<float>(none, nullptr, -1, 5, none, none, none), cudaErrorInvalidValue);
  EXPECT_EQ(disa::kernels::token_logprobs_cuda<float>(none, nullptr, 0, 5, none, none, none), cudaSuccess);
}

}  // namespace

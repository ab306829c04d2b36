// Checker of kernel 2 (kernels/loss_heads.h) on a GPU (compute_loss_cuda, cases *Gpu*,
// SKIPPED without a device) and on the CPU device (compute_loss_cpu_device: the kernels'
// own source, cases *CpuDevice*, in three thread orders, run in CI), from one body:
// against disa::loss::compute_loss on the same seeded batches (tests/kernels/
// loss_batches.h: B = 1, T = 1, fully masked rows, holes, NaN/inf padding, outliers past
// the clamps) for every covered objective and option set and every advantage source,
// float and double: loss, grad_logp, grad_log_z and diagnostics, tolerance
// abs + rel * |ref|, first mismatches printed; and the fallbacks and errors.
#include <cuda_runtime.h>

#include <cmath>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/loss_heads.h"
#include "src/input_error.h"
#include "src/numerical_error.h"
#include "tests/kernels/devices.h"
#include "tests/kernels/loss_batches.h"
#include "tests/kernels/loss_check.h"

namespace {

using namespace disa::kernels_test;
namespace L = disa::loss;

// A device's compute_loss: the result with grad_logp (and grad_log_z) on the host.
template <class Real>
using Run = std::function<L::LossResult<Real>(const L::Objective&, const L::BatchData<Real>&)>;

template <class Real>
L::LossResult<Real> run_on_gpu(const L::Objective& objective, const L::BatchData<Real>& d) {
  const std::size_t B = d.rows, T = d.columns;
  DeviceArray<Real> logp(d.logp), logp_old(d.logp_old), logp_ref(d.logp_ref), mask(d.mask), reward(d.reward),
      log_z(d.log_z), advantages(d.advantages), grad(B * T), grad_log_z(B);
  DeviceArray<std::int64_t> group(d.group);
  disa::kernels::DeviceLossBatch<Real> batch;
  batch.rows = B;
  batch.columns = T;
  batch.logp = logp.get();
  batch.logp_old = d.logp_old.empty() ? nullptr : logp_old.get();
  batch.logp_ref = d.logp_ref.empty() ? nullptr : logp_ref.get();
  batch.mask = mask.get();
  batch.reward = d.reward.empty() ? nullptr : reward.get();
  batch.log_z = d.log_z.empty() ? nullptr : log_z.get();
  batch.group = d.group.empty() ? nullptr : group.get();
  batch.advantages = d.advantages.empty() ? nullptr : advantages.get();
  batch.advantages_size = d.advantages.size();
  L::LossResult<Real> r = disa::kernels::compute_loss_cuda<Real>(objective, batch, grad.get(), grad_log_z.get());
  EXPECT_TRUE(r.grad_logp.empty() && r.grad_log_z.empty());
  r.grad_logp = grad.host();
  if (L::has_log_z_gradient(objective)) r.grad_log_z = grad_log_z.host();
  return r;
}

template <class Real>
Run<Real> on_cpu_device(const CpuDeviceRun& device) {
  return [device](const L::Objective& objective, const L::BatchData<Real>& d) {
    return disa::kernels::compute_loss_cpu_device<Real>(objective, d.view(), device.options);
  };
}

template <class Real>
void check_all(const Run<Real>& run, const std::vector<BatchSpec>& shapes, Tolerance tol) {
  int compared = 0, calls = 0;
  for (const Case& c : covered_cases()) {
    const L::Objective objective = L::make_objective(c.name, c.settings);
    for (BatchSpec spec : shapes) {
      for (Advantages adv : {Advantages::computed, Advantages::per_sequence, Advantages::per_token}) {
        for (bool outliers : {false, true}) {
          spec.advantages = adv;
          spec.outliers = outliers;
          spec.seed += 100;
          const L::BatchData<double> d64 = make_batch(spec);
          L::BatchData<Real> data;
          if constexpr (std::is_same_v<Real, float>) {
            data = to_float(d64);
          } else {
            data = d64;
          }
          SCOPED_TRACE(c.name + " [" + (c.settings.empty() ? "" : c.settings.front()) + "...] B=" +
                       std::to_string(spec.rows) + " T=" + std::to_string(spec.columns) +
                       " adv=" + std::to_string(int(adv)) + (outliers ? " outliers" : ""));
          std::string want_error, got_error;
          L::LossResult<Real> want, got;
          try {
            want = L::compute_loss<Real>(objective, data.view());
          } catch (const std::exception& e) {
            want_error = e.what();
          }
          try {
            got = run(objective, data);
          } catch (const std::exception& e) {
            got_error = e.what();
          }
          ++calls;
          ASSERT_EQ(got_error, want_error);
          if (!want_error.empty()) continue;
          ASSERT_EQ(compare_results(got, want, tol), 0);
          ++compared;
        }
      }
    }
  }
  // Some combinations are errors (e.g. no valid token, importance weights past e^709):
  // most must have been compared.
  EXPECT_GT(compared, calls * 3 / 4);
}

// Uncovered objectives and batches the head rejects fall back (the CPU head then runs
// and names the entry); the heads' own errors come out word for word.
void check_fallbacks_and_errors(const Run<double>& run, const Run<float>& run_float) {
  L::BatchData<double> d = make_batch({4, 5, 9});
  for (const Case& c : std::vector<Case>{{"flowrl", {"weight_clip=cispo"}}, {"sft", {}}, {"kl", {}}}) {
    const L::Objective objective = L::make_objective(c.name, c.settings);
    EXPECT_FALSE(disa::kernels::gpu_loss_unsupported(objective).empty()) << c.name;
    EXPECT_THROW(run(objective, d), disa::kernels::LossFallback) << c.name;
  }
  for (const Case& c : covered_cases())
    EXPECT_EQ(disa::kernels::gpu_loss_unsupported(L::make_objective(c.name, c.settings)), "") << c.name;

  const L::Objective grpo = L::make_objective("grpo");
  std::size_t k = 0;
  while (d.mask[k] == 0) ++k;
  d.logp[k] = std::nan("");
  EXPECT_THROW(run(grpo, d), disa::kernels::LossFallback);
  EXPECT_THROW(L::compute_loss<double>(grpo, d.view()), disa::InputError);
  d = make_batch({4, 5, 10});
  d.logp[k] = INFINITY;
  EXPECT_THROW(run(grpo, d), disa::kernels::LossFallback);
  d = make_batch({4, 5, 10});
  d.mask[3] = 0.5;
  EXPECT_THROW(run(grpo, d), disa::kernels::LossFallback);
  d = make_batch({4, 5, 10});
  d.reward[1] = INFINITY;
  EXPECT_THROW(run(grpo, d), disa::kernels::LossFallback);
  d = make_batch({4, 5, 10});
  d.logp_old.clear();
  EXPECT_THROW(run(grpo, d), disa::kernels::LossFallback);

  // All rows empty: the mean modes' 0/0 is the head's InputError, word for word.
  auto error_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const disa::InputError& e) {
      return e.what();
    } catch (const disa::NumericalError& e) {
      return e.what();
    }
    return "";
  };
  d = make_batch({3, 4, 11});
  for (double& m : d.mask) m = 0;
  const std::string want_empty = error_of([&] { L::compute_loss<double>(grpo, d.view()); });
  EXPECT_FALSE(want_empty.empty());
  EXPECT_EQ(error_of([&] { run(grpo, d); }), want_empty);
  // An importance weight past e^709: the head's NumericalError naming the row.
  d = make_batch({3, 4, 12});
  for (std::size_t i = 0; i < d.mask.size(); ++i)
    if (d.mask[i] != 0) d.logp_old[i] = d.logp[i] - 800.0;
  const L::Objective tb = L::make_objective("tb", {"weight=importance"});
  const std::string want_weight = error_of([&] { L::compute_loss<double>(tb, d.view()); });
  EXPECT_FALSE(want_weight.empty());
  EXPECT_EQ(error_of([&] { run(tb, d); }), want_weight);

  // A gradient entry that overflows float though the (double) loss is finite: one token,
  // |advantage| 3.3e38 given per sequence, ratio 1.1, so the entry is about -+3.63e38
  // (+-inf in float). The head's NumericalError naming row 0, token 0, not an inf.
  struct Overflow {
    const char* name;
    double advantage;
  };
  for (const Overflow& o : {Overflow{"grpo", 3.3e38}, Overflow{"gspo", -3.3e38}}) {
    SCOPED_TRACE(o.name);
    L::BatchData<float> f;
    f.rows = 1;
    f.columns = 1;
    f.logp = {-1.0f};
    f.logp_old = {float(-1.0 - std::log(1.1))};
    f.mask = {1.0f};
    f.advantages = {float(o.advantage)};
    const L::Objective objective = L::make_objective(o.name);
    const std::string want = error_of([&] { L::compute_loss<float>(objective, f.view()); });
    EXPECT_NE(want.find("the gradient at row 0, token 0 is"), std::string::npos) << want;
    EXPECT_EQ(error_of([&] { run_float(objective, f); }), want);
  }
}

// The GPU also gets long rows (blocks striding past 128 threads many times).
const std::vector<BatchSpec> kGpuShapes = {{1, 1, 1},   {1, 9, 2},   {5, 1, 3},     {6, 7, 4},
                                           {16, 33, 5}, {9, 300, 6}, {64, 1025, 7}, {3, 8192, 8}};
const std::vector<BatchSpec> kCpuDeviceShapes = {{1, 1, 1}, {1, 9, 2}, {5, 1, 3}, {6, 7, 4}, {16, 33, 5}, {9, 130, 6}};

TEST(LossHeadsGpu, MatchesComputeLossInDouble) {
  DISA_SKIP_WITHOUT_GPU();
  check_all<double>(run_on_gpu<double>, kGpuShapes, {1e-12, 1e-10});
}

TEST(LossHeadsGpu, MatchesComputeLossInFloat) {
  DISA_SKIP_WITHOUT_GPU();
  check_all<float>(run_on_gpu<float>, kGpuShapes, {1e-6, 1e-5});
}

TEST(LossHeadsGpu, FallbacksAndErrorsMatchTheHeads) {
  DISA_SKIP_WITHOUT_GPU();
  check_fallbacks_and_errors(run_on_gpu<double>, run_on_gpu<float>);
}

TEST(LossHeadsCpuDevice, MatchesComputeLossInDouble) {
  for (const CpuDeviceRun& device : cpu_device_orders()) {
    SCOPED_TRACE(device.name());
    check_all<double>(on_cpu_device<double>(device), kCpuDeviceShapes, {1e-12, 1e-10});
  }
}

TEST(LossHeadsCpuDevice, MatchesComputeLossInFloat) {
  for (const CpuDeviceRun& device : cpu_device_orders()) {
    SCOPED_TRACE(device.name());
    check_all<float>(on_cpu_device<float>(device), kCpuDeviceShapes, {1e-6, 1e-5});
  }
}

TEST(LossHeadsCpuDevice, FallbacksAndErrorsMatchTheHeads) {
  check_fallbacks_and_errors(on_cpu_device<double>(cpu_device_orders().front()),
                             on_cpu_device<float>(cpu_device_orders().front()));
}

}  // namespace

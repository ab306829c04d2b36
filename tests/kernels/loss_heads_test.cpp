// Checker of kernel 2 (kernels/loss_heads.h) on a GPU: compute_loss_cuda against
// disa::loss::compute_loss on the same seeded batches (tests/kernels/loss_batches.h:
// B = 1, T = 1, fully masked rows, holes, NaN/inf padding, outliers past the clamps) for
// every covered objective and option set and every advantage source, float and double:
// loss, grad_logp, grad_log_z and diagnostics, tolerance abs + rel * |ref|, first
// mismatches printed. Without a GPU every case is SKIPPED.
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include "kernels/loss_heads.h"
#include "tests/kernels/gpu_skip.h"
#include "tests/kernels/loss_batches.h"
#include "tests/kernels/loss_check.h"

namespace {

using namespace disa::kernels_test;
namespace L = disa::loss;

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
void check_all(Tolerance tol) {
  const std::vector<BatchSpec> shapes = {{1, 1, 1},   {1, 9, 2},    {5, 1, 3},     {6, 7, 4},
                                         {16, 33, 5}, {9, 300, 6},  {64, 1025, 7}, {3, 8192, 8}};
  int compared = 0;
  for (const Case& c : covered_cases()) {
    const L::Objective objective = L::make_objective(c.name, c.settings);
    for (BatchSpec spec : shapes) {
      for (Advantages adv : {Advantages::computed, Advantages::per_sequence, Advantages::per_token}) {
        spec.advantages = adv;
        spec.outliers = spec.seed % 2 == 0;
        spec.seed += 1000;
        const L::BatchData<double> d64 = make_batch(spec);
        L::BatchData<Real> data;
        if constexpr (std::is_same_v<Real, float>) {
          data = to_float(d64);
        } else {
          data = d64;
        }
        SCOPED_TRACE(c.name + " [" + (c.settings.empty() ? "" : c.settings.front()) + "...] B=" +
                     std::to_string(spec.rows) + " T=" + std::to_string(spec.columns) +
                     " adv=" + std::to_string(int(adv)));
        std::string want_error, got_error;
        L::LossResult<Real> want, got;
        try {
          want = L::compute_loss<Real>(objective, data.view());
        } catch (const std::exception& e) {
          want_error = e.what();
        }
        try {
          got = run_on_gpu(objective, data);
        } catch (const std::exception& e) {
          got_error = e.what();
        }
        ASSERT_EQ(got_error, want_error);
        if (!want_error.empty()) continue;
        ASSERT_EQ(compare_results(got, want, tol), 0);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 100);
}

TEST(LossHeadsGpu, MatchesComputeLossInDouble) {
  DISA_SKIP_WITHOUT_GPU();
  check_all<double>({1e-12, 1e-10});
}

TEST(LossHeadsGpu, MatchesComputeLossInFloat) {
  DISA_SKIP_WITHOUT_GPU();
  check_all<float>({1e-6, 1e-5});
}

TEST(LossHeadsGpu, UncoveredAndRejectedCallsFallBack) {
  DISA_SKIP_WITHOUT_GPU();
  L::BatchData<double> d = make_batch({4, 5, 9});
  EXPECT_THROW(run_on_gpu(L::make_objective("flowrl", {"weight_clip=cispo"}), d), disa::kernels::LossFallback);
  EXPECT_THROW(run_on_gpu(L::make_objective("sft"), d), disa::kernels::LossFallback);
  std::size_t k = 0;
  while (d.mask[k] == 0) ++k;
  d.logp[k] = INFINITY;
  EXPECT_THROW(run_on_gpu(L::make_objective("grpo"), d), disa::kernels::LossFallback);
}

}  // namespace

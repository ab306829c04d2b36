// Checker of kernel 2 on the CPU device: disa::kernels::compute_loss_cpu_device (the
// kernels' own source on kernels/cpu_device.h, under the GPU's driver) against
// disa::loss::compute_loss on seeded batches, in three thread orders, for every covered objective
// and option set, float and double, with awkward shapes (B = 1, T = 1, fully masked
// rows, holes, outliers past the clamps); and the fallbacks and errors.
#include <string>

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

const std::vector<BatchSpec> kShapes = {
    {1, 1, 1}, {1, 9, 2}, {5, 1, 3}, {6, 7, 4}, {16, 33, 5}, {9, 130, 6},
};

template <class Real>
void check_all(const CpuDeviceRun& device, Tolerance tol) {
  SCOPED_TRACE(device.name());
  int cases = 0;
  for (const Case& c : covered_cases()) {
    const L::Objective objective = L::make_objective(c.name, c.settings);
    for (BatchSpec spec : kShapes) {
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
          const L::LossBatch<Real> batch = data.view();
          SCOPED_TRACE(c.name + " [" + (c.settings.empty() ? "" : c.settings.front()) + "...] B=" +
                       std::to_string(spec.rows) + " T=" + std::to_string(spec.columns) +
                       " adv=" + std::to_string(int(adv)) + (outliers ? " outliers" : ""));
          std::string want_error, got_error;
          L::LossResult<Real> want, got;
          try {
            want = L::compute_loss<Real>(objective, batch);
          } catch (const std::exception& e) {
            want_error = e.what();
          }
          try {
            got = disa::kernels::compute_loss_cpu_device<Real>(objective, batch, device.options);
          } catch (const std::exception& e) {
            got_error = e.what();
          }
          ASSERT_EQ(got_error, want_error);
          if (!want_error.empty()) continue;
          ASSERT_EQ(compare_results(got, want, tol), 0);
          ++cases;
        }
      }
    }
  }
  // Some combinations are errors (e.g. no valid token, importance weights past e^709):
  // most must have been compared.
  EXPECT_GT(cases, int(covered_cases().size() * kShapes.size() * 3 * 2 * 3 / 4));
}

TEST(LossHeadsCpuDevice, MatchesComputeLossInDouble) {
  for (const CpuDeviceRun& device : cpu_device_orders()) check_all<double>(device, {1e-12, 1e-10});
}
TEST(LossHeadsCpuDevice, MatchesComputeLossInFloat) {
  for (const CpuDeviceRun& device : cpu_device_orders()) check_all<float>(device, {1e-6, 1e-5});
}

TEST(LossHeadsCpuDevice, UncoveredObjectivesFallBack) {
  const L::BatchData<double> d = make_batch({4, 5, 9});
  for (const Case& c : std::vector<Case>{{"flowrl", {"weight_clip=cispo"}}, {"sft", {}}, {"kl", {}}}) {
    const L::Objective objective = L::make_objective(c.name, c.settings);
    EXPECT_FALSE(disa::kernels::gpu_loss_unsupported(objective).empty()) << c.name;
    EXPECT_THROW(disa::kernels::compute_loss_cpu_device<double>(objective, d.view()), disa::kernels::LossFallback)
        << c.name;
  }
  for (const Case& c : covered_cases())
    EXPECT_EQ(disa::kernels::gpu_loss_unsupported(L::make_objective(c.name, c.settings)), "") << c.name;
}

TEST(LossHeadsCpuDevice, RejectedBatchesFallBackSoTheHeadNamesTheEntry) {
  const L::Objective objective = L::make_objective("grpo");
  L::BatchData<double> d = make_batch({4, 5, 10});
  std::size_t k = 0;
  while (d.mask[k] == 0) ++k;
  d.logp[k] = std::nan("");
  EXPECT_THROW(disa::kernels::compute_loss_cpu_device<double>(objective, d.view()), disa::kernels::LossFallback);
  EXPECT_THROW(L::compute_loss<double>(objective, d.view()), disa::InputError);
  d = make_batch({4, 5, 10});
  d.mask[3] = 0.5;
  EXPECT_THROW(disa::kernels::compute_loss_cpu_device<double>(objective, d.view()), disa::kernels::LossFallback);
  d = make_batch({4, 5, 10});
  d.reward[1] = INFINITY;
  EXPECT_THROW(disa::kernels::compute_loss_cpu_device<double>(objective, d.view()), disa::kernels::LossFallback);
  d = make_batch({4, 5, 10});
  d.logp_old.clear();
  EXPECT_THROW(disa::kernels::compute_loss_cpu_device<double>(objective, d.view()), disa::kernels::LossFallback);
}

TEST(LossHeadsCpuDevice, ErrorsMatchTheHeads) {
  // All rows empty: the mean modes' 0/0 is the head's InputError, word for word.
  L::BatchData<double> d = make_batch({3, 4, 11});
  for (double& m : d.mask) m = 0;
  const L::Objective grpo = L::make_objective("grpo");
  std::string want, got;
  try {
    L::compute_loss<double>(grpo, d.view());
  } catch (const disa::InputError& e) {
    want = e.what();
  }
  try {
    disa::kernels::compute_loss_cpu_device<double>(grpo, d.view());
  } catch (const disa::InputError& e) {
    got = e.what();
  }
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
  // An importance weight past e^709: the head's NumericalError naming the row.
  d = make_batch({3, 4, 12});
  for (std::size_t k = 0; k < d.mask.size(); ++k)
    if (d.mask[k] != 0) d.logp_old[k] = d.logp[k] - 800.0;
  const L::Objective tb = L::make_objective("tb", {"weight=importance"});
  want.clear();
  got.clear();
  try {
    L::compute_loss<double>(tb, d.view());
  } catch (const disa::NumericalError& e) {
    want = e.what();
  }
  try {
    disa::kernels::compute_loss_cpu_device<double>(tb, d.view());
  } catch (const disa::NumericalError& e) {
    got = e.what();
  }
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

}  // namespace

// The torch glue of the kernels (kernels/torch_kernels.h) and the loss adapter's kernel
// path (llm/loss_autograd.cpp), against LibTorch eager ops and the adapter's CPU path
// on the same data, on two devices from one body: CUDA tensors on the GPU (cases *Gpu*,
// SKIPPED without a CUDA LibTorch and device) and CPU tensors inside a CpuDeviceScope,
// which runs the kernels' own source on the CPU device (cases *CpuDevice*, run in CI).
// The host-side input checks run everywhere.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "kernels/torch_kernels.h"
#include "llm/loss_autograd.h"
#include "src/input_error.h"

namespace {

using disa::kernels::CpuDeviceScope;

#define SKIP_WITHOUT_TORCH_CUDA()                                                                   \
  do {                                                                                              \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch: skipped"; \
  } while (0)

void token_logprobs_match_eager(torch::Device device) {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const torch::Tensor logits = (3 * torch::randn({2, 5, 1003}, device)).to(dtype).requires_grad_(true);
    const torch::Tensor target =
        torch::randint(0, 1003, {2, 5}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    const torch::Tensor want =
        torch::log_softmax(logits.to(torch::kFloat32), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1);
    const torch::Tensor got = disa::kernels::token_logprobs_autograd(logits, target);
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-4)) << (got - want).abs().max().item<float>();
    const torch::Tensor w = torch::randn_like(want);
    const torch::Tensor g_want = torch::autograd::grad({want}, {logits}, {w})[0].to(torch::kFloat32);
    const torch::Tensor g_got = torch::autograd::grad({got}, {logits}, {w})[0].to(torch::kFloat32);
    const double rtol = dtype == torch::kBFloat16 ? 1e-2 : 1e-5;
    EXPECT_TRUE(torch::allclose(g_got, g_want, rtol, 1e-5)) << (g_got - g_want).abs().max().item<float>();

    // Entropy, and the backward in place and into a given buffer.
    const torch::Tensor x = logits.detach();
    const auto r = disa::kernels::token_logprobs(x, target, /*with_entropy=*/true);
    const torch::Tensor p = torch::softmax(x.to(torch::kFloat32), -1);
    const torch::Tensor h_want = -(p * torch::log_softmax(x.to(torch::kFloat32), -1)).sum(-1);
    EXPECT_TRUE(torch::allclose(r.entropy, h_want, 1e-4, 1e-3)) << (r.entropy - h_want).abs().max().item<float>();
    const torch::Tensor fresh = disa::kernels::token_logprobs_backward(x, target, r.lse, r.logp, w);
    torch::Tensor buffer = torch::empty_like(x);
    disa::kernels::token_logprobs_backward(x, target, r.lse, r.logp, w, buffer);
    EXPECT_TRUE(torch::equal(buffer, fresh));
    torch::Tensor in_place = x.clone();
    disa::kernels::token_logprobs_backward(in_place, target, r.lse, r.logp, w, in_place);
    EXPECT_TRUE(torch::equal(in_place, fresh));
    try {
      disa::kernels::token_logprobs_backward(x, target, r.lse, r.logp.flatten().slice(0, 0, 3), w);
      ADD_FAILURE() << "a logp of the wrong size was accepted";
    } catch (const disa::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("logp has 3 entries, target has 10"), std::string::npos) << e.what();
    }
  }
  const torch::Tensor logits = torch::randn({2, 7}, device);
  const torch::Tensor bad = torch::tensor({1, 7}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  try {
    disa::kernels::token_logprobs(logits, bad);
    ADD_FAILURE() << "an out-of-range target was accepted";
  } catch (const disa::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("target[1] = 7 is outside [0, 7)"), std::string::npos) << e.what();
  }
}

void log_z_hat_matches_log_sum_exp(torch::Device device) {
  torch::manual_seed(3);
  const torch::Tensor log_w = 10 * torch::randn({1000}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  const torch::Tensor offset = torch::tensor({0, 1, 300, 1000}, torch::kInt64);
  const auto r = disa::kernels::log_z_hat(log_w, offset);
  for (auto [s, begin, end] : {std::tuple{0, 0, 1}, std::tuple{1, 1, 300}, std::tuple{2, 300, 1000}}) {
    const torch::Tensor seg = log_w.slice(0, begin, end);
    const double want = (torch::logsumexp(seg, 0) - std::log(double(end - begin))).item<double>();
    EXPECT_NEAR(r.log_z_hat[s].item<double>(), want, 1e-12 * (1 + std::fabs(want))) << s;
    const torch::Tensor w = torch::exp(seg - seg.max());
    const double ess = (w.sum().pow(2) / w.pow(2).sum()).item<double>();
    EXPECT_NEAR(r.ess[s].item<double>(), ess, 1e-10 * ess) << s;
  }
  EXPECT_THROW(disa::kernels::log_z_hat(log_w, torch::tensor({0, 0}, torch::kInt64)), disa::InputError);
}

// cpu_device: run the kernel side in a CpuDeviceScope with these options (the reference
// side, on CPU tensors too, must stay outside it).
void loss_adapter_matches_the_cpu_path(torch::Device device,
                                       std::optional<disa::kernels::cpu_device::LaunchOptions> cpu_device = {}) {
  torch::manual_seed(2);
  const std::int64_t B = 6, T = 40;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor logp = -torch::rand({B, T}, f64) - 0.01;
  const torch::Tensor mask = (torch::rand({B, T}, f64) < 0.8).to(torch::kFloat64);
  disa::llm::LossTensors cpu{.logp = logp.clone().requires_grad_(true),
                             .logp_old = logp + 0.1 * torch::randn({B, T}, f64),
                             .logp_ref = logp + 0.3 * torch::randn({B, T}, f64),
                             .mask = mask,
                             .reward = (torch::rand({B}, f64) < 0.5).to(torch::kFloat64),
                             .group = torch::tensor({0, 0, 1, 1, 2, 2}, torch::kInt64),
                             .log_z = torch::randn({B}, f64).requires_grad_(true),
                             .advantages = {}};
  auto on = [&](const torch::Tensor& t) { return t.detach().to(device).clone(); };
  disa::llm::LossTensors kernel{on(cpu.logp).requires_grad_(true), on(cpu.logp_old), on(cpu.logp_ref), on(cpu.mask),
                                on(cpu.reward), on(cpu.group), on(cpu.log_z).requires_grad_(true), {}};
  for (const char* name : {"tb", "flowrl", "grpo", "gspo"}) {
    const auto objective = disa::loss::make_objective(name);
    for (disa::llm::LossTensors* in : {&cpu, &kernel}) {
      in->logp.mutable_grad() = torch::Tensor();
      in->log_z.mutable_grad() = torch::Tensor();
    }
    const torch::Tensor lc = disa::llm::loss(objective, cpu);
    torch::Tensor lk;
    if (cpu_device) {
      CpuDeviceScope scope(*cpu_device);
      const std::uint64_t before = disa::kernels::cpu_device::launch_count();
      lk = disa::llm::loss(objective, kernel);
      // Both passes ran on the CPU device: the kernel path was taken, not the CPU head.
      EXPECT_EQ(disa::kernels::cpu_device::launch_count() - before, 2u) << name;
    } else {
      lk = disa::llm::loss(objective, kernel);
    }
    lc.backward();
    lk.backward();
    EXPECT_NEAR(lk.item<double>(), lc.item<double>(), 1e-12 + 1e-10 * std::fabs(lc.item<double>())) << name;
    EXPECT_TRUE(torch::allclose(kernel.logp.grad().cpu(), cpu.logp.grad(), 1e-10, 1e-12)) << name;
    if (cpu.log_z.grad().defined()) {
      EXPECT_TRUE(torch::allclose(kernel.log_z.grad().cpu(), cpu.log_z.grad(), 1e-10, 1e-12)) << name;
    }
  }
}

TEST(TorchKernelsGpu, TokenLogprobsMatchEagerLogSoftmaxAndAutograd) {
  SKIP_WITHOUT_TORCH_CUDA();
  token_logprobs_match_eager(torch::kCUDA);
}

TEST(TorchKernelsGpu, LogZHatMatchesLogSumExp) {
  SKIP_WITHOUT_TORCH_CUDA();
  log_z_hat_matches_log_sum_exp(torch::kCUDA);
}

TEST(TorchKernelsGpu, LossAdapterOnCudaMatchesTheCpuPath) {
  SKIP_WITHOUT_TORCH_CUDA();
  loss_adapter_matches_the_cpu_path(torch::kCUDA);
}

TEST(TorchKernelsCpuDevice, HostTensorsOutsideAScopeAreAnInputError) {
  const torch::Tensor logits = torch::randn({3, 5});
  const torch::Tensor target = torch::zeros({3}, torch::kInt64);
  EXPECT_FALSE(CpuDeviceScope::active());
  EXPECT_THROW(disa::kernels::token_logprobs(logits, target), disa::InputError);
  EXPECT_THROW(disa::kernels::log_z_hat(torch::zeros({4}, torch::kFloat64), torch::tensor({0, 4})),
               disa::InputError);
  {
    CpuDeviceScope outer;
    {
      CpuDeviceScope inner({disa::kernels::cpu_device::Order::reverse, 0});
      EXPECT_TRUE(CpuDeviceScope::active());
    }
    EXPECT_TRUE(CpuDeviceScope::active());
    EXPECT_NO_THROW(disa::kernels::token_logprobs(logits, target));
  }
  EXPECT_FALSE(CpuDeviceScope::active());
}

TEST(TorchKernelsCpuDevice, TokenLogprobsMatchEagerLogSoftmaxAndAutograd) {
  CpuDeviceScope scope({disa::kernels::cpu_device::Order::shuffled, 11});
  const std::uint64_t before = disa::kernels::cpu_device::launch_count();
  token_logprobs_match_eager(torch::kCPU);
  EXPECT_EQ(disa::kernels::cpu_device::launch_count() - before, 2u * 6u);  // per dtype: 2 forward, 4 backward
}

TEST(TorchKernelsCpuDevice, LogZHatMatchesLogSumExp) {
  CpuDeviceScope scope;
  log_z_hat_matches_log_sum_exp(torch::kCPU);
}

TEST(TorchKernelsCpuDevice, LossAdapterOnTheCpuDeviceMatchesTheCpuPath) {
  loss_adapter_matches_the_cpu_path(torch::kCPU, disa::kernels::cpu_device::LaunchOptions{
                                                     disa::kernels::cpu_device::Order::reverse, 0});
}

TEST(TorchKernelsCpuDevice, LossHeadsRefuseFieldsOfAnotherSizeByName) {
  // The kernel reads each field at the batch's sizes: another size is refused before launch.
  CpuDeviceScope scope;
  const std::int64_t B = 3, T = 5;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor logp = -torch::rand({B, T}, f64), mask = torch::ones({B, T}, f64), ref = logp - 0.1;
  const torch::Tensor reward = torch::ones({B}, f64), log_z = torch::zeros({B}, f64);
  const auto tb = disa::loss::make_objective("tb");
  const std::uint64_t before = disa::kernels::cpu_device::launch_count();
  auto message = [&](const torch::Tensor& m, const torch::Tensor& r, const torch::Tensor& z,
                     const torch::Tensor& adv) -> std::string {
    try {
      disa::kernels::loss_heads(tb, logp, {}, ref, m, r, {}, z, adv);
    } catch (const disa::InputError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message(torch::ones({B, T - 1}, f64), reward, log_z, {}),
            "disa::kernels::loss_heads: mask has 12 entries; logp is 3 x 5, so it needs 15");
  EXPECT_EQ(message(mask, torch::ones({B + 1}, f64), log_z, {}),
            "disa::kernels::loss_heads: reward has 4 entries; logp is 3 x 5, so it needs 3");
  EXPECT_EQ(message(mask, reward, torch::zeros({1}, f64), {}),
            "disa::kernels::loss_heads: log_z has 1 entries; logp is 3 x 5, so it needs 3");
  EXPECT_EQ(message(mask, reward, log_z, torch::zeros({7}, f64)),
            "disa::kernels::loss_heads: advantages has 7 entries; logp is 3 x 5, so it needs 3 or 15");
  EXPECT_EQ(disa::kernels::cpu_device::launch_count(), before);
  // The right sizes run (two launches: the passes of the head).
  const auto r = disa::kernels::loss_heads(tb, logp, {}, ref, mask, reward, {}, log_z, {});
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_EQ(disa::kernels::cpu_device::launch_count() - before, 2u);
}

}  // namespace

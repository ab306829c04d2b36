// The torch glue of the kernels (kernels/torch_kernels.h) and the loss adapter's GPU
// path (llm/loss_autograd.cpp) on CUDA tensors, against LibTorch eager ops and the CPU
// path on the same data. Without a CUDA LibTorch and device the GPU cases are SKIPPED;
// the host-side input checks run everywhere.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "kernels/torch_kernels.h"
#include "llm/loss_autograd.h"
#include "src/input_error.h"

namespace {

#define SKIP_WITHOUT_TORCH_CUDA()                                                                   \
  do {                                                                                              \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch: skipped"; \
  } while (0)

TEST(TorchKernels, RejectsHostTensorsWithAnInputError) {
  const torch::Tensor logits = torch::randn({3, 5});
  const torch::Tensor target = torch::zeros({3}, torch::kInt64);
  EXPECT_THROW(disa::kernels::token_logprobs(logits, target), disa::InputError);
  EXPECT_THROW(disa::kernels::log_z_hat(torch::zeros({4}, torch::kFloat64), torch::tensor({0, 4})),
               disa::InputError);
}

TEST(TorchKernels, TokenLogprobsMatchEagerLogSoftmaxAndAutograd) {
  SKIP_WITHOUT_TORCH_CUDA();
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const torch::Tensor logits = (3 * torch::randn({2, 5, 1003}, torch::kCUDA)).to(dtype).requires_grad_(true);
    const torch::Tensor target =
        torch::randint(0, 1003, {2, 5}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
    const torch::Tensor want =
        torch::log_softmax(logits.to(torch::kFloat32), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1);
    const torch::Tensor got = disa::kernels::token_logprobs_autograd(logits, target);
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-4)) << (got - want).abs().max().item<float>();
    const torch::Tensor w = torch::randn_like(want);
    const torch::Tensor g_want = torch::autograd::grad({want}, {logits}, {w})[0].to(torch::kFloat32);
    const torch::Tensor g_got = torch::autograd::grad({got}, {logits}, {w})[0].to(torch::kFloat32);
    const double rtol = dtype == torch::kBFloat16 ? 1e-2 : 1e-5;
    EXPECT_TRUE(torch::allclose(g_got, g_want, rtol, 1e-5)) << (g_got - g_want).abs().max().item<float>();
  }
  const torch::Tensor logits = torch::randn({2, 7}, torch::kCUDA);
  const torch::Tensor bad = torch::tensor({1, 7}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
  EXPECT_THROW(disa::kernels::token_logprobs(logits, bad), disa::InputError);
}

TEST(TorchKernels, LogZHatMatchesLogSumExp) {
  SKIP_WITHOUT_TORCH_CUDA();
  const torch::Tensor log_w = 10 * torch::randn({1000}, torch::TensorOptions().dtype(torch::kFloat64).device(torch::kCUDA));
  const torch::Tensor offset = torch::tensor({0, 1, 300, 1000}, torch::kInt64);
  const auto r = disa::kernels::log_z_hat(log_w, offset);
  const auto seg = log_w.slice(0, 1, 300);
  const double want = (torch::logsumexp(seg, 0) - std::log(299.0)).item<double>();
  EXPECT_NEAR(r.log_z_hat[1].item<double>(), want, 1e-12 * (1 + std::fabs(want)));
  EXPECT_THROW(disa::kernels::log_z_hat(log_w, torch::tensor({0, 0}, torch::kInt64)), disa::InputError);
}

TEST(TorchKernels, LossAdapterOnCudaMatchesTheCpuPath) {
  SKIP_WITHOUT_TORCH_CUDA();
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
  disa::llm::LossTensors gpu;
  auto cuda = [](const torch::Tensor& t) { return t.detach().to(torch::kCUDA); };
  gpu = {cuda(cpu.logp).requires_grad_(true), cuda(cpu.logp_old), cuda(cpu.logp_ref), cuda(cpu.mask),
         cuda(cpu.reward), cuda(cpu.group), cuda(cpu.log_z).requires_grad_(true), {}};
  for (const char* name : {"tb", "flowrl", "grpo", "gspo"}) {
    const auto objective = disa::loss::make_objective(name);
    cpu.logp.mutable_grad() = torch::Tensor();
    cpu.log_z.mutable_grad() = torch::Tensor();
    gpu.logp.mutable_grad() = torch::Tensor();
    gpu.log_z.mutable_grad() = torch::Tensor();
    const torch::Tensor lc = disa::llm::loss(objective, cpu);
    const torch::Tensor lg = disa::llm::loss(objective, gpu);
    lc.backward();
    lg.backward();
    EXPECT_NEAR(lg.item<double>(), lc.item<double>(), 1e-12 + 1e-10 * std::fabs(lc.item<double>())) << name;
    EXPECT_TRUE(torch::allclose(gpu.logp.grad().cpu(), cpu.logp.grad(), 1e-10, 1e-12)) << name;
    if (cpu.log_z.grad().defined()) {
      EXPECT_TRUE(torch::allclose(gpu.log_z.grad().cpu(), cpu.log_z.grad(), 1e-10, 1e-12)) << name;
    }
  }
}

}  // namespace
